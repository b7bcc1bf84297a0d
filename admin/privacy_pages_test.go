package admin

import (
	"io/fs"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/templates"
)

// loadRE finds what a page makes the browser load by itself: src, srcset,
// poster, data, background attributes, <link href>, CSS url() and @import.
var (
	loadAttrRE = regexp.MustCompile(`(?is)\b(src|srcset|poster|data|background|action|formaction)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	linkTagRE  = regexp.MustCompile(`(?is)<link\b[^>]*>`)
	hrefRE2    = regexp.MustCompile(`(?is)\bhref\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	cssURLRE   = regexp.MustCompile(`(?is)url\(\s*(['"]?)([^'")]*)(['"]?)\s*\)|@import\s+(['"])([^'"]*)`)
	tagRE      = regexp.MustCompile(`(?is)<(script|iframe|frame|embed|object|applet|base)\b`)
)

// foreignLoads returns the resources a document loads from anywhere but
// base: scripts, styles, images, fonts, frames, CSS url(). Links a reader
// may follow (<a href>) are fine.
func foreignLoads(doc, base string) []string {
	var out []string
	local := func(u string) bool {
		u = strings.TrimSpace(strings.Trim(u, `"'`))
		lu := strings.ToLower(u)
		switch {
		case u == "", strings.HasPrefix(u, "#"), strings.HasPrefix(lu, "data:"), strings.HasPrefix(lu, "cid:"):
			return true
		case strings.HasPrefix(u, "//"):
			return false
		case strings.HasPrefix(u, "/"):
			return true
		case base != "" && strings.HasPrefix(u, base+"/"):
			return true
		}
		p, err := url.Parse(u)
		return err == nil && p.Scheme == "" && p.Host == "" // relative
	}
	for _, m := range loadAttrRE.FindAllStringSubmatch(doc, -1) {
		vals := []string{m[2]}
		if strings.EqualFold(m[1], "srcset") {
			vals = nil
			for _, part := range strings.Split(strings.Trim(m[2], `"'`), ",") {
				if f := strings.Fields(part); len(f) > 0 {
					vals = append(vals, f[0])
				}
			}
		}
		for _, v := range vals {
			if !local(v) {
				out = append(out, m[1]+"="+v)
			}
		}
	}
	for _, tag := range linkTagRE.FindAllString(doc, -1) {
		if m := hrefRE2.FindStringSubmatch(tag); m != nil && !local(m[1]) {
			out = append(out, tag)
		}
	}
	for _, m := range cssURLRE.FindAllStringSubmatch(doc, -1) {
		if u := m[2] + m[5]; !local(u) {
			out = append(out, m[0])
		}
	}
	for _, m := range tagRE.FindAllStringSubmatch(doc, -1) {
		if t := strings.ToLower(m[1]); t != "script" {
			out = append(out, "<"+t+">") // no frames, embeds or objects at all
		}
	}
	return out
}

func TestForeignLoads(t *testing.T) {
	t.Parallel()
	bad := []string{
		`<img src="https://tracker.example/p.gif">`, `<script src="//cdn.example/x.js"></script>`,
		`<link rel="stylesheet" href="https://fonts.googleapis.com/css">`, `<div style="background:url(https://x.example/a.png)">`,
		`<style>@import "https://x.example/a.css";</style>`, `<iframe src="/x"></iframe>`, `<img srcset="/a.png 1x, https://x.example/b.png 2x">`,
		`<td background="http://x.example/bg.png">`,
	}
	for _, doc := range bad {
		if len(foreignLoads(doc, testBaseURL)) == 0 {
			t.Errorf("foreignLoads(%q) found nothing", doc)
		}
	}
	good := []string{`<a href="https://elsewhere.example/">x</a>`, `<img src="/static/a.png">`, `<img src="` + testBaseURL + `/t/o/x.gif">`,
		`<link rel="stylesheet" href="/static/style.css">`, `<img src="data:image/gif;base64,R0lG">`, `<form method="post">`}
	for _, doc := range good {
		if f := foreignLoads(doc, testBaseURL); len(f) != 0 {
			t.Errorf("foreignLoads(%q) = %q", doc, f)
		}
	}
}

// TestPublicPagesLoadNothingForeign renders every public page and checks that nothing
// it loads comes from anywhere but the instance; the privacy policy is
// linked from each one.
func TestPublicPagesLoadNothingForeign(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.svc.Config()
	cfg.PrivacyURL = "https://policy.example/privacy"
	e.svc.SetConfig(cfg)
	if _, err := e.svc.UpdateList(t.Context(), "newsletter", list.ListPatch{Attributes: &[]string{"city"}}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{}
	add := func(name string, status int, body string) {
		t.Helper()
		if status >= 500 {
			t.Fatalf("%s = %d\n%s", name, status, body)
		}
		pages[name] = body
	}
	res, body := e.get("/subscribe/newsletter")
	add("subscribe", res.StatusCode, body)
	res, body = e.post("/subscribe/newsletter", url.Values{"email": {"x"}})
	add("subscribe error", res.StatusCode, body)
	res, body = e.post("/subscribe/newsletter", url.Values{"email": {"ann@example.com"}})
	add("check inbox", res.StatusCode, body)
	confirm := pathOf(e.drain()[0].ConfirmURL)
	res, body = e.get(confirm)
	add("confirm", res.StatusCode, body)
	res, body = e.post(confirm, nil)
	add("confirmed", res.StatusCode, body)
	w := e.drain()[0]
	manage := pathOf(w.ManageURL)
	res, body = e.get(pathOf(w.UnsubscribeURL))
	add("unsubscribe", res.StatusCode, body)
	res, body = e.get(manage)
	add("manage", res.StatusCode, body)
	res, body = e.post(manage, url.Values{"action": {"save"}, "list": {"newsletter"}})
	add("manage saved", res.StatusCode, body)
	res, body = e.post(manage, url.Values{"action": {"email"}, "email": {"ann2@example.com"}})
	add("manage email", res.StatusCode, body)
	change := pathOf(e.drain()[0].ConfirmURL)
	res, body = e.get(change)
	add("email change", res.StatusCode, body)
	export := e.dataLink(manage, "export", "ann@example.com")
	res, body = e.get(export)
	add("export", res.StatusCode, body)
	erase := e.dataLink(manage, "erase", "ann@example.com")
	res, body = e.get(erase)
	add("erase", res.StatusCode, body)
	res, body = e.post(change, nil)
	add("email changed", res.StatusCode, body)
	e.drain() // the notice to the old address
	res, body = e.post(pathOf(w.UnsubscribeURL), url.Values{"all": {"1"}})
	add("unsubscribed", res.StatusCode, body)
	res, body = e.get("/confirm/bogus")
	add("bad link", res.StatusCode, body)
	res, body = e.get("/nowhere")
	add("not found", res.StatusCode, body)
	e.confirmed("bob@example.com")
	bob := e.subscriber("bob@example.com")
	res, body = e.post(e.manageLinkOf(bob.Subscriber), url.Values{"action": {"unsubscribe_all"}})
	add("unsubscribed all", res.StatusCode, body)
	b2 := e.manageOf("cat@example.com")
	res, body = e.post(e.dataLink(b2, "erase", "cat@example.com"), url.Values{"action": {"erase"}})
	add("erased", res.StatusCode, body)
	c := e.campaign("T", `<p><a href="https://example.org/a">a</a></p>`, true)
	e.confirmed("dan@example.com")
	for _, m := range e.runCampaign(c.ID) {
		if m.ClickURL != "" {
			res, body = e.get(pathOf(m.ClickURL) + url.QueryEscape("https://elsewhere.example/"))
			add("track link", res.StatusCode, body)
			break
		}
	}
	if len(pages) < 18 {
		t.Fatalf("rendered %d pages", len(pages))
	}
	for name, doc := range pages {
		if f := foreignLoads(doc, testBaseURL); len(f) != 0 {
			t.Errorf("%s loads foreign resources: %q", name, f)
		}
		if !strings.Contains(doc, `href="https://policy.example/privacy"`) {
			t.Errorf("%s does not link the privacy policy", name)
		}
	}
	// The stylesheet loads nothing either.
	css, err := fs.ReadFile(templates.FS, "static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	if f := foreignLoads(string(css), testBaseURL); len(f) != 0 {
		t.Errorf("style.css loads %q", f)
	}
}

// manageLinkOf is the preference page path of a subscriber.
func (e *env) manageLinkOf(sb list.Subscriber) string {
	return "/manage/" + e.svc.Tokens().Seal(list.Token{Purpose: list.PurposeManage, Subscriber: sb.ID, Nonce: sb.Nonce})
}
