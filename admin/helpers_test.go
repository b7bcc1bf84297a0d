package admin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
	"github.com/bulletin/bulletin/templates"
)

const testBaseURL = "https://news.example"

// recMailer is a list.Mailer that records every message.
type recMailer struct {
	mu   sync.Mutex
	msgs []*list.Message
	// lintTemplates makes Lint report a campaign subject or body that does
	// not parse, as the real lint does.
	lintTemplates bool
}

func (m *recMailer) Send(ctx context.Context, msg *list.Message) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *msg
	m.msgs = append(m.msgs, &c)
	return fmt.Sprintf("<%d@test>", len(m.msgs)), nil
}

func (m *recMailer) Preview(ctx context.Context, msg *list.Message) ([]byte, error) {
	return []byte("preview"), nil
}

func (m *recMailer) Lint(ctx context.Context, sample *list.Message) []list.Finding {
	m.mu.Lock()
	on := m.lintTemplates
	m.mu.Unlock()
	if !on || sample == nil || sample.Campaign == nil {
		return nil
	}
	for _, src := range []string{sample.Campaign.Subject, sample.Campaign.Body} {
		if _, err := template.New("t").Parse(src); err != nil {
			return []list.Finding{{Severity: "error", Code: "template", Message: err.Error(), Fix: "Fix the template."}}
		}
	}
	return nil
}

func (m *recMailer) all() []*list.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*list.Message(nil), m.msgs...)
}

// env is a server over a real store and service.
type env struct {
	t    *testing.T
	srv  *Server
	h    http.Handler
	svc  *list.Service
	db   *store.DB
	mail *recMailer
	// path is the store file and opts the server options, kept for
	// restart.
	path string
	opts []func(*Options)
	// slept records the waits of the sign-up floor.
	mu     sync.Mutex
	slept  []time.Duration
	nowMu  sync.Mutex
	nowVal time.Time
}

func newEnv(t *testing.T, opts ...func(*Options)) *env {
	t.Helper()
	e := &env{t: t, mail: &recMailer{}, path: filepath.Join(t.TempDir(), "b.db"), opts: opts,
		nowVal: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.start()
	t.Cleanup(func() { e.db.Close() })
	return e
}

// start opens the store at e.path and builds the service and the Server
// over it, as the binary does when it starts.
func (e *env) start() {
	t := e.t
	t.Helper()
	db, err := store.Open(e.path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	svc, err := list.New(list.Options{Store: db, Mailer: e.mail, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Config: list.Config{BaseURL: testBaseURL, Domain: "news.example"}, Now: e.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	o := Options{Service: svc, FS: templates.FS, Now: e.now}
	for _, f := range e.opts {
		f(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv.sleep = func(r *http.Request, d time.Duration) error {
		e.mu.Lock()
		e.slept = append(e.slept, d)
		e.mu.Unlock()
		return nil
	}
	e.srv, e.h = srv, srv.Handler()
}

// restart closes the store and starts a new service and Server on the
// same file: all that survives is what the store kept (a Server holds no
// resource to close).
func (e *env) restart() {
	e.t.Helper()
	if err := e.db.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.start()
}

func (e *env) now() time.Time {
	e.nowMu.Lock()
	defer e.nowMu.Unlock()
	return e.nowVal
}

func (e *env) advance(d time.Duration) {
	e.nowMu.Lock()
	defer e.nowMu.Unlock()
	e.nowVal = e.nowVal.Add(d)
}

// do serves req and returns the response with its body read.
func (e *env) do(req *http.Request) (*http.Response, string) {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func (e *env) get(path string) (*http.Response, string) {
	return e.do(httptest.NewRequest("GET", path, nil))
}

func formReq(path string, v url.Values) *http.Request {
	req := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func (e *env) post(path string, v url.Values) (*http.Response, string) {
	return e.do(formReq(path, v))
}

// drain sends the queued system mails and returns the new ones.
func (e *env) drain() []*list.Message {
	e.t.Helper()
	before := len(e.mail.all())
	if _, err := e.svc.DrainMailQueue(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	return e.mail.all()[before:]
}

// path strips the base URL of a link in a mail.
func pathOf(u string) string { return strings.TrimPrefix(u, testBaseURL) }

// subscribe signs email up through the form and returns the path of the
// confirmation link.
func (e *env) subscribe(email string) string {
	e.t.Helper()
	res, body := e.post("/subscribe/newsletter", url.Values{"email": {email}, "name": {"Ann"}})
	if res.StatusCode != 200 {
		e.t.Fatalf("subscribe: %d %s", res.StatusCode, body)
	}
	msgs := e.drain()
	if len(msgs) != 1 || msgs[0].ConfirmURL == "" {
		e.t.Fatalf("subscribe: mails = %d, want 1 confirmation", len(msgs))
	}
	return pathOf(msgs[0].ConfirmURL)
}

// confirmed subscribes email and confirms it, and returns the welcome mail.
func (e *env) confirmed(email string) *list.Message {
	e.t.Helper()
	res, body := e.post(e.subscribe(email), nil)
	if res.StatusCode != 200 {
		e.t.Fatalf("confirm: %d %s", res.StatusCode, body)
	}
	msgs := e.drain()
	if len(msgs) != 1 || msgs[0].Kind != list.MailWelcome {
		e.t.Fatalf("confirm: mails = %d, want the welcome", len(msgs))
	}
	return msgs[0]
}

// subscriber finds a subscriber by address.
func (e *env) subscriber(email string) list.SubscriberView {
	e.t.Helper()
	items, _, _, err := e.svc.SearchSubscribers(e.t.Context(), list.SearchRequest{Email: email})
	if err != nil || len(items) != 1 {
		e.t.Fatalf("subscriber %s: %d found, err %v", email, len(items), err)
	}
	return items[0]
}

// state is the state of email's subscription to slug, or "" without one.
func (e *env) state(email, slug string) list.State {
	e.t.Helper()
	items, _, _, err := e.svc.SearchSubscribers(e.t.Context(), list.SearchRequest{Email: email})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, v := range items {
		for _, s := range v.Subscriptions {
			if s.Slug == slug {
				return s.State
			}
		}
	}
	return ""
}

// events counts a subscriber's events.
func (e *env) events(id list.SubscriberID) []list.Event {
	e.t.Helper()
	evs, err := e.svc.SubscriberEvents(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// addUser makes a user account.
func (e *env) addUser(name string, role list.Role) {
	e.t.Helper()
	if _, err := e.svc.AddUser(e.t.Context(), name, role, name+"-password", list.Origin{}); err != nil {
		e.t.Fatal(err)
	}
}

// apiReq builds an API request authenticated as user (password user+"-password").
func apiReq(method, path, user string, body any) *http.Request {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, r)
	if user != "" {
		req.SetBasicAuth(user, user+"-password")
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}
