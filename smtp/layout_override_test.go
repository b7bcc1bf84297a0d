package smtp

import (
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

func TestCustomLayout(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	m := testMessage()
	m.Layout = &list.Layout{
		HTML: `<html><body><div class="custom">{{.Body}}</div><p>Unsubscribe: <a href="{{.UnsubscribeURL}}">here</a></p><p>{{lines .PostalAddress}}</p></body></html>`,
		Text: "CUSTOM TEXT\n{{.Body}}\n--\nUnsubscribe: {{.UnsubscribeURL}}\n{{.PostalAddress}}\n",
	}
	raw, err := s.Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMessage(t, raw)
	if html := p.parts["text/html"]; !strings.Contains(html, `<div class="custom"><h1>Spring issue</h1>`) || strings.Contains(html, "max-width:640px") {
		t.Errorf("HTML part not in the custom layout:\n%s", html)
	}
	if text := p.parts["text/plain"]; !strings.HasPrefix(text, "CUSTOM TEXT") {
		t.Errorf("text part not in the custom layout:\n%s", text)
	}
	if fs := s.Lint(t.Context(), m); len(errorCodes(fs)) > 0 {
		t.Errorf("Lint = %+v, want no errors", fs)
	}
	// The same campaign without a layout is wrapped in the default again.
	m.Layout = nil
	raw, _ = s.Preview(t.Context(), m)
	if html := parseMessage(t, raw).parts["text/html"]; strings.Contains(html, `class="custom"`) || !strings.Contains(html, "max-width:640px") {
		t.Errorf("default layout after a custom one:\n%s", html)
	}
}

func TestCustomLayoutFooterInserted(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	m := testMessage()
	m.Layout = &list.Layout{HTML: `<html><body>{{.Body}}</body></html>`, Text: "{{.Body}}"}
	raw, err := s.Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMessage(t, raw)
	for part, want := range map[string][]string{
		"text/html":  {m.UnsubscribeURL, "1 Main Street", "Example Press Ltd"},
		"text/plain": {"Unsubscribe: " + m.UnsubscribeURL, "75001 Paris, France"},
	} {
		for _, w := range want {
			if !strings.Contains(p.parts[part], w) {
				t.Errorf("%s part lacks %q:\n%s", part, w, p.parts[part])
			}
		}
	}
	fs := s.Lint(t.Context(), m)
	if len(errorCodes(fs)) > 0 || !hasCode(fs, "footer-inserted") {
		t.Errorf("Lint = %+v, want footer-inserted warnings and no error", fs)
	}
}

func TestCustomLayoutBroken(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	for _, tc := range []struct {
		layout list.Layout
		want   string
	}{
		{list.Layout{HTML: "<html>\n<body>\n{{.Body}\n</body></html>"}, "layout.html:3"},
		{list.Layout{Text: "{{.Body}}\n\n{{if .List}}"}, "layout.txt:3"},
		{list.Layout{HTML: "<html><body>{{.Body}}\n{{.Nope}}</body></html>"}, "layout.html:2"},
	} {
		m := testMessage()
		m.Layout = &tc.layout
		if _, err := s.Preview(t.Context(), m); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Preview(%q) = %v, want an error at %s", tc.layout, err, tc.want)
		}
		fs := s.Lint(t.Context(), m)
		if !hasCode(fs, "template") || !strings.Contains(fs[len(fs)-1].Message, tc.want) {
			t.Errorf("Lint(%q) = %+v, want a template error at %s", tc.layout, fs, tc.want)
		}
	}
}

func TestCustomLayoutCachedByVersion(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	m := testMessage()
	m.Layout = &list.Layout{HTML: "<html><body>A {{.Body}}</body></html>", Version: "v1"}
	if _, err := s.Preview(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	// Same version: the parsed layout is reused (content is not re-read).
	m.Layout = &list.Layout{HTML: "<html><body>B {{.Body}}</body></html>", Version: "v1"}
	raw, _ := s.Preview(t.Context(), m)
	if html := parseMessage(t, raw).parts["text/html"]; !strings.Contains(html, "A <h1>") {
		t.Errorf("same version re-parsed:\n%s", html)
	}
	m.Layout.Version = "v2"
	raw, _ = s.Preview(t.Context(), m)
	if html := parseMessage(t, raw).parts["text/html"]; !strings.Contains(html, "B <h1>") {
		t.Errorf("new version not parsed:\n%s", html)
	}
}

func errorCodes(fs []list.Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Severity == SeverityError {
			out = append(out, f.Code)
		}
	}
	return out
}

func hasCode(fs []list.Finding, code string) bool {
	for _, f := range fs {
		if f.Code == code {
			return true
		}
	}
	return false
}
