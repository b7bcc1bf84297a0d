package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

const customLayoutHTML = `<!DOCTYPE html><html><body><div class="brand">CUSTOM-LAYOUT-7</div>{{.Body}}
<p><a href="{{.UnsubscribeURL}}">Leave</a></p><p>{{lines .PostalAddress}}</p></body></html>`

const customLayoutText = "CUSTOM-TEXT-7\n\n{{.Body}}\n\n-- \nLeave: {{.UnsubscribeURL}}\n{{.PostalAddress}}\n"

// campaignPreview renders a campaign through the admin preview endpoint
// (list → Mailer.Preview of the real smtp.Sender).
func campaignPreview(t *testing.T, s *uiSession) previewAnswer {
	t.Helper()
	res, body := s.post("/admin/campaigns/preview", url.Values{"subject": {"Layout news"}, "lists": {"newsletter"},
		"format": {"html"}, "body": {"<p>Campaign body words</p>"}})
	var pv previewAnswer
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &pv) != nil || !strings.Contains(pv.HTML, "Campaign body words") {
		t.Fatalf("campaign preview = %d %s", res.StatusCode, body)
	}
	return pv
}

func storedLayout(t *testing.T, u *uiEnv) list.LayoutInfo {
	t.Helper()
	info, err := u.svc.CampaignLayout(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestUILayoutSaveUsedBySend(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	ctx := t.Context()
	s := u.login("ed") // editors may edit the layout
	res, body := s.get("/admin/layout")
	if res.StatusCode != 200 || !strings.Contains(body, "max-width:640px") || !strings.Contains(body, "The built-in layout is in use") {
		t.Fatalf("layout page = %d, want the built-in source\n%s", res.StatusCode, body)
	}
	checkPage(t, "/admin/layout", res, body)
	if pv := campaignPreview(t, s); strings.Contains(pv.HTML, "CUSTOM-LAYOUT-7") {
		t.Fatal("custom layout before saving one")
	}
	if res, _ := s.post("/admin/layout", url.Values{"html": {customLayoutHTML}, "text": {customLayoutText}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save = %d", res.StatusCode)
	}
	if info := storedLayout(t, u); !info.Custom || info.HTML != customLayoutHTML || info.UpdatedBy != "ed" {
		t.Fatalf("stored = %+v", info)
	}
	if _, body := s.get("/admin/layout?done=layout-saved"); !strings.Contains(body, "The layout was saved.") || !strings.Contains(body, "CUSTOM-LAYOUT-7") {
		t.Errorf("layout page after save lacks the notice or the layout")
	}
	if res, body := s.get("/admin/layout/preview.html"); res.StatusCode != 200 || !strings.Contains(body, "CUSTOM-LAYOUT-7") || res.Header.Get("Content-Security-Policy") != mailFrameCSP {
		t.Errorf("saved layout preview = %d\n%s", res.StatusCode, body)
	}
	// The next Preview and the next Send use it.
	pv := campaignPreview(t, s)
	if !strings.Contains(pv.HTML, `<div class="brand">CUSTOM-LAYOUT-7</div>`) || !strings.Contains(pv.Text, "CUSTOM-TEXT-7") {
		t.Errorf("campaign preview not in the custom layout:\n%s\n%s", pv.HTML, pv.Text)
	}
	name, subject, cbody, lists := "L", "Layout test", "<p>Sent body</p>", []string{"newsletter"}
	c, err := u.svc.CreateCampaign(ctx, list.CampaignInput{Name: &name, Subject: &subject, Body: &cbody, Lists: &lists}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.svc.TestSend(ctx, c.ID, []string{"tester@example.org"}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	msgs, _, err := u.svc.Outbox(ctx, 10)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("outbox = %v, %v", msgs, err)
	}
	raw, err := u.svc.OutboxMessage(ctx, msgs[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := parseMail(raw)
	if !strings.Contains(m.HTML, "CUSTOM-LAYOUT-7") || !strings.Contains(m.Text, "CUSTOM-TEXT-7") || !strings.Contains(m.HTML, "Sent body") {
		t.Errorf("sent message not in the custom layout:\n%s", raw)
	}
}

func TestUILayoutBrokenRefused(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("root")
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"html": {"<html>\n<body>\n{{.Body}\n</body></html>"}}, "layout.html:3"},
		{url.Values{"html": {customLayoutHTML}, "text": {"{{.Body}}\n{{if .List}}\n"}}, "layout.txt:3"},
		{url.Values{"html": {"<html><body>\n\n{{.Body}}{{.NoSuchField}}</body></html>"}}, "layout.html:3"},
	} {
		res, body := s.post("/admin/layout", tc.form)
		if res.StatusCode != http.StatusUnprocessableEntity || strings.Count(body, tc.want) != 1 || !strings.Contains(body, "The layout was not saved") {
			t.Errorf("save %q = %d, want 422 naming %s once\n%s", tc.form, res.StatusCode, tc.want, body)
		}
		// The broken text stays in the form to be fixed.
		if !strings.Contains(body, "&lt;body&gt;") {
			t.Errorf("save %q: the posted layout is not shown again", tc.form)
		}
		if info := storedLayout(t, u); info.Custom {
			t.Errorf("save %q stored a layout: %+v", tc.form, info)
		}
		res, body = s.post("/admin/layout/preview.html", tc.form)
		if res.StatusCode != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("preview %q = %d, want the error at %s\n%s", tc.form, res.StatusCode, tc.want, body)
		}
	}
}

func TestUILayoutWithoutFooter(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	bare := url.Values{"html": {"<html><body><main>BARE-7 {{.Body}}</main></body></html>"}, "text": {"BARE-7 {{.Body}}"}}
	// The unsaved preview shows the footer the builder adds, and warns.
	_, body := s.post("/admin/layout/preview.html", bare)
	if !strings.Contains(body, "BARE-7") || !strings.Contains(body, "1 Main St, Springfield") || !strings.Contains(body, "footer line is appended") {
		t.Errorf("bare preview lacks the layout, the postal address or the warning:\n%s", body)
	}
	if info := storedLayout(t, u); info.Custom {
		t.Fatal("a preview stored the layout")
	}
	if res, _ := s.post("/admin/layout", bare); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save a layout without footer = %d", res.StatusCode)
	}
	pv := campaignPreview(t, s)
	unsub := mailLink(t, pv.Text, "/unsubscribe/")
	for part, text := range map[string]string{"html": pv.HTML, "text": pv.Text} {
		if !strings.Contains(text, "BARE-7") || !strings.Contains(text, "1 Main St, Springfield") || !strings.Contains(text, unsub) {
			t.Errorf("%s part lacks the layout, the postal address or the unsubscribe link %s:\n%s", part, unsub, text)
		}
	}
}

// mailLink finds the first link to testBaseURL+path (/unsubscribe/,
// /confirm/) in a text part.
func mailLink(t *testing.T, s, path string) string {
	t.Helper()
	i := strings.Index(s, testBaseURL+path)
	if i < 0 {
		t.Fatalf("no %s link in:\n%s", path, s)
	}
	return strings.Fields(s[i:])[0]
}

func TestUILayoutReset(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	if res, _ := s.post("/admin/layout", url.Values{"html": {customLayoutHTML}, "text": {customLayoutText}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save = %d", res.StatusCode)
	}
	if res, _ := s.post("/admin/layout/reset", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset = %d", res.StatusCode)
	}
	if info := storedLayout(t, u); info.Custom || !strings.Contains(info.HTML, "max-width:640px") {
		t.Errorf("after reset = %+v", info)
	}
	pv := campaignPreview(t, s)
	if strings.Contains(pv.HTML, "CUSTOM-LAYOUT-7") || !strings.Contains(pv.HTML, "max-width:640px") {
		t.Errorf("preview after reset not in the built-in layout:\n%s", pv.HTML)
	}
	if _, body := s.get("/admin/layout?done=layout-reset"); !strings.Contains(body, "The built-in layout is in use") {
		t.Errorf("layout page after reset does not say so")
	}
}

func TestUILayoutAuthAndCSRF(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	b := (&env{t: t, h: u.h}).browser()
	if res, body := b.do(httptest.NewRequest("GET", "/admin/layout", nil)); res.StatusCode != 200 || !strings.Contains(body, `action="/admin/login"`) {
		t.Errorf("GET /admin/layout logged out = %d, want the login form", res.StatusCode)
	}
	if res, body := b.do(httptest.NewRequest("GET", "/admin/layout/preview.html", nil)); strings.Contains(body, "Sample campaign") || strings.Contains(body, "sample campaign") {
		t.Errorf("preview logged out = %d, shows the preview", res.StatusCode)
	}
	checkLayoutPostsRefused(t, u, b, "/admin/layout", customLayoutHTML)
	if info := storedLayout(t, u); info.Custom {
		t.Errorf("a refused request stored a layout: %+v", info)
	}
}

// checkLayoutPostsRefused posts html to the layout editor at base, its
// reset and its preview logged out (b: 401 with the login form saying the
// session ended), and to the editor and its reset logged in without a CSRF
// token, with a forged one and cross-site: every request must be refused
// (403).
func checkLayoutPostsRefused(t *testing.T, u *uiEnv, b *browser, base, html string) {
	t.Helper()
	form := url.Values{"html": {html}}
	for _, p := range []string{base, base + "/reset", base + "/preview.html"} {
		if res, body := b.do(formReq(p, form)); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "You are signed out") {
			t.Errorf("POST %s logged out = %d, want 401 with the login form", p, res.StatusCode)
		}
	}
	s := u.login("ed")
	for _, p := range []string{base, base + "/reset"} {
		if res, _ := s.do(formReq(p, form)); res.StatusCode != http.StatusForbidden { // no csrf field
			t.Errorf("POST %s without CSRF token = %d, want 403", p, res.StatusCode)
		}
		bad := url.Values{"html": {html}, "csrf": {"forged"}}
		if res, _ := s.do(formReq(p, bad)); res.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s with a forged token = %d, want 403", p, res.StatusCode)
		}
		req := formReq(p, url.Values{"html": {html}, "csrf": {s.token}})
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if res, _ := s.do(req); res.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s = %d, want 403", p, res.StatusCode)
		}
	}
}
