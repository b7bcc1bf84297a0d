package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

// apiEnv is an env with an admin and an editor account.
func apiEnv(t *testing.T) *env {
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	e.addUser("ed", list.RoleEditor)
	return e
}

// call makes an API request as user and decodes the JSON answer into out
// (when not nil); it fails the test on a status other than want.
func (e *env) call(method, path, user string, body any, want int, out any) *http.Response {
	e.t.Helper()
	res, text := e.do(apiReq(method, path, user, body))
	if res.StatusCode != want {
		e.t.Fatalf("%s %s = %d, want %d\n%s", method, path, res.StatusCode, want, text)
	}
	if ct := res.Header.Get("Content-Type"); want != 204 && !strings.HasPrefix(path, "/api/v1/export") && !strings.HasPrefix(ct, "application/json") {
		e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			e.t.Fatalf("%s %s: %v\n%s", method, path, err, text)
		}
	}
	return res
}

type apiErr struct {
	Error string `json:"error"`
}

func TestAPIAuth(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	for _, c := range []struct {
		name string
		mod  func(*http.Request)
	}{
		{"none", func(r *http.Request) {}},
		{"wrong password", func(r *http.Request) { r.SetBasicAuth("root", "nope") }},
		{"unknown user", func(r *http.Request) { r.SetBasicAuth("nobody", "nobody-password") }},
		{"bad bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer blt_nope") }},
		{"session cookie only", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: sessionCookie, Value: "x"}) }},
	} {
		req := httptest.NewRequest("GET", "/api/v1/lists", nil)
		c.mod(req)
		res, body := e.do(req)
		var ae apiErr
		if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), `Basic realm="bulletin"`) ||
			json.Unmarshal([]byte(body), &ae) != nil || ae.Error == "" {
			t.Errorf("%s: %d, WWW-Authenticate %q, body %s", c.name, res.StatusCode, res.Header.Get("WWW-Authenticate"), body)
		}
	}
	e.call("GET", "/api/v1/lists", "root", nil, 200, nil)
	e.call("GET", "/api/v1/lists", "ed", nil, 200, nil)

	// Bearer tokens.
	u, err := e.svc.Authenticate(t.Context(), "ed", "ed-password")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.svc.CreateAPIToken(t.Context(), u.ID, "ci", list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateAPIToken(t.Context(), u.ID, "  ", list.Origin{}); !errors.Is(err, list.ErrInvalid) {
		t.Errorf("a token without a name: %v, want ErrInvalid", err)
	}
	req := httptest.NewRequest("GET", "/api/v1/lists", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if res, body := e.do(req); res.StatusCode != 200 {
		t.Errorf("bearer = %d %s", res.StatusCode, body)
	}
}

func TestAPIBasicCache(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	e.call("GET", "/api/v1/lists", "root", nil, 200, nil)
	if _, ok := e.srv.basicCache.get(credentialKey("root", "root-password"), e.now()); !ok {
		t.Fatal("verified credentials were not cached")
	}
	start := time.Now()
	for range 20 {
		e.call("GET", "/api/v1/lists", "root", nil, 200, nil)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("20 cached calls took %v", d)
	}
	e.advance(basicCacheTTL + time.Second)
	if _, ok := e.srv.basicCache.get(credentialKey("root", "root-password"), e.now()); ok {
		t.Error("cache entry outlived its TTL")
	}
	// A wrong password is never served from the cache.
	e.call("GET", "/api/v1/lists", "root", nil, 200, nil)
	req := httptest.NewRequest("GET", "/api/v1/lists", nil)
	req.SetBasicAuth("root", "root-password ")
	if res, _ := e.do(req); res.StatusCode != 401 {
		t.Errorf("near-miss password = %d", res.StatusCode)
	}
}

func TestAPIRoles(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	// A later admin-only route (users, settings, backup) is wrapped so.
	h := e.srv.middleware(e.srv.api(adminOnly(func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, 200, map[string]string{"ok": "yes"})
	})))
	for _, c := range []struct {
		user string
		want int
	}{{"root", 200}, {"ed", 403}, {"", 401}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, apiReq("GET", "/api/v1/users", c.user, nil))
		if rec.Code != c.want {
			t.Errorf("%q: %d, want %d", c.user, rec.Code, c.want)
		}
	}
}

func TestAPILists(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	var got listJSON
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"dev","name":"Developers","description":"For devs","optin":"single","public":true,"consent_text":"OK","from":"Dev <dev@news.example>","welcome_text":"Hi","attributes":["city"]}`, 201, &got)
	want := listJSON{ID: got.ID, Slug: "dev", Name: "Developers", Description: "For devs", OptIn: "single", Public: true,
		ConsentText: "OK", From: "Dev <dev@news.example>", WelcomeText: "Hi", Attributes: []string{"city"}}
	if fmt.Sprint(got) != fmt.Sprint(want) || got.ID == 0 {
		t.Errorf("POST = %+v, want %+v", got, want)
	}
	// The answer carries exactly the contract's fields (plus attributes).
	res, body := e.do(apiReq("GET", "/api/v1/lists/dev", "ed", nil))
	var raw map[string]json.RawMessage
	json.Unmarshal([]byte(body), &raw)
	for _, k := range []string{"id", "slug", "name", "description", "optin", "public", "consent_text", "from", "welcome_text", "counts"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("list JSON lacks %q: %s", k, body)
		}
	}
	if res.StatusCode != 200 || string(raw["counts"]) != `{"unconfirmed":0,"confirmed":0,"unsubscribed":0}` {
		t.Errorf("GET = %d %s", res.StatusCode, body)
	}

	var er apiErr
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"dev","name":"Again"}`, 409, &er)
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"Bad Slug","name":"x"}`, 422, &er)
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"x","name":""}`, 422, &er)
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"x","name":"x","optin":"triple"}`, 422, &er)
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"x","name":"x","public":"yes"}`, 422, &er)
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"x","name":"x","colour":"red"}`, 422, &er)
	if !strings.Contains(er.Error, "colour") {
		t.Errorf("unknown field error = %q", er.Error)
	}
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"x",`, 400, &er)
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"x","name":"x"} {}`, 400, &er)
	e.call("POST", "/api/v1/lists", "ed", "", 400, &er)
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"x","name":"`+strings.Repeat("x", 1<<20)+`"}`, 413, &er)

	var upd listJSON
	e.call("PUT", "/api/v1/lists/dev", "ed", `{"name":"Devs"}`, 200, &upd)
	if upd.Name != "Devs" || upd.Description != "For devs" || upd.OptIn != "single" {
		t.Errorf("PUT partial = %+v", upd)
	}
	// A GET answer can be sent back as is.
	_, body = e.do(apiReq("GET", "/api/v1/lists/dev", "ed", nil))
	e.call("PUT", "/api/v1/lists/dev", "ed", body, 200, nil)
	e.call("PUT", "/api/v1/lists/dev", "ed", `{"slug":"other"}`, 422, &er)
	e.call("PUT", "/api/v1/lists/dev", "ed", `{"optin":"maybe"}`, 422, &er)
	e.call("PUT", "/api/v1/lists/nope", "ed", `{"name":"x"}`, 404, &er)

	var pg page[listJSON]
	e.call("GET", "/api/v1/lists", "ed", nil, 200, &pg)
	if pg.Total != 2 || len(pg.Items) != 2 || pg.Items[0].Slug != "newsletter" || pg.Next != nil {
		t.Errorf("GET lists = %+v", pg)
	}
	e.call("GET", "/api/v1/lists?limit=1", "ed", nil, 200, &pg)
	if len(pg.Items) != 1 || pg.Next == nil {
		t.Fatalf("GET lists?limit=1 = %+v", pg)
	}
	e.call("GET", fmt.Sprintf("/api/v1/lists?limit=1&after=%d", *pg.Next), "ed", nil, 200, &pg)
	if len(pg.Items) != 1 || pg.Items[0].Slug != "dev" || pg.Next != nil {
		t.Errorf("second page = %+v", pg)
	}
	e.call("GET", "/api/v1/lists?limit=0", "ed", nil, 422, &er)
	e.call("GET", "/api/v1/lists?after=x", "ed", nil, 422, &er)

	e.call("DELETE", "/api/v1/lists/dev", "ed", nil, 204, nil)
	e.call("GET", "/api/v1/lists/dev", "ed", nil, 404, &er)
	e.call("DELETE", "/api/v1/lists/dev", "ed", nil, 404, &er)
	e.call("PATCH", "/api/v1/lists/newsletter", "ed", nil, 405, &er)
	e.call("GET", "/api/v1/nothing", "ed", nil, 404, &er)
}

func TestAPISubscribers(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	var er apiErr
	var s subscriberJSON
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"Amy@Example.com","name":"Amy","attributes":{"city":"Oslo"},"lists":["newsletter"],"state":"confirmed","reason":"signed paper form"}`, 201, &s)
	if s.ID == 0 || s.Email != "Amy@Example.com" || len(s.Subscriptions) != 1 || s.Subscriptions[0].List != "newsletter" ||
		s.Subscriptions[0].State != list.StateConfirmed || s.Subscriptions[0].Consent == nil || s.Subscriptions[0].Consent.Reason != "signed paper form" {
		t.Fatalf("POST = %+v", s)
	}
	if len(s.Events) == 0 {
		t.Error("POST answer has no events")
	}
	_, body := e.do(apiReq("GET", fmt.Sprintf("/api/v1/subscribers/%d", s.ID), "ed", nil))
	for _, want := range []string{`"list":"newsletter"`, `"created_at":"2026-03-01T12:00:00Z"`, `"confirmed_at":"2026-03-01T12:00:00Z"`, `"unsubscribed_at":null`, `"blocklisted":false`, `"events":[`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET subscriber lacks %s: %s", want, body)
		}
	}
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"amy@example.com","lists":["newsletter"]}`, 409, &er)
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"b@example.com","lists":["newsletter"],"state":"confirmed"}`, 422, &er)
	if !strings.Contains(er.Error, "reason") {
		t.Errorf("error = %q", er.Error)
	}
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"nope","lists":["newsletter"]}`, 422, &er)
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"b@example.com","lists":["nope"]}`, 422, &er)
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"b@example.com","list":["newsletter"]}`, 422, &er)
	// Unconfirmed additions get the confirmation mail.
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"b@example.com","lists":["newsletter"]}`, 201, nil)
	if msgs := e.drain(); len(msgs) != 1 || msgs[0].ConfirmURL == "" {
		t.Errorf("unconfirmed addition: %d mails", len(msgs))
	}

	for i := range 5 {
		e.call("POST", "/api/v1/subscribers", "ed", fmt.Sprintf(`{"email":"p%d@example.com","name":"Page %d","lists":["newsletter"],"state":"confirmed","reason":"test"}`, i, i), 201, nil)
	}
	// Paging with cursors, oldest first.
	var seen []string
	next := ""
	for pages := 0; ; pages++ {
		var pg page[subscriberJSON]
		e.call("GET", "/api/v1/subscribers?q=p&limit=2"+next, "ed", nil, 200, &pg)
		for _, it := range pg.Items {
			seen = append(seen, it.Email)
			if it.Events != nil {
				t.Error("collection items carry events")
			}
		}
		if pg.Next == nil {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		next = fmt.Sprintf("&after=%d", *pg.Next)
	}
	if strings.Join(seen, ",") != "p0@example.com,p1@example.com,p2@example.com,p3@example.com,p4@example.com" {
		t.Errorf("paged = %v", seen)
	}
	var pg page[subscriberJSON]
	e.call("GET", "/api/v1/subscribers?email=AMY@example.com", "ed", nil, 200, &pg)
	if len(pg.Items) != 1 || pg.Items[0].ID != s.ID || pg.Next != nil {
		t.Errorf("by email = %+v", pg)
	}
	e.call("GET", "/api/v1/subscribers?list=newsletter&state=unconfirmed", "ed", nil, 200, &pg)
	if len(pg.Items) != 1 || pg.Items[0].Email != "b@example.com" {
		t.Errorf("by state = %+v", pg)
	}
	e.call("GET", "/api/v1/subscribers?state=gone", "ed", nil, 422, &er)
	e.call("GET", "/api/v1/subscribers?list=nope", "ed", nil, 404, &er)
	e.call("GET", "/api/v1/subscribers?limit=5000", "ed", nil, 200, &pg)
	if len(pg.Items) != 7 {
		t.Errorf("limit=5000: %d items", len(pg.Items))
	}

	id := fmt.Sprintf("/api/v1/subscribers/%d", s.ID)
	var u subscriberJSON
	e.call("PUT", id, "ed", `{"name":"Amy Pond","blocklisted":true}`, 200, &u)
	if u.Name != "Amy Pond" || !u.Blocklisted || u.Attributes["city"] != "Oslo" {
		t.Errorf("PUT = %+v", u)
	}
	_, body = e.do(apiReq("GET", id, "ed", nil))
	e.call("PUT", id, "ed", body, 200, nil) // a GET answer can be sent back
	e.call("PUT", id, "ed", `{"email":"other@example.com"}`, 422, &er)
	e.call("PUT", id, "ed", `{"name":"a\u0001"}`, 422, &er)
	e.call("PUT", id, "ed", `{"nickname":"x"}`, 422, &er)
	e.call("PUT", "/api/v1/subscribers/999999", "ed", `{"name":"x"}`, 404, &er)

	var ex list.SubscriberExport
	e.call("GET", id+"/export", "ed", nil, 200, &ex)
	if ex.Subscriber.ID != s.ID || len(ex.Events) == 0 {
		t.Errorf("export = %+v", ex)
	}

	e.call("DELETE", id, "ed", nil, 204, nil)
	e.call("GET", id, "ed", nil, 404, &er)
	e.call("DELETE", id, "ed", nil, 404, &er)
	e.call("GET", "/api/v1/subscribers/abc", "ed", nil, 404, &er)
}

func TestAPIExport(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"=cmd@example.com","lists":["newsletter"],"state":"confirmed","reason":"x"}`, 201, nil)
	res, body := e.do(apiReq("GET", "/api/v1/export?list=newsletter", "ed", nil))
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "newsletter.csv") {
		t.Fatalf("export = %d %v", res.StatusCode, res.Header)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "email,") || !strings.HasPrefix(lines[1], "'=cmd@example.com,") {
		t.Errorf("CSV = %q", body)
	}
	var er apiErr
	e.call("GET", "/api/v1/export?list=nope", "ed", nil, 404, &er)
	e.call("GET", "/api/v1/export?state=maybe", "ed", nil, 422, &er)
	if res, _ := e.do(apiReq("GET", "/api/v1/export", "", nil)); res.StatusCode != 401 {
		t.Errorf("export without auth = %d", res.StatusCode)
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		msg    string
	}{
		{fmt.Errorf("x: %w", list.ErrNotFound), 404, "not found"},
		{fmt.Errorf("%w: slug is bad", list.ErrInvalid), 422, "slug is bad"},
		{fmt.Errorf("%w: list slug", list.ErrExists), 409, "already exists: list slug"},
		{list.ErrBadTransition, 409, "illegal state transition"},
		{fmt.Errorf("%w: expired", list.ErrInvalidToken), 400, "This link is invalid or has expired."},
		{list.ErrUnauthorized, 401, "authentication required"},
		{list.ErrForbidden, 403, "forbidden"},
		{list.ErrLimited, 429, "too many requests, try again later"},
		{&limitedError{after: 90 * time.Second}, 429, "too many requests, try again later"},
		{&http.MaxBytesError{Limit: 1}, 413, "request body too large"},
		{errors.New("disk on fire"), 500, "internal error"},
	}
	for _, c := range cases {
		ei := classify(c.err)
		if ei.status != c.status || ei.msg != c.msg {
			t.Errorf("classify(%q) = %d %q, want %d %q", c.err, ei.status, ei.msg, c.status, c.msg)
		}
		if c.status == 429 && ei.retryAfter <= 0 {
			t.Errorf("classify(%q): no Retry-After", c.err)
		}
	}
	if ei := classify(&limitedError{after: 90 * time.Second}); ei.retryAfter != 90 {
		t.Errorf("Retry-After = %d, want 90", ei.retryAfter)
	}
	// The API answers 429 with Retry-After.
	e := newEnv(t)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/x", nil)
	e.srv.apiError(rec, req, &limitedError{after: 5 * time.Second})
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "5" || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("apiError(limited) = %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

// TestAPIPendingConsent: a person who left a list and signs up again shows
// the new request as pending_consent next to the consent the mail sent so
// far rests on, until it is confirmed (docs/api.md).
func TestAPIPendingConsent(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	w := e.confirmed("al@example.com")
	if res, _ := e.post(pathOf(w.UnsubscribeURL), nil); res.StatusCode != 200 {
		t.Fatalf("unsubscribe = %d", res.StatusCode)
	}
	e.advance(24 * time.Hour)
	if res, _ := e.post("/subscribe/newsletter", url.Values{"email": {"al@example.com"}}); res.StatusCode != 200 {
		t.Fatalf("sign-up again = %d", res.StatusCode)
	}
	var s subscriberJSON
	e.call("GET", fmt.Sprintf("/api/v1/subscribers/%d", e.subscriber("al@example.com").ID), "ed", nil, 200, &s)
	if len(s.Subscriptions) != 1 || s.Subscriptions[0].Consent == nil || s.Subscriptions[0].Consent.ConfirmedAt == nil ||
		s.Subscriptions[0].PendingConsent == nil || s.Subscriptions[0].PendingConsent.ConfirmedAt != nil {
		t.Errorf("subscriptions = %+v, want the confirmed consent and a pending one", s.Subscriptions)
	}
}

// TestAPIBouncesTotal: every page of the bounces says how many match, as
// the collection contract says, not only a last page.
func TestAPIBouncesTotal(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	for _, kind := range []list.BounceKind{list.BounceHard, list.BounceSoft, list.BounceHard} {
		if err := e.db.AddBounce(t.Context(), &list.Bounce{Email: "ann@example.org", Kind: kind}); err != nil {
			t.Fatal(err)
		}
	}
	var first, second page[bounceJSON]
	e.call("GET", "/api/v1/bounces?limit=2", "ed", nil, 200, &first)
	if first.Total != 3 || len(first.Items) != 2 || first.Next == nil {
		t.Fatalf("first page: total %d, %d items, next %v; want 3, 2 and a cursor", first.Total, len(first.Items), first.Next)
	}
	e.call("GET", fmt.Sprintf("/api/v1/bounces?limit=2&after=%d", *first.Next), "ed", nil, 200, &second)
	if second.Total != 3 || len(second.Items) != 1 || second.Next != nil {
		t.Errorf("second page: total %d, %d items, next %v; want 3, 1 and none", second.Total, len(second.Items), second.Next)
	}
	var hard page[bounceJSON]
	e.call("GET", "/api/v1/bounces?kind=hard&limit=1", "ed", nil, 200, &hard)
	if hard.Total != 2 {
		t.Errorf("hard bounces: total %d, want 2", hard.Total)
	}
}
