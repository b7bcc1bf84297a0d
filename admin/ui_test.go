package admin

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browser keeps cookies between requests to an env, like a browser would.
type browser struct {
	e       *env
	cookies map[string]*http.Cookie
	// mod adjusts every request (TLS, headers).
	mod func(*http.Request)
}

func (e *env) browser() *browser { return &browser{e: e, cookies: map[string]*http.Cookie{}} }

func (b *browser) do(req *http.Request) (*http.Response, string) {
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	if b.mod != nil {
		b.mod(req)
	}
	res, body := b.e.do(req)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	return res, body
}

func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in\n%s", body)
	}
	return m[1]
}

// login logs b in as user and returns the dashboard.
func (b *browser) login(t *testing.T, user, password string) (*http.Response, string) {
	t.Helper()
	_, body := b.do(httptest.NewRequest("GET", "/admin/", nil))
	return b.do(formReq("/admin/login", url.Values{"csrf": {csrf(t, body)}, "username": {user}, "password": {password}}))
}

func TestAdminLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.Outbox = true })
	e.addUser("root", list.RoleAdmin)
	b := e.browser()
	res, body := b.do(httptest.NewRequest("GET", "/admin/", nil))
	if res.StatusCode != 200 || !strings.Contains(body, `action="/admin/login"`) || b.cookies[loginCookie] == nil {
		t.Fatalf("GET /admin/ logged out = %d\n%s", res.StatusCode, body)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Error("admin page is cacheable")
	}
	token := csrf(t, body)

	// No token, a wrong token, or no login cookie: 403 and no session.
	for name, req := range map[string]*http.Request{
		"no token":    formReq("/admin/login", url.Values{"username": {"root"}, "password": {"root-password"}}),
		"wrong token": formReq("/admin/login", url.Values{"csrf": {"x" + token}, "username": {"root"}, "password": {"root-password"}}),
	} {
		if res, _ := b.do(req); res.StatusCode != 403 || b.cookies[sessionCookie] != nil {
			t.Errorf("login with %s = %d", name, res.StatusCode)
		}
	}
	if res, _ := e.do(formReq("/admin/login", url.Values{"csrf": {token}, "username": {"root"}, "password": {"root-password"}})); res.StatusCode != 403 {
		t.Errorf("login without the login cookie = %d", res.StatusCode)
	}
	// Cross-origin POST: refused by the origin check even with a token.
	req := formReq("/admin/login", url.Values{"csrf": {token}, "username": {"root"}, "password": {"root-password"}})
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, _ := b.do(req); res.StatusCode != 403 || b.cookies[sessionCookie] != nil {
		t.Errorf("cross-site login = %d", res.StatusCode)
	}

	res, body = b.do(formReq("/admin/login", url.Values{"csrf": {token}, "username": {"root"}, "password": {"wrong"}}))
	if res.StatusCode != 401 || !strings.Contains(body, "Wrong user name or password") || !strings.Contains(body, `value="root"`) {
		t.Errorf("wrong password = %d\n%s", res.StatusCode, body)
	}

	res, _ = b.do(formReq("/admin/login", url.Values{"csrf": {token}, "username": {"root"}, "password": {"root-password"}}))
	if res.StatusCode != 303 || res.Header.Get("Location") != "/admin/" {
		t.Fatalf("login = %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	var sc *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/admin" || !sc.Secure {
		t.Errorf("session cookie = %+v (want HttpOnly, SameSite=Lax, Path=/admin, Secure under an HTTPS base URL)", sc)
	}

	res, body = b.do(httptest.NewRequest("GET", "/admin/", nil))
	if res.StatusCode != 200 || !strings.Contains(body, "Newsletter") || !strings.Contains(body, "No relay is configured") ||
		!strings.Contains(body, "root (admin)") {
		t.Fatalf("dashboard = %d\n%s", res.StatusCode, body)
	}
	if res, _ := b.do(httptest.NewRequest("GET", "/admin/login", nil)); res.StatusCode != 303 {
		t.Errorf("login page when logged in = %d, want a redirect", res.StatusCode)
	}
	// The session cookie does not authenticate the API.
	apiRes, _ := b.do(httptest.NewRequest("GET", "/api/v1/lists", nil))
	if apiRes.StatusCode != 401 {
		t.Errorf("API with session cookie = %d, want 401", apiRes.StatusCode)
	}

	// Logout needs the session's CSRF token.
	if res, _ := b.do(formReq("/admin/logout", nil)); res.StatusCode != 403 {
		t.Errorf("logout without token = %d, want 403", res.StatusCode)
	}
	if res, _ := b.do(formReq("/admin/logout", url.Values{"csrf": {token}})); res.StatusCode != 403 {
		t.Errorf("logout with the login token = %d, want 403", res.StatusCode)
	}
	res, _ = b.do(formReq("/admin/logout", url.Values{"csrf": {csrf(t, body)}}))
	if res.StatusCode != 303 {
		t.Fatalf("logout = %d", res.StatusCode)
	}
	if _, body := b.do(httptest.NewRequest("GET", "/admin/", nil)); !strings.Contains(body, `action="/admin/login"`) {
		t.Error("still logged in after logout")
	}
	// The old session id is dead, even if replayed.
	old := &browser{e: e, cookies: map[string]*http.Cookie{sessionCookie: {Name: sessionCookie, Value: sc.Value}}}
	if _, body := old.do(httptest.NewRequest("GET", "/admin/", nil)); !strings.Contains(body, `action="/admin/login"`) {
		t.Error("old session id still works after logout")
	}
}

func TestAdminSecureCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	e.addUser("root", list.RoleAdmin)
	cases := []struct {
		name    string
		baseURL string
		mod     func(*http.Request)
		secure  bool
	}{
		{"https base URL, plain request", testBaseURL, func(*http.Request) {}, true},
		{"plain", "http://news.example", func(*http.Request) {}, false},
		{"tls", "http://news.example", func(r *http.Request) { r.TLS = &tls.ConnectionState{} }, true},
		{"trusted proxy https", "http://news.example", func(r *http.Request) { r.RemoteAddr = "10.0.0.1:1"; r.Header.Set("X-Forwarded-Proto", "https") }, true},
		{"untrusted proxy https", "http://news.example", func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") }, false},
	}
	for _, c := range cases {
		cfg := e.svc.Config()
		cfg.BaseURL = c.baseURL
		e.svc.SetConfig(cfg)
		b := e.browser()
		b.mod = c.mod
		res, _ := b.login(t, "root", "root-password")
		var sc *http.Cookie
		for _, ck := range res.Cookies() {
			if ck.Name == sessionCookie {
				sc = ck
			}
		}
		if sc == nil || sc.Secure != c.secure {
			t.Errorf("%s: session cookie %+v, want Secure=%v", c.name, sc, c.secure)
		}
	}
}

func TestAdminCrossOriginForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	b := e.browser()
	_, body := b.login(t, "root", "root-password")
	_, body = b.do(httptest.NewRequest("GET", "/admin/", nil))
	token := csrf(t, body)
	req := formReq("/admin/logout", url.Values{"csrf": {token}})
	req.Header.Set("Origin", "https://evil.example")
	req.Host = "news.example"
	if res, _ := b.do(req); res.StatusCode != 403 {
		t.Errorf("cross-origin logout = %d, want 403", res.StatusCode)
	}
	if res, body := b.do(httptest.NewRequest("GET", "/admin/", nil)); res.StatusCode != 200 || !strings.Contains(body, "Log out") {
		t.Error("cross-origin logout ended the session")
	}
}
