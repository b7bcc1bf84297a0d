package smtp

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

const (
	testOpenURL  = "https://news.example.com/t/o/o7dddddddddddddddddd.gif"
	testClickURL = "https://news.example.com/t/c/c7eeeeeeeeeeeeeeeeee?u="
)

func TestTrackingOffByDefault(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	raw, err := s.Preview(t.Context(), testMessage())
	if err != nil {
		t.Fatal(err)
	}
	p := parseMessage(t, raw)
	html := p.parts["text/html"]
	if strings.Contains(html, "/t/o/") || strings.Contains(html, "/t/c/") || strings.Contains(html, "<img") {
		t.Errorf("an untracked mail has tracking:\n%s", html)
	}
	if !strings.Contains(html, `href="https://example.org/story?a=1&b=2"`) {
		t.Errorf("links were rewritten without tracking:\n%s", html)
	}
}

func TestTrackingInserted(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	m := testMessage()
	m.OpenURL, m.ClickURL = testOpenURL, testClickURL
	m.Campaign.Body += `<p><a href='http://example.net/x'>x</a> <a href="mailto:ann@example.org">mail</a> <a href="#top">top</a></p>`
	raw, err := s.Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMessage(t, raw)
	html, text := p.parts["text/html"], p.parts["text/plain"]
	for _, target := range []string{"https://example.org/story?a=1&b=2", "http://example.net/x"} {
		want := `href="` + strings.ReplaceAll(testClickURL+url.QueryEscape(target), "&", "&amp;") + `"`
		if !strings.Contains(html, want) {
			t.Errorf("link %s not rewritten to %s:\n%s", target, want, html)
		}
	}
	for _, keep := range []string{m.UnsubscribeURL, m.ManageURL, m.PrivacyURL, "mailto:ann@example.org", "#top"} {
		if !strings.Contains(html, `href="`+keep+`"`) {
			t.Errorf("link %s was rewritten:\n%s", keep, html)
		}
	}
	if n := strings.Count(html, `<img src="`+testOpenURL+`"`); n != 1 {
		t.Errorf("open pixel appears %d times:\n%s", n, html)
	}
	if i, j := strings.Index(html, testOpenURL), strings.LastIndex(strings.ToLower(html), "</body>"); i < 0 || i > j {
		t.Error("open pixel is not inside the body")
	}
	if strings.Contains(text, "/t/c/") || strings.Contains(text, "/t/o/") {
		t.Errorf("the text part is tracked:\n%s", text)
	}
}

var (
	mailLoadRE = regexp.MustCompile(`(?is)\b(src|srcset|poster|background|data)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	mailLinkRE = regexp.MustCompile(`(?is)<link\b[^>]*\bhref\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	mailCSSRE  = regexp.MustCompile(`(?is)url\(\s*['"]?([^'")]*)|@import\s+['"]([^'"]*)`)
	mailTagRE  = regexp.MustCompile(`(?is)<(script|iframe|frame|embed|object)\b`)
)

// mailForeignLoads lists what an HTML mail would load from anywhere but
// base (images, styles, fonts, frames, CSS url()); links are fine.
func mailForeignLoads(doc, base string) []string {
	local := func(u string) bool {
		u = strings.TrimSpace(strings.Trim(u, `"'`))
		return u == "" || strings.HasPrefix(u, base+"/") || strings.HasPrefix(u, "cid:") || strings.HasPrefix(u, "data:")
	}
	var out []string
	for _, m := range mailLoadRE.FindAllStringSubmatch(doc, -1) {
		if !local(m[2]) {
			out = append(out, m[0])
		}
	}
	for _, m := range mailLinkRE.FindAllStringSubmatch(doc, -1) {
		if !local(m[1]) {
			out = append(out, m[0])
		}
	}
	for _, m := range mailCSSRE.FindAllStringSubmatch(doc, -1) {
		if !local(m[1] + m[2]) {
			out = append(out, m[0])
		}
	}
	for _, m := range mailTagRE.FindAllString(doc, -1) {
		out = append(out, m)
	}
	return out
}

// TestMailLoadsNothingForeign renders a tracked campaign mail and every
// system mail with the real templates: nothing they load comes from
// anywhere but the instance, and each links the privacy policy.
func TestMailLoadsNothingForeign(t *testing.T) {
	t.Parallel()
	if f := mailForeignLoads(`<img src="https://pixel.example/x.gif"><div style="background:url('//cdn.example/a.png')">`, "https://news.example.com"); len(f) != 2 {
		t.Fatalf("checker found %q", f)
	}
	s := newTestSender(t, nil)
	campaign := testMessage()
	campaign.OpenURL, campaign.ClickURL = testOpenURL, testClickURL
	msgs := map[string]*list.Message{"campaign": campaign}
	for _, k := range systemKinds {
		m := testMessage()
		m.Campaign, m.Kind, m.ConfirmURL, m.Action = nil, k, "https://news.example.com/confirm/c7ffffffffff", "erase"
		msgs[string(k)] = m
	}
	for name, m := range msgs {
		raw, err := s.Preview(t.Context(), m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p := parseMessage(t, raw)
		if f := mailForeignLoads(p.parts["text/html"], "https://news.example.com"); len(f) != 0 {
			t.Errorf("%s mail loads %q", name, f)
		}
		for part, body := range p.parts {
			if !strings.Contains(body, m.PrivacyURL) {
				t.Errorf("%s mail: %s part lacks the privacy link", name, part)
			}
		}
	}
}
