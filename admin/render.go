package admin

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// pages is one area's templates (public or admin): each page is parsed
// together with the area's layout.html, at startup.
type pages struct {
	dir string
	m   map[string]*template.Template
	// privacy, when set, gives every page's view its privacy-policy URL.
	privacy func() string
}

var templateFuncs = template.FuncMap{"label": label}

// label turns an attribute name into a form label: "first_name" → "First name".
func label(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parsePages parses dir/layout.html with every other dir/*.html.
func parsePages(fsys fs.FS, dir string) (*pages, error) {
	files, err := fs.Glob(fsys, dir+"/*.html")
	if err != nil {
		return nil, err
	}
	layout := dir + "/layout.html"
	p := &pages{dir: dir, m: make(map[string]*template.Template)}
	for _, f := range files {
		if f == layout {
			continue
		}
		name := strings.TrimSuffix(path.Base(f), ".html")
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(fsys, layout, f)
		if err != nil {
			return nil, fmt.Errorf("admin: parse %s: %w", f, err)
		}
		p.m[name] = t
	}
	if len(p.m) == 0 {
		return nil, fmt.Errorf("admin: no templates in %s/", dir)
	}
	return p, nil
}

// render executes page name into a buffer, then writes it with status, so
// a template error never leaves a half-written page.
func (p *pages) render(w http.ResponseWriter, status int, name string, data any) error {
	t := p.m[name]
	if t == nil {
		return fmt.Errorf("admin: no template %s/%s", p.dir, name)
	}
	if v, ok := data.(view); ok && p.privacy != nil && v.PrivacyURL == "" {
		v.PrivacyURL = p.privacy()
		data = v
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("admin: render %s/%s: %w", p.dir, name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// view is what every page's template receives.
type view struct {
	// Title is the page title (and the main heading, usually).
	Title string
	// Data is the page's own data.
	Data any
	// Notice and Error are short messages shown above the content.
	Notice string
	Error  string
	// PrivacyURL is the privacy policy, linked from every public page.
	PrivacyURL string

	// Admin pages only.
	User   string
	Role   string
	CSRF   string
	Outbox bool
	Nav    string
}
