package smtp

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"

	"github.com/bulletin/bulletin/list"
)

// Data is what mail templates see. Campaign bodies, the layouts and the
// system mails all get the same fields.
type Data struct {
	Name       string
	Email      string
	Attributes map[string]string
	// Links of this recipient; empty when not relevant to the mail.
	UnsubscribeURL string
	ManageURL      string
	ConfirmURL     string
	PrivacyURL     string
	PostalAddress  string
	List           *list.List
	Campaign       *list.Campaign
	// Subject is the rendered subject (layouts only).
	Subject string
	// Action is the data-access action a data_access mail confirms.
	Action string
	// Advertisement asks the layout for the advertisement notice.
	Advertisement bool
	// Test marks a test send: the footer says the mail is a test, not
	// that the tester subscribed.
	Test bool
	// Text is the list's own wording of a confirm or welcome mail.
	Text string
	// Body is the rendered body inside a layout: template.HTML in the HTML
	// layout, a string in the text layout.
	Body any
}

// systemKinds are the system mails, each with KIND.txt (defining a
// "subject" template) and KIND.html under mail/.
var systemKinds = []list.MailKind{list.MailConfirm, list.MailWelcome, list.MailReminder, list.MailEmailChange, list.MailEmailChanged, list.MailDataAccess}

// templates are the layouts and system mails, parsed once at New.
type templates struct {
	layoutHTML *htmltemplate.Template
	layoutText *texttemplate.Template
	html       map[list.MailKind]*htmltemplate.Template
	text       map[list.MailKind]*texttemplate.Template
}

var funcs = map[string]any{"lines": lines}

// lines escapes s for HTML and turns its line breaks into <br>.
func lines(s string) htmltemplate.HTML {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\r\n", "\n")
	parts := strings.Split(s, "\n")
	for i, p := range parts {
		parts[i] = htmltemplate.HTMLEscapeString(strings.TrimSpace(p))
	}
	return htmltemplate.HTML(strings.Join(parts, "<br>\n"))
}

func parseTemplates(fsys fs.FS) (*templates, error) {
	if fsys == nil {
		return nil, fmt.Errorf("smtp: no template file system")
	}
	t := &templates{html: map[list.MailKind]*htmltemplate.Template{}, text: map[list.MailKind]*texttemplate.Template{}}
	var err error
	if t.layoutHTML, err = parseHTMLFile(fsys, "mail/layout.html"); err != nil {
		return nil, err
	}
	if t.layoutText, err = parseTextFile(fsys, "mail/layout.txt"); err != nil {
		return nil, err
	}
	for _, k := range systemKinds {
		if t.html[k], err = parseHTMLFile(fsys, "mail/"+string(k)+".html"); err != nil {
			return nil, err
		}
		if t.text[k], err = parseTextFile(fsys, "mail/"+string(k)+".txt"); err != nil {
			return nil, err
		}
		if t.text[k].Lookup("subject") == nil {
			return nil, fmt.Errorf("smtp: template mail/%s.txt defines no \"subject\"", k)
		}
	}
	return t, nil
}

func parseHTMLFile(fsys fs.FS, name string) (*htmltemplate.Template, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("smtp: template: %w", err)
	}
	t, err := htmltemplate.New(name).Funcs(funcs).Option("missingkey=zero").Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return t, nil
}

func parseTextFile(fsys fs.FS, name string) (*texttemplate.Template, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("smtp: template: %w", err)
	}
	t, err := texttemplate.New(name).Funcs(funcs).Option("missingkey=zero").Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return t, nil
}

// campaignTemplates are one campaign version's parsed templates.
type campaignTemplates struct {
	subject *texttemplate.Template
	body    *conditionalTemplate
	text    *texttemplate.Template // nil: generated from the HTML
	// genText is the text part made once from the body template: the
	// HTML-to-text conversion of the template source, its actions kept, so
	// that each recipient only executes it. Nil when the conversion does not
	// give a valid template; the rendered HTML is converted then.
	genText *texttemplate.Template
	// markdown bodies go through goldmark after the template; static is the
	// converted body of a Markdown campaign without template actions.
	markdown bool
	static   htmltemplate.HTML
	// mdBody is a Markdown body's template, its values held out of the
	// Markdown; shapes are its converted forms (see markdown.go).
	mdBody *texttemplate.Template
	shapes shapes
	// document is a body written as a whole HTML document (document.go).
	document bool
	// layout is the message's custom layout, nil for the default one.
	layout *layoutTemplates
}

type cacheKey struct {
	id      list.CampaignID
	updated time.Time
	// revision changes with every edit, even within one clock reading.
	revision uint64
	// layout is the custom layout's version, "" for the default.
	layout string
}

// templateCache keeps the parsed templates of the campaigns being sent, so
// that each recipient only executes them.
type templateCache struct {
	mu    sync.Mutex
	max   int
	items map[cacheKey]*campaignTemplates
	order []cacheKey
}

func (c *templateCache) get(k cacheKey) (*campaignTemplates, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.items[k]
	return t, ok
}

func (c *templateCache) put(k cacheKey, t *campaignTemplates) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil {
		c.items = map[cacheKey]*campaignTemplates{}
	}
	if _, ok := c.items[k]; ok {
		return
	}
	for len(c.order) >= c.max {
		delete(c.items, c.order[0])
		c.order = c.order[1:]
	}
	c.items[k] = t
	c.order = append(c.order, k)
}

// TemplateError is a campaign template that does not parse or execute. Its
// message names the template and the line, as text/template reports it.
type TemplateError struct {
	Part string // "subject", "body", "text", or "layout.html", "layout.txt" of a custom layout
	Err  error
}

func (e *TemplateError) Error() string { return fmt.Sprintf("smtp: %s template: %v", e.Part, e.Err) }
func (e *TemplateError) Unwrap() error { return e.Err }

var markdown = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithRendererOptions(gmhtml.WithUnsafe()),
)

// campaign returns the parsed templates of c, and of the custom layout l
// (nil for the default), parsing them on first use.
func (s *Sender) campaign(c *list.Campaign, l *list.Layout) (*campaignTemplates, error) {
	k := cacheKey{c.ID, c.UpdatedAt, c.Revision, layoutVersion(l)}
	if t, ok := s.cache.get(k); ok {
		return t, nil
	}
	t, err := parseCampaign(c)
	if err != nil {
		return nil, err
	}
	if t.layout, err = parseLayout(l); err != nil {
		return nil, err
	}
	s.cache.put(k, t)
	return t, nil
}

// autolinkAction matches a Markdown autolink around one action,
// "<{{.ManageURL}}>".
var autolinkAction = regexp.MustCompile(`<(\{\{[^{}]*\}\})>`)

// linkFieldAction matches an action that prints one of Bulletin's own link
// fields, which stay in the Markdown (linkFields).
var linkFieldAction = regexp.MustCompile(`^\{\{-?\s*\.(UnsubscribeURL|ManageURL|ConfirmURL|PrivacyURL)\s*-?\}\}$`)

// unbracket drops the angle brackets around an action, except around a
// link field: that one prints the URL itself into the Markdown, where the
// brackets make an autolink whatever its host, which linkify alone does not
// for localhost or an IP address.
func unbracket(autolink string) string {
	inner := autolink[1 : len(autolink)-1]
	if linkFieldAction.MatchString(inner) {
		return autolink
	}
	return inner
}

func parseCampaign(c *list.Campaign) (*campaignTemplates, error) {
	t := &campaignTemplates{markdown: c.Format == list.FormatMarkdown, document: isDocument(c.Body)}
	body, htmlBody := c.Body, c.Body
	if t.markdown {
		// Markdown does not take an autolink around an action for a link
		// when it converts the template itself (for the text part), nor
		// around a held value's token. The action alone becomes the bare
		// URL, which the GFM linkify extension turns into the same link;
		// a link field keeps its brackets for the HTML part (unbracket).
		body = autolinkAction.ReplaceAllString(body, "$1")
		htmlBody = autolinkAction.ReplaceAllStringFunc(htmlBody, unbracket)
	}
	var err error
	if t.subject, err = texttemplate.New("subject").Option("missingkey=zero").Parse(c.Subject); err != nil {
		return nil, &TemplateError{"subject", err}
	}
	if t.markdown {
		t.mdBody, err = parseMarkdownBody(htmlBody)
	} else {
		t.body, err = parseConditional("body", body)
	}
	if err != nil {
		return nil, &TemplateError{"body", err}
	}
	if strings.TrimSpace(c.Text) != "" {
		if t.text, err = texttemplate.New("text").Funcs(funcs).Option("missingkey=zero").Parse(c.Text); err != nil {
			return nil, &TemplateError{"text", err}
		}
	}
	html := body
	if t.markdown {
		var b bytes.Buffer
		if err := markdown.Convert([]byte(body), &b); err != nil {
			return nil, &TemplateError{"body", err}
		}
		html = b.String()
		if !strings.Contains(body, "{{") {
			t.static = htmltemplate.HTML(html)
		}
	}
	// Markdown escapes an action in a link target ("%7B%7B.Email%7D%7D"):
	// the text part of such a body is converted from each rendered message
	// instead of once from the converted template.
	lost := strings.Count(html, "{{") < strings.Count(body, "{{")
	if gen := HTMLToText(html); t.text == nil && !lost && strings.Count(gen, "{{") <= strings.Count(html, "{{") {
		// More actions than the source had came from decoded entities
		// ("&#123;&#123;"): not a template to run then.
		t.genText, _ = texttemplate.New("text").Funcs(funcs).Option("missingkey=zero").Parse(gen)
	}
	return t, nil
}

// bufPool recycles render and build buffers.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		bufPool.Put(b)
	}
}

// rendered is a mail ready for the builder.
type rendered struct {
	subject string
	html    []byte
	text    []byte
	// inserted lists what the builder had to add to the layouts' output.
	inserted []string
	// layout is the custom layout to wrap the bodies in, nil for the default.
	layout *layoutTemplates
	// noBody names the parts ("HTML", "text") whose layout left the body
	// out: the lint refuses such a layout, as the message would be empty.
	noBody []string
	// head goes into the HTML layout's <head>: the styles of a body written
	// as a whole document, whose dropped parts the lint names.
	head    []byte
	dropped []string
}

// data makes the template data of m.
func data(m *list.Message) *Data {
	d := &Data{
		Email:          m.To,
		Name:           m.ToName,
		UnsubscribeURL: m.UnsubscribeURL,
		ManageURL:      m.ManageURL,
		ConfirmURL:     m.ConfirmURL,
		PrivacyURL:     m.PrivacyURL,
		PostalAddress:  m.PostalAddress,
		List:           m.List,
		Campaign:       m.Campaign,
		Action:         m.Action,
	}
	if sub := m.Subscriber; sub != nil {
		if d.Name == "" {
			d.Name = sub.Name
		}
		d.Attributes = sub.Attributes
	}
	if d.Attributes == nil {
		d.Attributes = map[string]string{}
	}
	if m.Campaign != nil && m.Kind == "" {
		d.Advertisement = m.Campaign.Advertisement
	}
	d.Test = m.Test
	if m.List != nil {
		switch m.Kind {
		case list.MailConfirm:
			d.Text = m.List.ConfirmText
		case list.MailReminder:
			d.Text = m.List.ReminderText
		case list.MailWelcome:
			d.Text = m.List.WelcomeText
		}
	}
	return d
}

// render executes the templates of m for its recipient.
func (s *Sender) render(m *list.Message) (*rendered, error) {
	d := data(m)
	var (
		r   = &rendered{}
		err error
	)
	body := getBuf()
	defer putBuf(body)
	text := getBuf()
	defer putBuf(text)
	hasText := true
	if m.Kind == "" {
		hasText, err = s.renderCampaign(m, d, r, body, text)
	} else {
		err = s.renderSystem(m, d, r, body, text)
	}
	if err != nil {
		return nil, err
	}
	d.Subject = r.subject
	if err := s.wrap(d, r, body.Bytes(), text, hasText); err != nil {
		return nil, err
	}
	r.html = addTracking(r.html, m)
	return r, nil
}

func (s *Sender) renderCampaign(m *list.Message, d *Data, r *rendered, body, text *bytes.Buffer) (hasText bool, err error) {
	if m.Campaign == nil {
		return false, fmt.Errorf("smtp: campaign message without a campaign: %w", list.ErrInvalid)
	}
	t, err := s.campaign(m.Campaign, m.Layout)
	if err != nil {
		return false, err
	}
	r.layout = t.layout
	var sb strings.Builder
	if err := t.subject.Execute(&sb, d); err != nil {
		return false, &TemplateError{"subject", err}
	}
	r.subject = strings.TrimSpace(sb.String())
	switch {
	case t.static != "":
		body.WriteString(string(t.static))
	case t.markdown:
		if err := t.renderMarkdown(body, d); err != nil {
			return false, err
		}
	default:
		if err := t.body.Execute(body, d); err != nil {
			return false, &TemplateError{"body", err}
		}
	}
	if t.document {
		doc := splitDocument(body.Bytes())
		content := bytes.Clone(doc.content)
		body.Reset()
		body.Write(content)
		r.head, r.dropped = doc.head, doc.dropped
	}
	tt := t.text
	if tt == nil {
		tt = t.genText
	}
	if tt == nil {
		return false, nil
	}
	if err := tt.Execute(text, d); err != nil {
		if t.text == nil {
			return false, nil // convert the rendered HTML instead
		}
		return false, &TemplateError{"text", err}
	}
	if t.text == nil {
		squeezeBlankLines(text)
	}
	return true, nil
}

// squeezeBlankLines leaves at most one blank line in a row, as conditional
// sections of a generated text part can leave more.
func squeezeBlankLines(b *bytes.Buffer) {
	if !bytes.Contains(b.Bytes(), []byte("\n\n\n")) {
		return
	}
	out := b.Bytes()[:0]
	n := 0
	for _, c := range b.Bytes() {
		if c == '\n' {
			n++
			if n > 2 {
				continue
			}
		} else if c != ' ' {
			n = 0
		}
		out = append(out, c)
	}
	b.Truncate(len(out))
}

func (s *Sender) renderSystem(m *list.Message, d *Data, r *rendered, body, text *bytes.Buffer) error {
	ht, tt := s.tmpl.html[m.Kind], s.tmpl.text[m.Kind]
	if ht == nil || tt == nil {
		return fmt.Errorf("smtp: unknown mail kind %q: %w", m.Kind, list.ErrInvalid)
	}
	var err error
	if r.layout, err = s.systemLayout(m.Layout); err != nil {
		return err
	}
	var sb strings.Builder
	if err := tt.ExecuteTemplate(&sb, "subject", d); err != nil {
		return fmt.Errorf("smtp: %s subject: %w", m.Kind, err)
	}
	r.subject = strings.Join(strings.Fields(sb.String()), " ")
	if err := ht.Execute(body, d); err != nil {
		return fmt.Errorf("smtp: %s html: %w", m.Kind, err)
	}
	if err := tt.Execute(text, d); err != nil {
		return fmt.Errorf("smtp: %s text: %w", m.Kind, err)
	}
	return nil
}

// wrap puts the bodies into the layouts and makes sure both footers carry
// what they must.
func (s *Sender) wrap(d *Data, r *rendered, body []byte, text *bytes.Buffer, hasText bool) error {
	if !hasText {
		text.Reset()
		HTMLToTextTo(text, body)
	}
	var err error
	lh, lt := s.layouts(r.layout)
	var shown bool
	if r.html, shown, err = layout(lh, d, htmltemplate.HTML(bodyMarker), body); err != nil {
		return fmt.Errorf("smtp: html layout: %w", err)
	}
	if !shown {
		r.noBody = append(r.noBody, "HTML")
	}
	r.html = addHead(r.html, r.head)
	if r.text, shown, err = layout(lt, d, bodyMarker, bytes.TrimRight(text.Bytes(), "\r\n")); err != nil {
		return fmt.Errorf("smtp: text layout: %w", err)
	}
	if !shown {
		r.noBody = append(r.noBody, "text")
	}
	r.html = ensureHTMLFooter(r.html, d, &r.inserted)
	r.text = ensureTextFooter(r.text, d, &r.inserted)
	return nil
}

// bodyMarker stands for the body while a layout runs; the body is spliced
// in where it appears, saving a string copy of it and a pass through the
// template engine.
const bodyMarker = "bulletin-body-9f4c2e71"

// executor is a parsed html/template or text/template.
type executor interface {
	Execute(w io.Writer, data any) error
}

// layout runs t with the marker as d.Body and splices body in its place.
// A layout that does not show the marker once as is (it put .Body where it
// gets escaped, or twice) is run again with the body itself. shown is false
// when the layout did not show the body at all (the marker is plain
// letters and digits, which no escaping changes).
func layout(t executor, d *Data, marker any, body []byte) (out []byte, shown bool, err error) {
	d.Body = marker
	buf := getBuf()
	defer putBuf(buf)
	if err := t.Execute(buf, d); err != nil {
		return nil, false, err
	}
	b := buf.Bytes()
	n := bytes.Count(b, []byte(bodyMarker))
	if n == 0 {
		return bytes.Clone(b), false, nil
	}
	if i := bytes.Index(b, []byte(bodyMarker)); n == 1 {
		out := make([]byte, 0, len(b)-len(bodyMarker)+len(body))
		out = append(out, b[:i]...)
		out = append(out, body...)
		return append(out, b[i+len(bodyMarker):]...), true, nil
	}
	if _, ok := marker.(htmltemplate.HTML); ok {
		d.Body = htmltemplate.HTML(body)
	} else {
		d.Body = string(body)
	}
	buf.Reset()
	if err := t.Execute(buf, d); err != nil {
		return nil, true, err
	}
	return bytes.Clone(buf.Bytes()), true, nil
}
