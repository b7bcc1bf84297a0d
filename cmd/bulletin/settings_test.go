package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var csrfFieldRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// uiClient is a browser logged in to a running server's admin UI.
type uiClient struct {
	t    *testing.T
	c    *http.Client
	base string
}

func loginUI(t *testing.T, base string) *uiClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &uiClient{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	res, _ := u.post("/admin/login", url.Values{"username": {"admin"}, "password": {testPassword}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login = %d", res.StatusCode)
	}
	return u
}

func (u *uiClient) get(path string) (*http.Response, string) {
	u.t.Helper()
	res, err := u.c.Get(u.base + path)
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// post sends a form with the CSRF token of the page at path (or the login
// form).
func (u *uiClient) post(path string, v url.Values) (*http.Response, string) {
	u.t.Helper()
	page := path
	if strings.HasPrefix(path, "/admin/login") {
		page = "/admin/"
	}
	_, body := u.get(page)
	m := csrfFieldRE.FindStringSubmatch(body)
	if m == nil {
		u.t.Fatalf("no CSRF token on %s", page)
	}
	v.Set("csrf", m[1])
	res, err := u.c.PostForm(u.base+path, v)
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestSettingsSurviveRestart(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := startServer(t, data)
	ui := loginUI(t, s.base)
	// BULLETIN_POSTAL_ADDRESS is set by startServer: the field is locked.
	_, body := ui.get("/admin/settings")
	if !strings.Contains(body, "set by <code>--postal-address / BULLETIN_POSTAL_ADDRESS</code>") {
		t.Errorf("the postal address set by the environment is not read-only:\n%s", body)
	}
	res, body := ui.post("/admin/settings", url.Values{"privacy_url": {"https://news.test/privacy"}, "rate": {"7"},
		"postal_address": {"Elsewhere 1"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "postal address is set by --postal-address") {
		t.Errorf("changing the locked postal address = %d", res.StatusCode)
	}
	res, _ = ui.post("/admin/settings", url.Values{"privacy_url": {"https://news.test/privacy"}, "rate": {"7"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save settings = %d", res.StatusCode)
	}
	// In force at once: the public form links the new policy.
	if _, body := ui.get("/subscribe/newsletter"); !strings.Contains(body, "https://news.test/privacy") {
		t.Error("the saved privacy URL is not in force")
	}
	s.shutdown(t)

	// Restarted: still saved and in force, the rate too.
	s = startServer(t, data)
	ui = loginUI(t, s.base)
	if _, body := ui.get("/subscribe/newsletter"); !strings.Contains(body, "https://news.test/privacy") {
		t.Error("the saved privacy URL did not survive a restart")
	}
	_, body = ui.get("/admin/settings")
	if !strings.Contains(body, `value="https://news.test/privacy"`) || !strings.Contains(body, "In force: <code>7</code>") {
		t.Errorf("settings after a restart:\n%s", body)
	}
	if !strings.Contains(body, "v=DKIM1; k=rsa; p=") {
		t.Error("the settings page does not show the DKIM record to publish")
	}
	// The doctor runs with the live keys and settings (DNS on loopback).
	res, body = ui.post("/admin/settings/check", url.Values{})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="checks"`) || !strings.Contains(body, "Postal address") && !strings.Contains(body, "postal address") {
		t.Errorf("check = %d\n%s", res.StatusCode, body)
	}
	s.shutdown(t)

	// A flag wins over the saved setting and locks the field.
	s = startServer(t, data, "--privacy-url", "https://flag.test/policy")
	ui = loginUI(t, s.base)
	if _, body := ui.get("/subscribe/newsletter"); !strings.Contains(body, "https://flag.test/policy") || strings.Contains(body, "https://news.test/privacy") {
		t.Error("the flag does not override the saved privacy URL")
	}
	_, body = ui.get("/admin/settings")
	if !strings.Contains(body, `value="https://flag.test/policy" placeholder="https://flag.test/policy" disabled`) ||
		!strings.Contains(body, "set by <code>--privacy-url / BULLETIN_PRIVACY_URL</code>") {
		t.Errorf("the flag's privacy URL is not shown locked:\n%s", body)
	}
	res, _ = ui.post("/admin/settings", url.Values{"privacy_url": {"https://news.test/other"}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("changing a flag's setting = %d, want 422", res.StatusCode)
	}
}

// TestBounceFlagsKeepSavedRules checks that a bounce-rule flag overrides
// only its own rule: the others keep what was saved on the settings page,
// and the flag's rule shows read-only there.
func TestBounceFlagsKeepSavedRules(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := startServer(t, data)
	ui := loginUI(t, s.base)
	res, _ := ui.post("/admin/settings/bounces", url.Values{"hard_limit": {"2"}, "soft_limit": {"5"}, "soft_days": {"10"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save the bounce rules = %d", res.StatusCode)
	}
	s.shutdown(t)

	s = startServer(t, data, "--hard-bounce-limit", "4")
	ui = loginUI(t, s.base)
	_, body := ui.get("/admin/settings")
	if !strings.Contains(body, "blocklist after 4 hard bounce(s), or 5 soft bounces within 10 days") {
		t.Errorf("rules with --hard-bounce-limit 4 over 2/5/10:\n%s", body)
	}
	if !strings.Contains(body, `name="hard_limit" min="1" value="4" disabled>`) ||
		!strings.Contains(body, "set by <code>--hard-bounce-limit / BULLETIN_HARD_BOUNCE_LIMIT</code>") {
		t.Errorf("the hard bounce limit set by flag is not read-only:\n%s", body)
	}
	s.shutdown(t)

	// Stored as given (DESIGN.md), the other rules untouched.
	s = startServer(t, data)
	ui = loginUI(t, s.base)
	if _, body := ui.get("/admin/settings"); !strings.Contains(body, "blocklist after 4 hard bounce(s), or 5 soft bounces within 10 days") ||
		strings.Contains(body, `value="4" disabled`) {
		t.Errorf("rules after a restart without flags:\n%s", body)
	}
}
