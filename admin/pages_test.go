package admin

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/list/logtest"
	"golang.org/x/net/html"
)

// resourceURLs returns the URLs an HTML page loads by itself (scripts,
// stylesheets, images, frames, media), as opposed to links a person follows.
func resourceURLs(t *testing.T, page string) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch {
				case a.Key == "src", a.Key == "srcset", a.Key == "poster", a.Key == "data" && n.Data == "object",
					a.Key == "href" && n.Data == "link", a.Key == "style" && strings.Contains(a.Val, "url("):
					out = append(out, a.Val)
				}
			}
			if n.Data == "style" && n.FirstChild != nil && strings.Contains(n.FirstChild.Data, "@import") {
				out = append(out, "@import in <style>")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// sameOrigin reports whether a resource URL stays on the server; a data:
// URL (the empty icon) fetches nothing.
func sameOrigin(ref string) bool {
	u, err := url.Parse(ref)
	return err == nil && (u.Scheme == "" || u.Scheme == "data") && u.Host == "" && !strings.HasPrefix(ref, "//")
}

func checkPage(t *testing.T, name string, res *http.Response, body string) {
	t.Helper()
	if got := res.Header.Get("Content-Security-Policy"); got != contentSecurityPolicy {
		t.Errorf("%s: CSP = %q", name, got)
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("%s: security headers = %v", name, res.Header)
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		return
	}
	urls := resourceURLs(t, body)
	if len(urls) == 0 {
		t.Errorf("%s: page loads no stylesheet", name)
	}
	for _, u := range urls {
		if !sameOrigin(u) {
			t.Errorf("%s: external resource %q", name, u)
		}
	}
	for _, want := range []string{`<html lang="en">`, `name="viewport"`, `<main id="main"`} {
		if !strings.Contains(body, want) {
			t.Errorf("%s: page lacks %s", name, want)
		}
	}
}

func TestPagesSelfContained(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.Outbox = true })
	e.addUser("root", list.RoleAdmin)
	if _, err := e.svc.UpdateList(t.Context(), "newsletter", list.ListPatch{Attributes: &[]string{"city"}}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	e.svc.SetConfig(list.Config{BaseURL: testBaseURL, Domain: "news.example", PrivacyURL: "https://news.example/privacy"})
	confirm := e.subscribe("page@example.com")
	pages := map[string]func() (*http.Response, string){
		"subscribe":     func() (*http.Response, string) { return e.get("/subscribe/newsletter") },
		"subscribe 422": func() (*http.Response, string) { return e.post("/subscribe/newsletter", url.Values{"email": {"x"}}) },
		"check inbox": func() (*http.Response, string) {
			return e.post("/subscribe/newsletter", url.Values{"email": {"q@example.com"}})
		},
		"confirm":        func() (*http.Response, string) { return e.get(confirm) },
		"bad token":      func() (*http.Response, string) { return e.get("/confirm/nope") },
		"404":            func() (*http.Response, string) { return e.get("/nowhere") },
		"admin login":    func() (*http.Response, string) { return e.get("/admin/") },
		"admin 404":      func() (*http.Response, string) { return e.get("/admin/nowhere") },
		"confirmed":      func() (*http.Response, string) { return e.post(confirm, nil) },
		"healthz":        func() (*http.Response, string) { return e.get("/healthz") },
		"api":            func() (*http.Response, string) { return e.get("/api/v1/lists") },
		"static":         func() (*http.Response, string) { return e.get("/static/style.css") },
		"static listing": func() (*http.Response, string) { return e.get("/static/") },
	}
	order := []string{"subscribe", "subscribe 422", "check inbox", "confirm", "bad token", "404", "admin login",
		"admin 404", "confirmed", "healthz", "api", "static", "static listing"}
	for _, name := range order {
		res, body := pages[name]()
		checkPage(t, name, res, body)
		if name == "subscribe" && !strings.Contains(body, `href="https://news.example/privacy"`) {
			t.Error("subscribe form lacks the privacy link")
		}
	}
	w := e.drain()
	var welcome *list.Message
	for _, m := range w {
		if m.Kind == list.MailWelcome {
			welcome = m
		}
	}
	if welcome == nil {
		t.Fatal("no welcome mail")
	}
	for name, p := range map[string]string{"unsubscribe": pathOf(welcome.UnsubscribeURL), "manage": pathOf(welcome.ManageURL)} {
		res, body := e.get(p)
		checkPage(t, name, res, body)
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control = %q", name, res.Header.Get("Cache-Control"))
		}
		res, body = e.post(p, url.Values{"action": {"save"}, "list": {"newsletter"}})
		checkPage(t, name+" POST", res, body)
	}
	b := e.browser()
	res, body := b.login(t, "root", "root-password")
	checkPage(t, "login redirect", res, body)
	res, body = b.do(httptest.NewRequest("GET", "/admin/", nil))
	checkPage(t, "dashboard", res, body)

	if res, body := e.get("/static/style.css"); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") || strings.Contains(body, "@import") || strings.Contains(body, "url(http") {
		t.Errorf("style.css = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res, _ := e.get("/static/"); res.StatusCode != 404 {
		t.Errorf("static listing = %d, want 404", res.StatusCode)
	}
}

func TestOperations(t *testing.T) {
	t.Parallel()
	ready := errors.New("store closed")
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("bulletin_up 1\n")) })
	e := newEnv(t, func(o *Options) {
		o.Ready = func() error { return ready }
		o.Metrics = metrics
	})
	if res, body := e.get("/healthz"); res.StatusCode != 200 || body != "ok\n" {
		t.Errorf("healthz = %d %q", res.StatusCode, body)
	}
	if res, body := e.get("/readyz"); res.StatusCode != 503 || strings.Contains(body, "store closed") {
		t.Errorf("readyz not ready = %d %q", res.StatusCode, body)
	}
	ready = nil
	if res, _ := e.get("/readyz"); res.StatusCode != 200 {
		t.Errorf("readyz = %d", res.StatusCode)
	}
	if res, body := e.get("/metrics"); res.StatusCode != 200 || body != "bulletin_up 1\n" {
		t.Errorf("metrics = %d %q", res.StatusCode, body)
	}
	e2 := newEnv(t)
	if res, _ := e2.get("/metrics"); res.StatusCode != 404 {
		t.Errorf("metrics without handler = %d", res.StatusCode)
	}
}

func TestNewChecksOptions(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{}); err == nil {
		t.Error("New without a service succeeded")
	}
}

func TestLogsHoldNoTokensOrAddresses(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	e := newEnv(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.addUser("root", list.RoleAdmin)
	confirm := e.subscribe("secret.person@example.com")
	e.get(confirm)
	e.post(confirm, nil)
	e.get("/confirm/forgedtoken")
	e.post("/subscribe/newsletter", url.Values{"email": {"bot.person@example.com"}, "website": {"x"}})
	e.do(apiReq("GET", "/api/v1/subscribers?email=secret.person@example.com", "root", nil))
	e.browser().login(t, "root", "pw-guess-xyz")
	logs := buf.String()
	token := strings.TrimPrefix(confirm, "/confirm/")
	for _, secret := range []string{token, "forgedtoken", "secret.person", "bot.person", "root-password", "pw-guess-xyz"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "route=/confirm/{token}") || !strings.Contains(logs, "request_id=") {
		t.Errorf("access log lacks route templates or request ids:\n%s", logs)
	}
}

// syncBuffer keeps the logs of a server under test.
type syncBuffer = logtest.Buffer
