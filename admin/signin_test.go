package admin

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

var (
	nextRE = regexp.MustCompile(`name="next" value="([^"]*)"`)
	hereRE = regexp.MustCompile(`data-here="([^"]*)"`)
)

// loginNext is the page the sign-in form on body goes on to ("": none).
func loginNext(body string) string {
	if m := nextRE.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"/admin/campaigns/7", "/admin/campaigns/7"},
		{"/admin/campaigns/7?done=x&y=1", "/admin/campaigns/7?done=x&y=1"},
		{"/admin/", "/admin/"},
		{"", ""},
		{"/", ""},
		{"/admin", ""},
		{"/adminx/", ""},
		{"/public/page", ""},
		{"//evil.example/admin/", ""},
		{"///evil.example/admin/", ""},
		{`/\evil.example/admin/`, ""},
		{`/admin/\evil`, ""},
		{"https://evil.example/admin/", ""},
		{"javascript:alert(1)", ""},
		{"/admin/\r\nSet-Cookie: x=1", ""},
		{"/admin/\x00", ""},
		{"/admin/login", ""},
		{"/admin/login?next=/admin/lists", ""},
		{"/admin/logout", ""},
		{"/admin/" + strings.Repeat("x", maxNext), ""},
	} {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestUISignInGoesBack: a form sent after the session ended answers the
// sign-in form (401, nothing saved), which goes back to the page the form
// was on once signed in; and the sign-in answering a POST gives the
// browser a GET address of itself for its history (admin.js).
func TestUISignInGoesBack(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	res, _ := s.post("/admin/campaigns", url.Values{"subject": {"Hi"}, "body": {"Saved words"}, "format": {"markdown"}, "lists": {"newsletter"}})
	draft, _, _ := strings.Cut(res.Header.Get("Location"), "?")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(draft, "/admin/campaigns/") {
		t.Fatalf("create = %d %q", res.StatusCode, draft)
	}
	if res, _ := s.post("/admin/logout", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d", res.StatusCode)
	}
	res, body := s.post(draft, url.Values{"subject": {"Hi"}, "body": {"Unsaved words"}, "format": {"markdown"}, "lists": {"newsletter"}})
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "You are signed out") || loginNext(body) != draft {
		t.Fatalf("save signed out = %d, next %q, want 401 going back to %s\n%s", res.StatusCode, loginNext(body), draft, body)
	}
	if m := hereRE.FindStringSubmatch(body); m == nil || html.UnescapeString(m[1]) != "/admin/login?next="+url.QueryEscape(draft) {
		t.Errorf("the sign-in answering the POST gives the history %v", m)
	}
	id, err := pathIDOf(draft)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := u.svc.GetCampaign(t.Context(), list.CampaignID(id)); err != nil || c.Body != "Saved words" {
		t.Fatalf("the draft after a save signed out: %q %v", c.Body, err)
	}
	res, _ = s.do(formReq("/admin/login", url.Values{"csrf": {csrf(t, body)}, "username": {"ed"}, "password": {"ed-password"}, "next": {loginNext(body)}}))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != draft {
		t.Fatalf("sign in = %d to %q, want %s", res.StatusCode, res.Header.Get("Location"), draft)
	}
	// The sign-in form in the history, loaded again signed in, goes on.
	res, _ = s.get("/admin/login?next=" + url.QueryEscape(draft))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != draft {
		t.Errorf("the sign-in form signed in = %d to %q, want %s", res.StatusCode, res.Header.Get("Location"), draft)
	}
}

// TestUISignInFormPage: the sign-in form for a form sent signed out goes
// back to the page the form was on, a page a GET route serves; for a GET,
// to the address asked for.
func TestUISignInFormPage(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	b := (&env{t: t, h: u.h}).browser()
	for _, tc := range []struct{ post, want string }{
		{"/admin/campaigns/7", "/admin/campaigns/7"},
		{"/admin/campaigns/7/send", "/admin/campaigns/7"},
		{"/admin/campaigns", "/admin/campaigns/new"},
		{"/admin/lists", "/admin/lists/new"},
		{"/admin/lists/newsletter", "/admin/lists/newsletter"},
		{"/admin/lists/newsletter/delete", "/admin/lists/newsletter/delete"},
		{"/admin/templates/newsletter", "/admin/templates"},
		{"/admin/subscribers/9/lists/newsletter/unsubscribe", "/admin/subscribers/9"},
		{"/admin/account/tokens/3/delete", "/admin/account"},
		{"/admin/users", "/admin/users"},
		{"/admin/layout/system", "/admin/layout/system"},
		{"/admin/settings/bounces", "/admin/settings"},
		// The upload (its own adapter): "/admin/import/new" would be the
		// job named "new".
		{"/admin/import", "/admin/import"},
		{"/admin/logout", "/admin/"},
	} {
		res, body := b.do(formReq(tc.post, url.Values{"x": {"1"}}))
		if res.StatusCode != http.StatusUnauthorized || loginNext(body) != tc.want {
			t.Errorf("POST %s signed out = %d going back to %q, want 401 and %q", tc.post, res.StatusCode, loginNext(body), tc.want)
		}
	}
	res, body := b.do(httptest.NewRequest("GET", "/admin/campaigns/7?x=1&y=2", nil))
	if res.StatusCode != http.StatusOK || loginNext(body) != "/admin/campaigns/7?x=1&y=2" || hereRE.MatchString(body) {
		t.Errorf("GET signed out = %d going back to %q (history %v)", res.StatusCode, loginNext(body), hereRE.FindStringSubmatch(body))
	}
}

// TestUISignInNoOpenRedirect: a sign-in goes on only to a page of the
// admin UI, whatever next says.
func TestUISignInNoOpenRedirect(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	for i, tc := range []struct{ next, want string }{
		{"/admin/lists?x=1", "/admin/lists?x=1"},
		{"https://evil.example/", "/admin/"},
		{"//evil.example/admin/", "/admin/"},
		{`/\evil.example/`, "/admin/"},
		{"/admin/\r\nSet-Cookie: a=b", "/admin/"},
		{"javascript:alert(1)", "/admin/"},
		{"/admin/login", "/admin/"},
		{"", "/admin/"},
	} {
		b := (&env{t: t, h: u.h}).browser()
		// Each case comes from an address of its own: together their
		// wrong passwords would reach the login limits (logins.go).
		from := func(r *http.Request) *http.Request {
			r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", 10+i)
			return r
		}
		_, body := b.do(from(httptest.NewRequest("GET", "/admin/login?next="+url.QueryEscape(tc.next), nil)))
		if got := loginNext(body); got != safeNext(tc.next) {
			t.Errorf("the sign-in form for next %q goes on to %q", tc.next, got)
		}
		form := url.Values{"csrf": {csrf(t, body)}, "username": {"ed"}, "password": {"wrong"}, "next": {tc.next}}
		res, body := b.do(from(formReq("/admin/login", form)))
		if res.StatusCode != http.StatusUnauthorized || loginNext(body) != safeNext(tc.next) {
			t.Errorf("a wrong password with next %q = %d, going on to %q", tc.next, res.StatusCode, loginNext(body))
		}
		form.Set("password", "ed-password")
		res, _ = b.do(from(formReq("/admin/login", form)))
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tc.want {
			t.Errorf("sign in with next %q = %d to %q, want %q", tc.next, res.StatusCode, res.Header.Get("Location"), tc.want)
		}
		// Signed in, the sign-in form goes on at once, as carefully.
		res, _ = b.do(from(httptest.NewRequest("GET", "/admin/login?next="+url.QueryEscape(tc.next), nil)))
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tc.want {
			t.Errorf("GET /admin/login?next=%q signed in = %d to %q, want %q", tc.next, res.StatusCode, res.Header.Get("Location"), tc.want)
		}
	}
}
