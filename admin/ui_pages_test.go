package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp"
	"github.com/bulletin/bulletin/store"
	"github.com/bulletin/bulletin/templates"
)

// uiEnv is a server over a real store and a real smtp.Sender writing to an
// outbox, with the campaign runner and the mail queue running.
type uiEnv struct {
	t   *testing.T
	svc *list.Service
	db  *store.DB
	srv *Server
	h   http.Handler
}

func newUIEnv(t *testing.T) *uiEnv {
	t.Helper()
	return newUIEnvRelay(t, "")
}

// newUIEnvRelay is newUIEnv sending through relay ("" : to an outbox).
func newUIEnvRelay(t *testing.T, relay string) *uiEnv {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "b.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sender, err := smtp.New(smtp.Options{FS: templates.FS, Domain: "news.example", OutboxDir: filepath.Join(dir, "outbox"), BaseURL: testBaseURL, Relay: relay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sender.Close() })
	svc, err := list.New(list.Options{Store: db, Mailer: sender, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Config: list.Config{BaseURL: testBaseURL, Domain: "news.example", PostalAddress: "1 Main St, Springfield"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Service: svc, FS: templates.FS, Outbox: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.sleep = func(*http.Request, time.Duration) error { return nil }
	ctx := t.Context()
	done := make(chan struct{}, 2)
	go func() { svc.RunCampaigns(ctx, list.RunnerOptions{Poll: 50 * time.Millisecond}); done <- struct{}{} }()
	go func() { svc.RunMailQueue(ctx, 50*time.Millisecond); done <- struct{}{} }()
	t.Cleanup(func() { <-done; <-done })
	for _, u := range []struct {
		name string
		role list.Role
	}{{"root", list.RoleAdmin}, {"ed", list.RoleEditor}} {
		if _, err := svc.AddUser(ctx, u.name, u.role, u.name+"-password", list.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	return &uiEnv{t: t, svc: svc, db: db, srv: srv, h: srv.Handler()}
}

// uiSession is a logged-in browser with its CSRF token.
type uiSession struct {
	*browser
	token string
}

func (u *uiEnv) login(name string) *uiSession {
	u.t.Helper()
	b := (&env{t: u.t, h: u.h}).browser()
	res, _ := b.login(u.t, name, name+"-password")
	if res.StatusCode != http.StatusSeeOther {
		u.t.Fatalf("login %s = %d", name, res.StatusCode)
	}
	_, body := b.do(httptest.NewRequest("GET", "/admin/account", nil))
	return &uiSession{browser: b, token: csrf(u.t, body)}
}

func (s *uiSession) get(path string) (*http.Response, string) {
	return s.do(httptest.NewRequest("GET", path, nil))
}

// post sends a form with the session's CSRF token.
func (s *uiSession) post(path string, v url.Values) (*http.Response, string) {
	if v == nil {
		v = url.Values{}
	}
	v.Set("csrf", s.token)
	return s.do(formReq(path, v))
}

func TestUIAuthRequired(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	b := (&env{t: t, h: u.h}).browser()
	for _, p := range []string{"/admin/lists", "/admin/lists/new", "/admin/lists/newsletter", "/admin/subscribers",
		"/admin/import", "/admin/campaigns", "/admin/campaigns/new", "/admin/templates", "/admin/outbox",
		"/admin/users", "/admin/settings", "/admin/account", "/admin/subscribers/export", "/admin/bounces", "/admin/bounces/1"} {
		res, body := b.do(httptest.NewRequest("GET", p, nil))
		if res.StatusCode != 200 || !strings.Contains(body, `action="/admin/login"`) {
			t.Errorf("GET %s logged out = %d, want the login form", p, res.StatusCode)
		}
	}
	for _, p := range []string{"/admin/lists", "/admin/subscribers", "/admin/campaigns", "/admin/users", "/admin/import",
		"/admin/account/tokens", "/admin/campaigns/preview"} {
		// The login form, saying that the session ended: a form sent
		// after a logout elsewhere is not "expired".
		if res, body := b.do(formReq(p, url.Values{"name": {"x"}})); res.StatusCode != http.StatusUnauthorized ||
			!strings.Contains(body, "You are signed out") || !strings.Contains(body, `action="/admin/login"`) {
			t.Errorf("POST %s logged out = %d, want 401 with the login form", p, res.StatusCode)
		}
	}
	if res, _ := u.do(httptest.NewRequest("POST", "/api/v1/import?list=newsletter", strings.NewReader("email\na@example.com\n"))); res.StatusCode != 401 {
		t.Errorf("import API without credentials = %d, want 401", res.StatusCode)
	}
}

func (u *uiEnv) do(req *http.Request) (*http.Response, string) {
	rec := httptest.NewRecorder()
	u.h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(b)
}

func TestUICSRFEnforced(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("root")
	forms := map[string]url.Values{
		"/admin/lists":                {"slug": {"x"}, "name": {"X"}},
		"/admin/subscribers":          {"email": {"a@example.com"}},
		"/admin/campaigns":            {"subject": {"Hi"}},
		"/admin/users":                {"name": {"eve"}, "role": {"admin"}, "password": {"0123456789"}},
		"/admin/account/tokens":       {"name": {"t"}},
		"/admin/lists/newsletter":     {"name": {"Changed"}},
		"/admin/templates/newsletter": {"confirm_text": {"Changed"}},
	}
	for path, v := range forms {
		for name, tok := range map[string]string{"none": "", "wrong": s.token + "x"} {
			if tok != "" {
				v.Set("csrf", tok)
			} else {
				v.Del("csrf")
			}
			if res, _ := s.do(formReq(path, v)); res.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with %s token = %d, want 403", path, name, res.StatusCode)
			}
		}
	}
	// A cross-origin POST with the right token is refused too.
	req := formReq("/admin/lists", url.Values{"csrf": {s.token}, "slug": {"x"}, "name": {"X"}})
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, _ := s.do(req); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST = %d, want 403", res.StatusCode)
	}
	// The upload takes its token from the query or the header only.
	if res, _ := s.do(uploadReq(t, "/admin/import", "newsletter", "optin", "", "email\na@example.com\n")); res.StatusCode != http.StatusForbidden {
		t.Errorf("upload without token = %d, want 403", res.StatusCode)
	}
	ls, _ := u.svc.Lists(t.Context())
	l, _ := u.svc.ListBySlug(t.Context(), "newsletter")
	us, _ := u.db.Users(t.Context())
	if len(ls) != 1 || l.Name != "Newsletter" || l.ConfirmText != "" || len(us) != 2 {
		t.Fatalf("refused forms changed something: %d lists, name %q, %d users", len(ls), l.Name, len(us))
	}
	if vs, _, _, _ := u.svc.SearchSubscribers(t.Context(), list.SearchRequest{}); len(vs) != 0 {
		t.Fatal("a refused form added a subscriber")
	}
}

func TestUIRoles(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	ed := u.login("ed")
	for _, p := range []string{"/admin/users", "/admin/settings"} {
		if res, _ := ed.get(p); res.StatusCode != http.StatusForbidden {
			t.Errorf("editor GET %s = %d, want 403", p, res.StatusCode)
		}
	}
	if res, _ := ed.post("/admin/users", url.Values{"name": {"eve"}, "role": {"admin"}, "password": {"0123456789ab"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("editor adds a user = %d, want 403", res.StatusCode)
	}
	if res, _ := ed.post("/admin/users/1/delete", nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("editor deletes a user = %d, want 403", res.StatusCode)
	}
	if _, body := ed.get("/admin/"); strings.Contains(body, `href="/admin/users"`) {
		t.Error("the editor's navigation links to users")
	}
	// Editors do lists, subscribers and campaigns.
	if res, body := ed.post("/admin/lists", url.Values{"slug": {"team"}, "name": {"Team"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("editor creates a list = %d\n%s", res.StatusCode, body)
	}
	root := u.login("root")
	for _, p := range []string{"/admin/users", "/admin/settings"} {
		if res, body := root.get(p); res.StatusCode != 200 {
			t.Errorf("admin GET %s = %d\n%s", p, res.StatusCode, body)
		}
	}
	if res, body := root.post("/admin/users", url.Values{"name": {"eve"}, "role": {"editor"}, "password": {"short"}}); res.StatusCode != 422 || !strings.Contains(body, "at least 10 characters") {
		t.Errorf("short password = %d", res.StatusCode)
	}
	if res, _ := root.post("/admin/users", url.Values{"name": {"eve"}, "role": {"editor"}, "password": {"eve-password"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("add user = %d", res.StatusCode)
	}
	eve, err := u.db.UserByName(t.Context(), "eve")
	if err != nil {
		t.Fatal(err)
	}
	evesess := u.login("eve")
	if res, _ := root.post(fmt.Sprintf("/admin/users/%d/delete", eve.ID), nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("delete user = %d", res.StatusCode)
	}
	if _, body := evesess.get("/admin/lists"); !strings.Contains(body, `action="/admin/login"`) {
		t.Error("a deleted user's session still works")
	}
	me, _ := u.db.UserByName(t.Context(), "root")
	if res, _ := root.post(fmt.Sprintf("/admin/users/%d/delete", me.ID), nil); res.StatusCode != http.StatusConflict {
		t.Errorf("delete self = %d, want 409", res.StatusCode)
	}
}

func TestUIAccount(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	if res, body := s.post("/admin/account/password", url.Values{"current": {"wrong-password"}, "new": {"new-password-1"}, "confirm": {"new-password-1"}}); res.StatusCode != 422 || !strings.Contains(body, "current password is wrong") {
		t.Errorf("wrong current password = %d", res.StatusCode)
	}
	if res, body := s.post("/admin/account/password", url.Values{"current": {"ed-password"}, "new": {"new-password-1"}, "confirm": {"other"}}); res.StatusCode != 422 || !strings.Contains(body, "do not match") {
		t.Errorf("mismatch = %d", res.StatusCode)
	}
	if _, err := u.svc.Authenticate(t.Context(), "ed", "ed-password"); err != nil {
		t.Fatal("a refused change changed the password")
	}
	if res, _ := s.post("/admin/account/password", url.Values{"current": {"ed-password"}, "new": {"new-password-1"}, "confirm": {"new-password-1"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("password change = %d", res.StatusCode)
	}
	if _, err := u.svc.Authenticate(t.Context(), "ed", "new-password-1"); err != nil {
		t.Fatal("password not changed")
	}
	// The change gave this browser a new session, and so a new CSRF token.
	_, body := s.get("/admin/account")
	s.token = csrf(t, body)
	// A token is made by a POST that redirects (a reload makes no second
	// one), shown once on the page it redirects to (never in the URL),
	// works for the API, and dies when revoked.
	res, _ := s.post("/admin/account/tokens", url.Values{"name": {"ci"}})
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || loc != "/admin/account?done=token-created" {
		t.Fatalf("create token = %d %q, want 303 to the account page", res.StatusCode, loc)
	}
	_, body = s.get(loc)
	m := regexp.MustCompile(`id="new-token" class="token">(blt_[^<]+)<`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "The token was made.") {
		t.Fatalf("the page after the redirect lacks the token\n%s", body)
	}
	if _, again := s.get(loc); strings.Contains(again, m[1]) {
		t.Fatal("a reload shows the token again")
	}
	api := func() int {
		req := httptest.NewRequest("GET", "/api/v1/lists", nil)
		req.Header.Set("Authorization", "Bearer "+m[1])
		res, _ := u.do(req)
		return res.StatusCode
	}
	if api() != 200 {
		t.Fatal("new token refused by the API")
	}
	if _, body := s.get("/admin/account"); strings.Contains(body, m[1]) {
		t.Fatal("the token is shown again")
	}
	ts, _ := u.db.APITokens(t.Context(), 2)
	if len(ts) != 1 {
		t.Fatalf("tokens = %d", len(ts))
	}
	root := u.login("root")
	other, _, _ := u.svc.CreateAPIToken(t.Context(), 1, "root's", list.Origin{})
	rts, _ := u.db.APITokens(t.Context(), 1)
	if res, _ := s.post(fmt.Sprintf("/admin/account/tokens/%d/delete", rts[0].ID), nil); res.StatusCode != 404 {
		t.Errorf("editor revokes another user's token = %d, want 404", res.StatusCode)
	}
	_ = other
	_ = root
	if res, _ := s.post(fmt.Sprintf("/admin/account/tokens/%d/delete", ts[0].ID), nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("revoke = %d", res.StatusCode)
	}
	if api() != 401 {
		t.Fatal("revoked token still works")
	}
}

func TestUILists(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	res, body := s.post("/admin/lists", url.Values{"slug": {"Bad Slug"}, "name": {"X"}})
	if res.StatusCode != 422 || !strings.Contains(body, "slug must be") || !strings.Contains(body, `value="X"`) {
		t.Errorf("bad slug = %d", res.StatusCode)
	}
	if res, body := s.post("/admin/lists", url.Values{"slug": {"newsletter"}, "name": {"Dup"}}); res.StatusCode != 409 {
		t.Errorf("duplicate slug = %d\n%s", res.StatusCode, body)
	}
	res, _ = s.post("/admin/lists", url.Values{"slug": {"team"}, "name": {"Team"}, "optin": {"single"}, "public": {"1"},
		"attributes": {"city\ncountry"}, "consent_text": {"I agree."}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/lists/team?done=list-created" {
		t.Fatalf("create = %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, body = s.get("/admin/lists/team?done=list-created")
	if res.StatusCode != 200 || !strings.Contains(body, "The list was created.") || !strings.Contains(body, testBaseURL+"/subscribe/team") ||
		!strings.Contains(body, `name=&#34;attr.city&#34;`) {
		t.Fatalf("list page = %d\n%s", res.StatusCode, body)
	}
	if res, _ := s.post("/admin/lists/team", url.Values{"name": {"Team 2"}, "optin": {"sometimes"}}); res.StatusCode != 422 {
		t.Errorf("bad opt-in = %d", res.StatusCode)
	}
	if res, _ := s.post("/admin/lists/team", url.Values{"name": {"Team 2"}, "optin": {"double"}, "welcome_text": {"Welcome!"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("save = %d", res.StatusCode)
	}
	l, _ := u.svc.ListBySlug(t.Context(), "team")
	if l.Name != "Team 2" || l.OptIn != list.OptInDouble || l.WelcomeText != "Welcome!" || l.Public {
		t.Fatalf("saved list = %+v", l.List)
	}
	if _, body := s.get("/admin/lists"); !strings.Contains(body, "Team 2") {
		t.Error("index lacks the list")
	}
	if res, body := s.get("/admin/lists/team/delete"); res.StatusCode != 200 || !strings.Contains(body, "cannot be undone") {
		t.Errorf("delete confirmation = %d", res.StatusCode)
	}
	if _, err := u.svc.ListBySlug(t.Context(), "team"); err != nil {
		t.Fatal("GET of the confirmation deleted the list")
	}
	if res, _ := s.post("/admin/lists/team/delete", nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("delete = %d", res.StatusCode)
	}
	if res, _ := s.get("/admin/lists/team"); res.StatusCode != 404 {
		t.Errorf("deleted list page = %d", res.StatusCode)
	}
}

func TestUISubscribers(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	if res, body := s.post("/admin/subscribers", url.Values{"email": {"ann@example.com"}, "lists": {"newsletter"}, "state": {"confirmed"}}); res.StatusCode != 422 || !strings.Contains(body, "needs a reason") {
		t.Errorf("confirmed without reason = %d", res.StatusCode)
	}
	if res, _ := s.post("/admin/subscribers", url.Values{"email": {"not an address"}}); res.StatusCode != 422 {
		t.Errorf("bad address = %d", res.StatusCode)
	}
	res, _ := s.post("/admin/subscribers", url.Values{"email": {"Ann@Example.com"}, "name": {"Ann"}, "lists": {"newsletter"},
		"state": {"confirmed"}, "reason": {"signed up at the fair"}, "attributes": {"city=Berlin"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add = %d", res.StatusCode)
	}
	page := strings.Split(res.Header.Get("Location"), "?")[0]
	_, body := s.get(page)
	for _, want := range []string{"Ann@Example.com", "signed up at the fair", "confirmed", "city=Berlin", "History"} {
		if !strings.Contains(body, want) {
			t.Errorf("subscriber page lacks %q", want)
		}
	}
	for i := range 3 {
		u.svc.AddSubscriber(t.Context(), list.NewSubscriber{Email: fmt.Sprintf("bob%d@example.com", i), Lists: []string{"newsletter"}}, list.HowAdmin, list.Origin{})
	}
	_, body = s.get("/admin/subscribers?q=bob&list=newsletter&state=unconfirmed")
	if strings.Count(body, "bob") < 3 || strings.Contains(body, "Ann@Example.com") {
		t.Errorf("search by prefix and state:\n%s", body)
	}
	if res, _ := s.get("/admin/subscribers?state=sleeping"); res.StatusCode != 422 {
		t.Errorf("bad state = %d", res.StatusCode)
	}
	res, csvBody := s.get("/admin/subscribers/export?q=bob")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || strings.Count(csvBody, "\n") != 4 {
		t.Errorf("search export = %d\n%s", res.StatusCode, csvBody)
	}
	if res, csvBody := s.get("/admin/subscribers/export?list=newsletter"); res.StatusCode != 200 || strings.Count(csvBody, "\n") != 5 {
		t.Errorf("list export = %d\n%s", res.StatusCode, csvBody)
	}
	if res, _ := s.post(page, url.Values{"name": {"Ann B"}, "attributes": {"no equals sign"}}); res.StatusCode != 422 {
		t.Errorf("bad attributes = %d", res.StatusCode)
	}
	if res, _ := s.post(page, url.Values{"name": {"Ann B"}, "attributes": {"city=Paris"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("save = %d", res.StatusCode)
	}
	if res, _ := s.post(page+"/blocklist", url.Values{"on": {"1"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("blocklist = %d", res.StatusCode)
	}
	if _, body := s.get(page); !strings.Contains(body, "Lift the blocklisting") || !strings.Contains(body, "Ann B") {
		t.Error("blocklisting or name not shown")
	}
	if res, _ := s.post(page+"/blocklist", url.Values{"on": {"0"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("unblocklist = %d", res.StatusCode)
	}
	if res, body := s.get(page + "/export"); res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(body, "Ann B") || !strings.Contains(body, "signed up at the fair") || strings.Contains(body, "bob0@") {
		t.Errorf("data export = %d %q\n%s", res.StatusCode, res.Header.Get("Content-Disposition"), body)
	}
	if res, _ := s.get(page + "/delete"); res.StatusCode != 200 {
		t.Errorf("erase confirmation = %d", res.StatusCode)
	}
	if res, _ := s.post(page+"/delete", nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("erase = %d", res.StatusCode)
	}
	if res, _ := s.get(page); res.StatusCode != 404 {
		t.Errorf("erased subscriber page = %d", res.StatusCode)
	}
}

func uploadReq(t *testing.T, path, slug, mode, reason, csv string) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("list", slug)
	mw.WriteField("mode", mode)
	mw.WriteField("reason", reason)
	fw, _ := mw.CreateFormFile("file", "subs.csv")
	fw.Write([]byte(csv))
	mw.Close()
	req := httptest.NewRequest("POST", path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

func TestUIImport(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	if res, body := s.get("/admin/import"); res.StatusCode != 200 || !strings.Contains(body, `enctype="multipart/form-data"`) {
		t.Fatalf("import form = %d", res.StatusCode)
	}
	res, body := s.do(uploadReq(t, "/admin/import?csrf="+url.QueryEscape(s.token), "newsletter", "confirmed", "", "email\na@example.com\n"))
	if res.StatusCode != 422 || !strings.Contains(body, "needs a reason") {
		t.Errorf("confirmed without reason = %d", res.StatusCode)
	}
	// The reason field is marked and focused, and the page says the file
	// must be chosen again.
	if !regexp.MustCompile(`id="reason"[^>]*aria-invalid="true" aria-describedby="page-error" autofocus`).MatchString(body) || !strings.Contains(body, `id="file-again"`) {
		t.Errorf("the refused import form does not mark the reason or ask for the file again:\n%s", body)
	}
	res, body = s.do(uploadReq(t, "/admin/import?csrf="+url.QueryEscape(s.token), "newsletter", "optin", "", "name,city\nAnn,Berlin\n"))
	if res.StatusCode != 422 || !strings.Contains(body, "no email column") {
		t.Errorf("no email column = %d\n%s", res.StatusCode, body)
	}
	csv := "Email Address,First Name,Last Name\nann@example.com,Ann,Lee\nbroken\nbob@example.com,Bob,\n"
	req := uploadReq(t, "/admin/import", "newsletter", "confirmed", "fair", csv)
	req.Header.Set(csrfHeader, s.token)
	req.Header.Set("Accept", "application/json")
	res, body = s.do(req)
	var started struct {
		Job uint64
		URL string
	}
	if res.StatusCode != http.StatusAccepted || json.Unmarshal([]byte(body), &started) != nil || started.URL != fmt.Sprintf("/admin/import/%d", started.Job) || started.Job == 0 {
		t.Fatalf("upload = %d %s", res.StatusCode, body)
	}
	var job importJob
	for range 200 {
		_, body := s.get(started.URL + "/status")
		json.Unmarshal([]byte(body), &job)
		if job.Status != "running" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if job.Status != "done" || job.Result.Imported != 2 || job.Result.Skipped != 1 || job.Result.Errors[0].Line != 3 || job.Percent != 100 {
		t.Fatalf("job = %+v", job)
	}
	if _, body := s.get(started.URL); !strings.Contains(body, "<strong>2</strong> imported") || !strings.Contains(body, `<td class="num">3</td>`) ||
		!strings.Contains(body, "<title>Import into Newsletter · Bulletin</title>") {
		t.Errorf("job page:\n%s", body)
	}
	if res, _ := s.get("/admin/import/nope"); res.StatusCode != 404 {
		t.Errorf("unknown job = %d", res.StatusCode)
	}
}

func TestImportAPI(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	call := func(method, path, ctype, body string) (*http.Response, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.SetBasicAuth("ed", "ed-password")
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		return u.do(req)
	}
	res, body := call("POST", "/api/v1/import?list=newsletter&mode=confirmed&reason=api", "text/csv",
		"email,name\nann@example.com,Ann\nbad\nANN@example.com,Ann Lee\n\"multi\nline\",x\ncy@example.com,Cy\n")
	var r list.ImportResult
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &r) != nil {
		t.Fatalf("import = %d %s", res.StatusCode, body)
	}
	// Line 4 repeats the address of line 2. The refused record of lines
	// 5-6 is valid CSV: it is reported once, at line 5, and line 6 is its
	// own, not read again as a row.
	if r.Imported != 2 || r.Updated != 0 || r.Skipped != 3 || len(r.Errors) != 3 || r.Errors[0].Line != 3 || r.Errors[1].Line != 4 || r.Errors[2].Line != 5 {
		t.Fatalf("result = %+v", r)
	}
	if !strings.Contains(body, `"errors_truncated":false`) {
		t.Errorf("answer lacks errors_truncated: %s", body)
	}
	for name, c := range map[string]struct {
		path, body string
		status     int
	}{
		"no email column": {"/api/v1/import?list=newsletter", "name\nAnn\n", 422},
		"no reason":       {"/api/v1/import?list=newsletter&mode=confirmed", "email\na@example.com\n", 422},
		"bad mode":        {"/api/v1/import?list=newsletter&mode=maybe", "email\na@example.com\n", 422},
		"no list":         {"/api/v1/import?list=nope", "email\na@example.com\n", 422},
		"bad async":       {"/api/v1/import?list=newsletter&async=yes", "email\na@example.com\n", 422},
	} {
		res, body := call("POST", c.path, "text/csv", c.body)
		if res.StatusCode != c.status || !strings.Contains(body, `"error"`) {
			t.Errorf("%s = %d %s", name, res.StatusCode, body)
		}
	}
	// Multipart with the field "file", asynchronously.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "x.csv")
	fw.Write([]byte("email\ndee@example.com\n"))
	mw.Close()
	res, body = call("POST", "/api/v1/import?list=newsletter&async=true", mw.FormDataContentType(), buf.String())
	// The job id is a number, as every id of the API is.
	var acc struct{ Job uint64 }
	if res.StatusCode != 202 || json.Unmarshal([]byte(body), &acc) != nil || acc.Job == 0 || res.Header.Get("Location") != fmt.Sprintf("/api/v1/import/%d", acc.Job) {
		t.Fatalf("async = %d %s (Location %q)", res.StatusCode, body, res.Header.Get("Location"))
	}
	var job importJob
	for range 200 {
		_, body = call("GET", fmt.Sprintf("/api/v1/import/%d", acc.Job), "", "")
		json.Unmarshal([]byte(body), &job)
		if job.Status != "running" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if job.Status != "done" || job.Result == nil || job.Result.Imported != 1 {
		t.Fatalf("job = %s", body)
	}
	// Every field api-admin.md shows is there, error included.
	for _, field := range []string{`"job":`, `"status":`, `"list":`, `"rows":`, `"bytes":`, `"total_bytes":`, `"percent":`,
		`"rows_per_second":`, `"error":`, `"result":`, `"started_at":`, `"finished_at":`} {
		if !strings.Contains(body, field) {
			t.Errorf("job lacks %s: %s", field, body)
		}
	}
	if res, _ := call("POST", "/api/v1/import?list=newsletter&async=true", "text/csv", "nothing,here\n"); res.StatusCode != 422 {
		t.Errorf("async without email column = %d", res.StatusCode)
	}
	if res, _ := call("GET", "/api/v1/import/unknown", "", ""); res.StatusCode != 404 {
		t.Errorf("unknown job = %d", res.StatusCode)
	}
}

// TestUITestSendRelayDown: a test send the relay cannot take (here: no
// relay listening) shows the campaign page again with the relay's answer
// and the typed addresses, not a bare "internal error".
func TestUITestSendRelayDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	u := newUIEnvRelay(t, "smtp+plain://"+addr)
	s := u.login("ed")
	subj, body, lists := "Hi", "<p>Hi</p>", []string{"newsletter"}
	c, err := u.svc.CreateCampaign(t.Context(), list.CampaignInput{Subject: &subj, Body: &body, Lists: &lists}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	res, page := s.post(fmt.Sprintf("/admin/campaigns/%d/test", c.ID), url.Values{"emails": {"me@test.example"}})
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(page, "The relay did not take the mail") ||
		!strings.Contains(page, "connection refused") || !strings.Contains(page, "me@test.example") || !strings.Contains(page, `id="compose"`) {
		t.Errorf("test send with the relay down = %d\n%s", res.StatusCode, page)
	}
	// Sending, and deleting the draft, ask first.
	if !strings.Contains(page, `data-confirm="Send this campaign to its lists now?">Send now`) || !strings.Contains(page, `data-confirm="Delete this draft?`) {
		t.Errorf("the draft's Send now or Delete does not ask first:\n%s", page)
	}
}

// TestUIIrreversibleActionsAsk: deleting a user, resetting a layout and
// revoking a token ask first (data-confirm), as sending and deleting a
// draft do.
func TestUIIrreversibleActionsAsk(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("root")
	if res, _ := s.post("/admin/account/tokens", url.Values{"name": {"deploy"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("make a token = %d", res.StatusCode)
	}
	for page, want := range map[string]string{
		"/admin/users":   `data-confirm="Delete the user ed?`,
		"/admin/layout":  `data-confirm="Reset to the built-in layout?`,
		"/admin/account": `data-confirm="Revoke the token deploy?`,
	} {
		if _, body := s.get(page); !strings.Contains(body, want) {
			t.Errorf("%s lacks %s", page, want)
		}
	}
}

// TestUISendTakesUnsavedEdits: the test and send buttons of a draft
// submit the compose form, so that what the editor sees (and previewed) is
// what goes out: unsaved changes are saved first, and a bad one stops the
// send with the page shown again as typed.
func TestUISendTakesUnsavedEdits(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	ctx := t.Context()
	s := u.login("ed")
	subj, body, lists := "Sale", "<p>Sale ends FRIDAY</p>", []string{"newsletter"}
	c, err := u.svc.CreateCampaign(ctx, list.CampaignInput{Subject: &subj, Body: &body, Lists: &lists}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf("/admin/campaigns/%d", c.ID)
	if _, html := s.get(page); !strings.Contains(html, `form="compose" formaction="`+page+`/send"`) || !strings.Contains(html, `form="compose" id="emails"`) {
		t.Fatalf("the send and test controls do not submit the compose form:\n%s", html)
	}
	form := func(body string) url.Values {
		return url.Values{"subject": {"Sale"}, "lists": {"newsletter"}, "format": {"html"}, "body": {body}, "send_at": {""}, "emails": {"me@example.org"}}
	}
	bodyOf := func() string {
		v, err := u.svc.GetCampaign(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return v.Body
	}
	if res, _ := s.post(page+"/test", form("<p>CORRECTION: sale ends MONDAY</p>")); res.StatusCode != http.StatusSeeOther || !strings.Contains(bodyOf(), "MONDAY") {
		t.Errorf("test send with an unsaved edit = %d, saved body %q", res.StatusCode, bodyOf())
	}
	bad := form("<p>TUESDAY</p>")
	bad.Set("subject", "x\ny")
	if res, html := s.post(page+"/send", bad); res.StatusCode != 422 || !strings.Contains(html, "TUESDAY") {
		t.Errorf("send with a bad unsaved field = %d, want 422 showing what was typed", res.StatusCode)
	}
	if v, _ := u.svc.GetCampaign(ctx, c.ID); v.Status != list.StatusDraft {
		t.Errorf("a send stopped by a bad field left the campaign %s", v.Status)
	}
	if res, _ := s.post(page+"/send", form("<p>Sale ends SUNDAY</p>")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("send with an unsaved edit = %d", res.StatusCode)
	}
	if v, _ := u.svc.GetCampaign(ctx, c.ID); v.Status == list.StatusDraft || !strings.Contains(v.Body, "SUNDAY") {
		t.Errorf("after send: %s with body %q, want it sent with the edit", v.Status, v.Body)
	}
}

func TestUICampaignFlow(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	ctx := t.Context()
	for i := range 3 {
		u.svc.AddSubscriber(ctx, list.NewSubscriber{Email: fmt.Sprintf("r%d@example.com", i), Lists: []string{"newsletter"},
			State: list.StateConfirmed, Reason: "test"}, list.HowAdmin, list.Origin{})
	}
	s := u.login("ed")
	if res, body := s.get("/admin/campaigns/new"); res.StatusCode != 200 || !strings.Contains(body, `id="compose"`) {
		t.Fatalf("new campaign = %d", res.StatusCode)
	}
	form := url.Values{"subject": {"Spring news"}, "lists": {"newsletter"}, "format": {"markdown"},
		"body": {"Hello {{.Name}}, **bold** news."}, "send_at": {""}}
	if res, _ := s.post("/admin/campaigns", url.Values{"subject": {"x\ny"}, "format": {"html"}}); res.StatusCode != 422 {
		t.Errorf("bad subject = %d", res.StatusCode)
	}
	// The live preview renders unsaved input.
	res, body := s.post("/admin/campaigns/preview", form)
	var pv previewAnswer
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &pv) != nil || !strings.Contains(pv.HTML, "<strong>bold</strong>") || pv.Subject != "Spring news" {
		t.Fatalf("preview = %d %s", res.StatusCode, body)
	}
	if res, body := s.post("/admin/campaigns/preview", url.Values{"subject": {"x"}, "body": {"{{.Broken"}, "format": {"html"}}); res.StatusCode != 200 || !strings.Contains(body, `"severity":"error"`) {
		t.Errorf("broken template preview = %d %s", res.StatusCode, body)
	}
	res, _ = s.post("/admin/campaigns", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create = %d", res.StatusCode)
	}
	page := strings.Split(res.Header.Get("Location"), "?")[0]
	if res, body := s.get(page + "/preview"); res.StatusCode != 200 || !strings.Contains(body, page+"/preview.html") || !strings.Contains(body, "List-Unsubscribe") {
		t.Errorf("saved preview = %d\n%s", res.StatusCode, body)
	}
	for _, res := range []*http.Response{first(s.get(page + "/preview.html")), first(s.post("/admin/campaigns/preview.html", form))} {
		if res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") != mailFrameCSP || res.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
			t.Errorf("preview frame = %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
		}
	}
	if _, body := s.post("/admin/campaigns/preview.html", form); !strings.Contains(body, "<strong>bold</strong>") {
		t.Errorf("posted preview frame lacks the body:\n%s", body)
	}
	if res, _ := s.post(page+"/test", url.Values{"emails": {"tester@example.org"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("test send = %d", res.StatusCode)
	}
	if res, body := s.post(page+"/test", url.Values{"emails": {""}}); res.StatusCode != 422 || !strings.Contains(body, "give 1 to") {
		t.Errorf("empty test = %d", res.StatusCode)
	}
	// Every refused address is named at once, and the typed ones kept.
	typed := "me@example.org, not-an-email\nalso bad, jörg@example.org"
	if res, body := s.post(page+"/test", url.Values{"emails": {typed}}); res.StatusCode != 422 || !strings.Contains(body, "“not-an-email” is not a valid email address; “also bad” is not a valid email address; addresses with letters beyond plain ASCII") ||
		!strings.Contains(body, "also bad, jörg@example.org") {
		t.Errorf("test to three bad addresses = %d\n%s", res.StatusCode, body)
	}
	if res, _ := s.post(page+"/pause", nil); res.StatusCode != 409 {
		t.Errorf("pause a draft = %d, want 409", res.StatusCode)
	}
	// A send the lint refuses says why in its message, not just "invalid".
	cfg := u.svc.Config()
	noPostal := cfg
	noPostal.PostalAddress = ""
	u.svc.SetConfig(noPostal)
	if res, body := s.post(page+"/send", nil); res.StatusCode != 422 || !strings.Contains(body, "cannot be sent") {
		t.Errorf("send without a postal address = %d, without saying why:\n%s", res.StatusCode, body)
	}
	u.svc.SetConfig(cfg)
	if res, _ := s.post(page+"/send", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("send = %d", res.StatusCode)
	}
	if res, _ := s.post(page, form); res.StatusCode != 409 {
		t.Errorf("edit a running campaign = %d, want 409", res.StatusCode)
	}
	var c list.CampaignView
	for range 200 {
		id, _ := pathIDOf(page)
		c, _ = u.svc.GetCampaign(ctx, list.CampaignID(id))
		if c.Status == list.StatusFinished {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if c.Status != list.StatusFinished || c.Stats.Sent != 3 {
		t.Fatalf("campaign = %s %+v", c.Status, c.Stats)
	}
	res, body = s.get(page + "/progress")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" || !strings.Contains(body, `"percent":100`) || !strings.Contains(body, "event: end") {
		t.Errorf("progress stream = %d %s", res.StatusCode, body)
	}
	res, body = s.get(page)
	if res.StatusCode != 200 || !strings.Contains(body, `<dd id="r-sent">3</dd>`) || !strings.Contains(body, "<svg") {
		t.Errorf("results page = %d\n%s", res.StatusCode, body)
	}
	if _, body := s.get("/admin/campaigns"); !strings.Contains(body, "Archive") || !strings.Contains(body, "Spring news") {
		t.Error("archive lacks the campaign")
	}
	res, _ = s.post(page+"/clone", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") == page+"?done=cloned" {
		t.Errorf("clone = %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	// The outbox holds the three messages and the test.
	_, body = s.get("/admin/outbox")
	links := regexp.MustCompile(`href="(/admin/outbox/[^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(links) != 4 || strings.Contains(body, "Showing the newest") {
		t.Fatalf("outbox links = %d\n%s", len(links), body)
	}
	// A page that cannot list them all says so.
	u.srv.outboxShown = 2
	if _, body := s.get("/admin/outbox"); !strings.Contains(body, "Showing the newest 2 messages") {
		t.Errorf("a full outbox page does not say it shows only the newest:\n%s", body)
	}
	u.srv.outboxShown = 500
	res, body = s.get(links[0][1])
	if res.StatusCode != 200 || !strings.Contains(body, "List-Unsubscribe-Post") || !strings.Contains(body, `id="mail-html"`) || !strings.Contains(body, `id="mail-text"`) {
		t.Errorf("outbox message = %d\n%s", res.StatusCode, body)
	}
	if res, body := s.get(links[0][1] + "/html"); res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") != mailFrameCSP || !strings.Contains(body, "<strong>bold</strong>") {
		t.Errorf("outbox HTML part = %d %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}
	if res, body := s.get(links[0][1] + "/raw"); res.StatusCode != 200 || !strings.Contains(body, "Message-Id:") && !strings.Contains(body, "Message-ID:") {
		t.Errorf("raw = %d", res.StatusCode)
	}
	if res, _ := s.get("/admin/outbox/..%2Fb.db"); res.StatusCode == 200 {
		t.Errorf("outbox path escape = %d", res.StatusCode)
	}
	if _, body := s.get("/admin/"); !strings.Contains(body, "Spring news") {
		t.Error("dashboard lacks the recent campaign")
	}
}

func first(res *http.Response, _ string) *http.Response { return res }

func pathIDOf(page string) (uint64, error) {
	var id uint64
	_, err := fmt.Sscanf(page, "/admin/campaigns/%d", &id)
	return id, err
}

func TestUITemplatesAndSettings(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("root")
	if res, body := s.get("/admin/templates"); res.StatusCode != 200 || !strings.Contains(body, "Confirmation mail") {
		t.Fatalf("templates = %d", res.StatusCode)
	}
	res, body := s.post("/admin/templates/newsletter/preview", url.Values{"kind": {"confirm"}, "text": {"Please confirm, friend!"}})
	var pv previewAnswer
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &pv) != nil || !strings.Contains(pv.Text, "Please confirm, friend!") {
		t.Fatalf("template preview = %d %s", res.StatusCode, body)
	}
	if res, _ := s.post("/admin/templates/newsletter", url.Values{"confirm_text": {"Please confirm!"}, "welcome_text": {"Hi"}, "welcome": {"1"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("save texts = %d", res.StatusCode)
	}
	l, _ := u.svc.ListBySlug(t.Context(), "newsletter")
	if l.ConfirmText != "Please confirm!" || l.WelcomeText != "Hi" {
		t.Errorf("texts = %q %q", l.ConfirmText, l.WelcomeText)
	}
	if res, body := s.get("/admin/templates/newsletter/preview?kind=welcome"); res.StatusCode != 200 || !strings.Contains(body, "Hi") {
		t.Errorf("welcome preview = %d", res.StatusCode)
	}
	if res, body := s.post("/admin/templates/newsletter/preview.html", url.Values{"kind": {"welcome"}, "text": {"Unsaved words"}}); res.StatusCode != 200 || !strings.Contains(body, "Unsaved words") || res.Header.Get("Content-Security-Policy") != mailFrameCSP {
		t.Errorf("posted template frame = %d", res.StatusCode)
	}
	if res, _ := s.post("/admin/templates/nope", url.Values{"confirm_text": {"x"}}); res.StatusCode != 404 {
		t.Errorf("unknown list = %d", res.StatusCode)
	}
	if res, body := s.get("/admin/settings"); res.StatusCode != 200 || !strings.Contains(body, "1 Main St, Springfield") || !strings.Contains(body, "read-only") {
		t.Errorf("settings = %d", res.StatusCode)
	}
	for _, p := range []string{"/admin/", "/admin/lists", "/admin/subscribers", "/admin/campaigns", "/admin/outbox", "/admin/account", "/admin/users", "/admin/import", "/admin/lists/new", "/admin/subscribers/new"} {
		res, body := s.get(p)
		checkPage(t, p, res, body)
		if res.StatusCode != 200 || !strings.Contains(body, "nothing is really being sent") {
			t.Errorf("%s = %d or no outbox banner", p, res.StatusCode)
		}
	}
}

func TestUIPreviewNotStale(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	for _, subject := range []string{"", "First", "Second"} {
		res, body := s.post("/admin/campaigns/preview", url.Values{"subject": {subject}, "lists": {"newsletter"}, "format": {"markdown"}, "body": {subject + " body"}})
		var pv previewAnswer
		json.Unmarshal([]byte(body), &pv)
		if subject == "" {
			if res.StatusCode != 200 || !strings.Contains(body, "subject-empty") || pv.HTML != "" {
				t.Errorf("empty subject = %d %s", res.StatusCode, body)
			}
			continue
		}
		if res.StatusCode != 200 || pv.Subject != subject || !strings.Contains(pv.Text, subject+" body") {
			t.Errorf("preview of %q = %d, subject %q", subject, res.StatusCode, pv.Subject)
		}
	}
}

// TestUILivePagesRefreshWithoutScript: a campaign still to send reloads
// itself where JavaScript is off (docs: every page works without it); a
// draft does not.
func TestUILivePagesRefreshWithoutScript(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	subj, body, lists := "Hi", "<p>Hi</p>", []string{"newsletter"}
	at := u.svc.Now().Add(time.Hour)
	c, err := u.svc.CreateCampaign(t.Context(), list.CampaignInput{Subject: &subj, Body: &body, Lists: &lists, SendAt: &at}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf("/admin/campaigns/%d", c.ID)
	const refresh = `<noscript><meta http-equiv="refresh"`
	if _, html := s.get(page); strings.Contains(html, refresh) {
		t.Error("a draft reloads itself")
	}
	if _, err := u.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if _, html := s.get(page); !strings.Contains(html, refresh) {
		t.Errorf("a scheduled campaign's page does not reload without JavaScript:\n%s", html)
	}
}

// TestImportJobIDs: job ids are numbers that keep growing, even for jobs
// started within one microsecond or after the clock stepped back.
func TestImportJobIDs(t *testing.T) {
	t.Parallel()
	j := newImportJobs()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	a, b := j.nextID(now), j.nextID(now)
	c := j.nextID(now.Add(-time.Hour))
	if a != uint64(now.UnixMicro()) || b <= a || c <= b {
		t.Errorf("ids %d, %d, %d: want %d first, then growing", a, b, c, now.UnixMicro())
	}
	if _, ok := j.get("not-a-number", now); ok {
		t.Error("a job found under a text id")
	}
}
