package smtp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
	html *conditionalTemplate
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
		if t.html, err = parseConditional(customHTMLName, l.HTML); err != nil {
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

// A custom system mail layout (list.Message.Layout of a system mail)
// replaces the default layouts for confirmations, reminders, welcomes and
// the other system mails. It is parsed once per version and kept in the
// campaign template cache under campaign id 0, which no campaign has.

// systemLayout returns the parsed custom layout of a system mail, nil for
// the default one.
func (s *Sender) systemLayout(l *list.Layout) (*layoutTemplates, error) {
	v := layoutVersion(l)
	if v == "" {
		return nil, nil
	}
	k := cacheKey{layout: "system:" + v}
	if t, ok := s.cache.get(k); ok {
		return t.layout, nil
	}
	t, err := parseLayout(l)
	if err != nil {
		return nil, err
	}
	s.cache.put(k, &campaignTemplates{layout: t})
	return t, nil
}

// LintSystemLayout checks a system mail layout on sample system mails,
// each carrying the layout in Layout, and returns every finding at once.
// Errors: a template that does not parse or run, a part without the link
// the mail exists for (the confirmation link of a confirmation, reminder,
// address change or data request, the preference link of a welcome), a
// message that cannot be built. Warnings: footer pieces the layout lacks
// and the builder adds.
func (s *Sender) LintSystemLayout(ctx context.Context, samples []*list.Message) []list.Finding {
	var l linter
	warned := map[string]bool{}
	for _, m := range samples {
		if ctx.Err() != nil {
			break
		}
		if _, err := parseLayout(m.Layout); err != nil {
			l.err("template", err.Error(), "Fix the layout at the line named; text/template syntax is {{.Name}}, {{if …}}…{{end}}.")
			return l.out
		}
		r, err := s.render(m)
		if err != nil {
			l.err("template", fmt.Sprintf("The %s mail: %v", mailName(m.Kind), err), "Fix the layout: it fails when run for this sample mail.")
			continue
		}
		lintSystemLinks(&l, m, r)
		for _, piece := range r.inserted {
			if !warned[piece] {
				warned[piece] = true
				l.warn("footer-inserted", "The layout lacks the "+piece+"; a default footer line is appended.", "Put it in the footer of both parts of the layout.")
			}
		}
		if _, err := s.build(m, r); err != nil {
			l.err("headers", fmt.Sprintf("The %s mail: %v", mailName(m.Kind), err), "Fix the sender or the links named in the error.")
		}
	}
	return l.out
}

// lintSystemLinks reports a part of a system mail that lacks the link the
// mail exists for: a layout that drops {{.Body}} drops it.
func lintSystemLinks(l *linter, m *list.Message, r *rendered) {
	link, what := m.ConfirmURL, "confirmation link"
	if m.Kind == list.MailWelcome {
		link, what = m.ManageURL, "link to manage the subscription"
	}
	if link == "" {
		return
	}
	for _, p := range []struct {
		name string
		body []byte
	}{{"text", r.text}, {"HTML", r.html}} {
		if !containsEither(p.body, link, htmlEscape(link)) {
			l.err("system-link", fmt.Sprintf("The %s part of the %s mail has no %s.", p.name, mailName(m.Kind), what),
				"Keep {{.Body}} in both parts of the layout: the mail's text and links go there.")
		}
	}
}

// mailName names a system mail kind in a finding.
func mailName(k list.MailKind) string {
	switch k {
	case list.MailConfirm:
		return "confirmation"
	case list.MailEmailChange:
		return "address change"
	case list.MailEmailChanged:
		return "address changed"
	case list.MailDataAccess:
		return "data request"
	}
	return string(k)
}
