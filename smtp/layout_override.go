package smtp

import (
	"crypto/sha256"
	"encoding/hex"
	htmltemplate "html/template"
	"io/fs"
	"strings"
	texttemplate "text/template"

	"github.com/bulletin/bulletin/list"
)

// A custom campaign layout (list.Message.Layout) replaces the layouts of
// mail/layout.html and mail/layout.txt for that message. It is parsed once
// per version, together with the campaign's templates (the cache key holds
// both), and gets the same Data and functions as the default layouts. The
// builder's footer rule still applies: a layout that drops the postal
// address or the unsubscribe link gets them appended (footer.go).

// Names of the custom layout templates, as their errors report them.
const (
	customHTMLName = "layout.html"
	customTextName = "layout.txt"
)

// layoutTemplates are a custom layout's parsed templates; a nil part means
// the default layout for that part.
type layoutTemplates struct {
	html *htmltemplate.Template
	text *texttemplate.Template
}

// layoutVersion is the cache key of l: its Version, or a hash of its
// content when it has none. "" stands for the default layouts.
func layoutVersion(l *list.Layout) string {
	if l == nil || l.Empty() {
		return ""
	}
	if l.Version != "" {
		return l.Version
	}
	h := sha256.New()
	h.Write([]byte(l.HTML))
	h.Write([]byte{0})
	h.Write([]byte(l.Text))
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// parseLayout parses a custom layout; it returns nil for none. A part that
// does not parse is a *TemplateError naming the part and the line.
func parseLayout(l *list.Layout) (*layoutTemplates, error) {
	if l == nil || l.Empty() {
		return nil, nil
	}
	t := &layoutTemplates{}
	var err error
	if strings.TrimSpace(l.HTML) != "" {
		if t.html, err = htmltemplate.New(customHTMLName).Funcs(funcs).Option("missingkey=zero").Parse(l.HTML); err != nil {
			return nil, &TemplateError{Part: customHTMLName, Err: err}
		}
	}
	if strings.TrimSpace(l.Text) != "" {
		if t.text, err = texttemplate.New(customTextName).Funcs(funcs).Option("missingkey=zero").Parse(l.Text); err != nil {
			return nil, &TemplateError{Part: customTextName, Err: err}
		}
	}
	return t, nil
}

// layouts returns the layouts to wrap a message in: the custom ones of t
// where set, else the defaults.
func (s *Sender) layouts(t *layoutTemplates) (html, text executor) {
	html, text = s.tmpl.layoutHTML, s.tmpl.layoutText
	if t == nil {
		return html, text
	}
	if t.html != nil {
		html = t.html
	}
	if t.text != nil {
		text = t.text
	}
	return html, text
}

// DefaultLayout returns the source of the default campaign layouts
// (mail/layout.html and mail/layout.txt), for an editor to start from.
func (s *Sender) DefaultLayout() list.Layout {
	var l list.Layout
	if b, err := fs.ReadFile(s.opts.FS, "mail/layout.html"); err == nil {
		l.HTML = string(b)
	}
	if b, err := fs.ReadFile(s.opts.FS, "mail/layout.txt"); err == nil {
		l.Text = string(b)
	}
	return l
}
