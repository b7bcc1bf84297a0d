package list

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Layout is a custom campaign layout: the HTML and text templates every
// campaign message is wrapped in instead of the built-in ones. An empty
// part means the built-in layout for that part. The Mailer still appends
// the footer (postal address, unsubscribe link) when a layout drops it.
type Layout struct {
	HTML string `json:"html"`
	Text string `json:"text"`
	// Version identifies the content; a Mailer may cache parsed layouts by it.
	Version string `json:"-"`
}

// Empty reports whether l has no custom part.
func (l *Layout) Empty() bool {
	return strings.TrimSpace(l.HTML) == "" && strings.TrimSpace(l.Text) == ""
}

// LayoutInfo is the stored campaign layout as the editor shows it.
type LayoutInfo struct {
	Layout
	// Custom is false when the built-in layout is in use; Layout then holds
	// its source (when the Mailer can tell it).
	Custom    bool
	UpdatedAt time.Time
	UpdatedBy string
}

// layoutKey is the setting holding the custom campaign layout.
const layoutKey = "layout.campaign"

// maxLayout bounds each part of a custom layout.
const maxLayout = 100 << 10

// storedLayout is the setting's JSON.
type storedLayout struct {
	HTML      string    `json:"html,omitempty"`
	Text      string    `json:"text,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// layoutCache keeps one stored layout in memory (the campaign layout, or
// the one system mails are wrapped in): read on first use, replaced when
// it is saved or reset. The zero value is empty (not loaded).
type layoutCache struct {
	mu     sync.Mutex
	loaded bool
	l      *Layout
}

// set replaces the cached layout.
func (c *layoutCache) set(l *Layout) {
	c.mu.Lock()
	c.l, c.loaded = l, true
	c.mu.Unlock()
}

// layoutReadTimeout bounds the first read of a stored layout.
const layoutReadTimeout = 5 * time.Second

// cachedLayout returns the layout stored under key, nil for the built-in
// one, from c after the first read. Its callers have no context, so the
// first read has one of its own: a single read of one setting. On a store
// error the built-in layout (which carries every link and the whole
// footer) is used and the read is tried again next time.
func (s *Service) cachedLayout(c *layoutCache, key string) *Layout {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		return c.l
	}
	ctx, cancel := context.WithTimeout(context.Background(), layoutReadTimeout)
	defer cancel()
	st, err := s.readLayout(ctx, key)
	if err != nil {
		s.log.Error("read a stored layout", "key", key, "err", err)
		return nil
	}
	c.l, c.loaded = newLayout(st.HTML, st.Text), true
	return c.l
}

// layoutDefaulter is a Mailer that can tell the source of its built-in
// layout (smtp.Sender can).
type layoutDefaulter interface {
	DefaultLayout() Layout
}

// DefaultLayout returns the source of the built-in campaign layout, or an
// empty Layout when the Mailer cannot tell it.
func (s *Service) DefaultLayout() Layout {
	if d, ok := s.mailer.(layoutDefaulter); ok {
		return d.DefaultLayout()
	}
	return Layout{}
}

func newLayout(html, text string) *Layout {
	l := &Layout{HTML: html, Text: text}
	if l.Empty() {
		return nil
	}
	h := sha256.Sum256([]byte(html + "\x00" + text))
	l.Version = hex.EncodeToString(h[:12])
	return l
}

func (s *Service) readLayout(ctx context.Context, key string) (storedLayout, error) {
	var st storedLayout
	b, err := s.store.Setting(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("layout setting: %w", err)
	}
	return st, nil
}

// CampaignLayout returns the campaign layout in use: the custom one, or
// the built-in one's source.
func (s *Service) CampaignLayout(ctx context.Context) (LayoutInfo, error) {
	return s.layoutInfo(ctx, layoutKey)
}

// layoutInfo reads the layout stored under key for the editor.
func (s *Service) layoutInfo(ctx context.Context, key string) (LayoutInfo, error) {
	st, err := s.readLayout(ctx, key)
	if err != nil {
		return LayoutInfo{}, err
	}
	info := LayoutInfo{UpdatedAt: st.UpdatedAt, UpdatedBy: st.UpdatedBy}
	def := s.DefaultLayout()
	if l := newLayout(st.HTML, st.Text); l != nil {
		info.Layout, info.Custom = *l, true
		// A part left empty is the built-in one.
		if strings.TrimSpace(l.HTML) == "" {
			info.HTML = def.HTML
		}
		if strings.TrimSpace(l.Text) == "" {
			info.Text = def.Text
		}
		return info, nil
	}
	info.Layout = def
	return info, nil
}

// campaignLayout returns the custom layout campaign messages are wrapped
// in, nil for the built-in one (cachedLayout).
func (s *Service) campaignLayout() *Layout {
	return s.cachedLayout(&s.layout, layoutKey)
}

// layoutCodes are the lint findings that concern a layout; the others
// (no postal address set, no DKIM key, …) are about the instance.
var layoutCodes = map[string]bool{
	"template": true, "layout-body": true, "unsubscribe-link": true, "postal-address-footer": true,
	"advertisement-notice": true, "footer-inserted": true,
}

// samplePostalAddress stands in for an unset postal address in the layout
// preview, so that the footer shows where it goes.
const samplePostalAddress = "(your postal address)\n1 Sample Street, Sample Town"

// layoutSample is a sample campaign message wrapped in l.
func (s *Service) layoutSample(ctx context.Context, l *Layout, ad bool) (*Message, error) {
	c := Campaign{Name: "Sample campaign", Subject: "A sample campaign", Format: FormatHTML, Advertisement: ad,
		Body: "<h1>Hello {{.Name}}</h1>\n<p>This is a sample campaign, to show how campaigns look in the layout. " +
			"The footer below carries the postal address and the unsubscribe link.</p>\n<p><a href=\"https://example.com/\">A link</a></p>"}
	ls, err := s.store.Lists(ctx)
	if err != nil {
		return nil, err
	}
	if len(ls) > 0 {
		c.Lists = []ListID{ls[0].ID}
	}
	c.UpdatedAt = previewStamp(&c)
	m, err := s.sampleMessage(ctx, c)
	if err != nil {
		return nil, err
	}
	m.Layout = l
	if strings.TrimSpace(m.PostalAddress) == "" {
		m.PostalAddress = samplePostalAddress
	}
	return m, nil
}

// lintLayout checks l on the sample campaign, as an ordinary and as an
// advertisement campaign. A layout that drops the advertisement notice
// only gets a warning: advertisement campaigns are refused by their own
// pre-send check then.
func (s *Service) lintLayout(ctx context.Context, l *Layout) (*Message, []Finding, error) {
	m, err := s.layoutSample(ctx, l, false)
	if err != nil {
		return nil, nil, err
	}
	var out []Finding
	for _, f := range s.mailer.Lint(ctx, m) {
		if layoutCodes[f.Code] {
			out = append(out, f)
		}
	}
	if hasErrors(out) {
		return m, out, nil
	}
	ad, err := s.layoutSample(ctx, l, true)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range s.mailer.Lint(ctx, ad) {
		if f.Code == "advertisement-notice" {
			out = append(out, Finding{Severity: "warning", Code: f.Code,
				Message: "The layout drops the advertisement notice: advertisement campaigns will be refused by the pre-send check.",
				Fix:     "Keep {{if .Advertisement}}This is an advertisement.{{end}} in the footer of both parts."})
		}
	}
	return m, out, nil
}

func checkLayout(l Layout) error {
	if len(l.HTML) > maxLayout || len(l.Text) > maxLayout {
		return fmt.Errorf("%w: a layout part is longer than %d bytes", ErrInvalid, maxLayout)
	}
	if err := checkUTF8("the HTML layout", l.HTML); err != nil {
		return err
	}
	return checkUTF8("the text layout", l.Text)
}

// PreviewLayout renders the sample campaign in l (unsaved) and returns the
// raw message with the layout's lint findings; raw is nil when the
// findings hold an error.
func (s *Service) PreviewLayout(ctx context.Context, l Layout) ([]byte, []Finding, error) {
	if err := checkLayout(l); err != nil {
		return nil, nil, err
	}
	m, fs, err := s.lintLayout(ctx, newLayout(l.HTML, l.Text))
	if err != nil || hasErrors(fs) {
		return nil, fs, err
	}
	raw, err := s.mailer.Preview(ctx, m)
	return raw, fs, err
}

// SaveLayout validates l on the sample campaign and stores it as the
// campaign layout; the next campaign message uses it. A layout whose
// templates do not parse or run is a *LintError (nothing is stored); its
// warnings are returned. A layout equal to the built-in one is stored as
// no custom layout.
func (s *Service) SaveLayout(ctx context.Context, l Layout, o Origin) ([]Finding, error) {
	return s.saveLayout(ctx, layoutKey, l, o, func(ctx context.Context, l *Layout) ([]Finding, error) {
		_, fs, err := s.lintLayout(ctx, l)
		return fs, err
	}, s.layout.set)
}

// ResetLayout drops the custom campaign layout: the built-in one is used.
func (s *Service) ResetLayout(ctx context.Context, o Origin) error {
	return s.resetLayout(ctx, layoutKey, o, s.layout.set)
}

// saveLayout checks l with lint and stores it under key, then hands the
// parsed layout to cache; the campaign and system mail layouts differ in
// key, check and cache only.
func (s *Service) saveLayout(ctx context.Context, key string, l Layout, o Origin,
	lint func(context.Context, *Layout) ([]Finding, error), cache func(*Layout)) ([]Finding, error) {
	if err := checkLayout(l); err != nil {
		return nil, err
	}
	l.HTML, l.Text = normalizeNewlines(l.HTML), normalizeNewlines(l.Text)
	if def := s.DefaultLayout(); l.HTML == def.HTML && l.Text == def.Text {
		l = Layout{}
	}
	nl := newLayout(l.HTML, l.Text)
	fs, err := lint(ctx, nl)
	if err != nil {
		return nil, err
	}
	if hasErrors(fs) {
		return nil, &LintError{Findings: fs}
	}
	if err := s.putLayout(ctx, key, storedLayout{HTML: l.HTML, Text: l.Text, UpdatedAt: s.Now(), UpdatedBy: o.User}); err != nil {
		return nil, err
	}
	cache(nl)
	s.audit(ctx, o, "layout.save", key)
	return fs, nil
}

// resetLayout stores "no custom layout" under key.
func (s *Service) resetLayout(ctx context.Context, key string, o Origin, cache func(*Layout)) error {
	if err := s.putLayout(ctx, key, storedLayout{UpdatedAt: s.Now(), UpdatedBy: o.User}); err != nil {
		return err
	}
	cache(nil)
	s.audit(ctx, o, "layout.reset", key)
	return nil
}

func (s *Service) putLayout(ctx context.Context, key string, st storedLayout) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.store.PutSetting(ctx, key, b)
}

// normalizeNewlines turns a textarea's CRLF line ends into LF.
func normalizeNewlines(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
