package admin

import (
	"bytes"
	"fmt"
	"html"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bulletin/bulletin/list"
)

func TestSubscribeConfirmUnsubscribe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, body := e.get("/subscribe/newsletter")
	if res.StatusCode != 200 || !strings.Contains(body, `name="email"`) || !strings.Contains(body, "I agree to receive") {
		t.Fatalf("GET /subscribe/newsletter = %d\n%s", res.StatusCode, body)
	}
	for _, want := range []string{`name="website"`, `aria-hidden="true"`, `tabindex="-1"`, `lang="en"`, `name="viewport"`} {
		if !strings.Contains(body, want) {
			t.Errorf("subscribe form lacks %s", want)
		}
	}
	confirm := e.subscribe("Ann@Example.com")
	if got := e.state("ann@example.com", "newsletter"); got != list.StateUnconfirmed {
		t.Fatalf("state after sign-up = %q, want unconfirmed", got)
	}

	// GET shows a button and changes nothing.
	sb := e.subscriber("ann@example.com")
	before := len(e.events(sb.ID))
	res, body = e.get(confirm)
	if res.StatusCode != 200 || !strings.Contains(body, `method="post"`) {
		t.Fatalf("GET confirm = %d\n%s", res.StatusCode, body)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("confirm page Cache-Control = %q, want no-store", res.Header.Get("Cache-Control"))
	}
	if got := e.state("ann@example.com", "newsletter"); got != list.StateUnconfirmed || len(e.events(sb.ID)) != before {
		t.Fatalf("GET confirm changed state: %q", got)
	}

	res, body = e.post(confirm, nil)
	if res.StatusCode != 200 || !strings.Contains(body, "/manage/") {
		t.Fatalf("POST confirm = %d\n%s", res.StatusCode, body)
	}
	if got := e.state("ann@example.com", "newsletter"); got != list.StateConfirmed {
		t.Fatalf("state after confirm = %q", got)
	}
	// The manage link of the page works.
	i := strings.Index(body, `href="/manage/`)
	manage := body[i+len(`href="`):]
	manage = manage[:strings.IndexByte(manage, '"')]
	if res, body := e.get(manage); res.StatusCode != 200 || !strings.Contains(body, "Ann@Example.com") {
		t.Fatalf("GET %s = %d\n%s", manage, res.StatusCode, body)
	}
	// The old confirmation link still shows a friendly page (confirming twice is harmless).
	if res, _ := e.post(confirm, nil); res.StatusCode != 200 {
		t.Errorf("second confirm = %d", res.StatusCode)
	}

	welcome := e.drain()
	if len(welcome) != 1 || welcome[0].UnsubscribeURL == "" {
		t.Fatalf("welcome mails = %d", len(welcome))
	}
	unsub := pathOf(welcome[0].UnsubscribeURL)
	res, body = e.get(unsub)
	if res.StatusCode != 200 || !strings.Contains(body, `name="all"`) || !strings.Contains(body, `value="1"`) {
		t.Fatalf("GET unsubscribe = %d\n%s", res.StatusCode, body)
	}
	if got := e.state("ann@example.com", "newsletter"); got != list.StateConfirmed {
		t.Fatalf("GET unsubscribe changed state: %q", got)
	}
	res, body = e.post(unsub, url.Values{})
	if res.StatusCode != 200 || !strings.Contains(body, "unsubscribed") {
		t.Fatalf("POST unsubscribe = %d\n%s", res.StatusCode, body)
	}
	if got := e.state("ann@example.com", "newsletter"); got != list.StateUnsubscribed {
		t.Fatalf("state after unsubscribe = %q", got)
	}
	if e.subscriber("ann@example.com").Blocklisted {
		t.Error("unsubscribe from one list blocklisted the address")
	}
	// The old confirmation link cannot undo the unsubscribe.
	if res, _ := e.post(confirm, nil); res.StatusCode != 400 {
		t.Errorf("stale confirm after unsubscribe = %d, want 400", res.StatusCode)
	}
	if got := e.state("ann@example.com", "newsletter"); got != list.StateUnsubscribed {
		t.Fatalf("stale confirm changed state: %q", got)
	}
}

func TestUnsubscribeAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.confirmed("bob@example.com")
	res, body := e.post(pathOf(w.UnsubscribeURL), url.Values{"all": {"1"}})
	if res.StatusCode != 200 || !strings.Contains(body, "all our lists") {
		t.Fatalf("POST unsubscribe all = %d\n%s", res.StatusCode, body)
	}
	if !e.subscriber("bob@example.com").Blocklisted {
		t.Error("unsubscribe from all did not suppress the address")
	}
}

func TestOneClickUnsubscribe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	urlencoded := func(p string) *http.Request {
		return formReq(p, url.Values{"List-Unsubscribe": {"One-Click"}})
	}
	multi := func(p string) *http.Request {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("List-Unsubscribe", "One-Click")
		mw.Close()
		req := httptest.NewRequest("POST", p, &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return req
	}
	for i, mk := range []func(string) *http.Request{urlencoded, multi} {
		email := fmt.Sprintf("one%d@example.com", i)
		w := e.confirmed(email)
		req := mk(pathOf(w.UnsubscribeURL))
		// A mail provider's POST: no cookie, no CSRF token, cross-site.
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://mail.provider.example")
		res, body := e.do(req)
		if res.StatusCode != 200 || res.Header.Get("Location") != "" || len(body) > 100 {
			t.Fatalf("one-click %d = %d, Location %q, body %q", i, res.StatusCode, res.Header.Get("Location"), body)
		}
		if got := e.state(email, "newsletter"); got != list.StateUnsubscribed {
			t.Fatalf("one-click %d: state = %q", i, got)
		}
		evs := e.events(e.subscriber(email).ID)
		if last := evs[len(evs)-1]; last.Kind != list.EventUnsubscribed || last.How != list.HowOneClick {
			t.Errorf("one-click %d: last event = %s/%s", i, last.Kind, last.How)
		}
		// Idempotent.
		if res, _ := e.do(mk(pathOf(w.UnsubscribeURL))); res.StatusCode != 200 {
			t.Errorf("second one-click = %d", res.StatusCode)
		}
	}
}

func TestOneClickNeverRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.SubscribeRate = 1 })
	w := e.confirmed("carl@example.com") // uses the one sign-up token
	for range 20 {
		res, _ := e.do(formReq(pathOf(w.UnsubscribeURL), url.Values{"List-Unsubscribe": {"One-Click"}}))
		if res.StatusCode != 200 {
			t.Fatalf("one-click = %d", res.StatusCode)
		}
	}
}

func TestBadTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.confirmed("dora@example.com")
	sb := e.subscriber("dora@example.com")
	l, _ := e.svc.ListBySlug(t.Context(), "newsletter")
	tk := e.svc.Tokens()
	unsubTok := strings.TrimPrefix(pathOf(w.UnsubscribeURL), "/unsubscribe/")
	manageTok := strings.TrimPrefix(pathOf(w.ManageURL), "/manage/")
	expired := tk.Seal(list.Token{Purpose: list.PurposeConfirm, Subscriber: sb.ID, List: l.ID,
		Expires: e.now().Add(-time.Hour)})
	forged := []byte(unsubTok) // one character of the MAC changed
	if i := len(forged) - 5; forged[i] == 'a' {
		forged[i] = 'b'
	} else {
		forged[i] = 'a'
	}
	cases := []struct{ name, path string }{
		{"garbage confirm", "/confirm/notatoken"},
		{"expired confirm", "/confirm/" + expired},
		{"unsubscribe token as confirm", "/confirm/" + unsubTok},
		{"manage token as unsubscribe", "/unsubscribe/" + manageTok},
		{"forged unsubscribe", "/unsubscribe/" + string(forged)},
		{"confirm token as manage", "/manage/" + expired},
		{"unsubscribe token as manage", "/manage/" + unsubTok},
		{"too long", "/manage/" + strings.Repeat("a", 300)},
	}
	before := len(e.events(sb.ID))
	for _, c := range cases {
		for _, method := range []string{"GET", "POST"} {
			var req *http.Request
			if method == "GET" {
				req = httptest.NewRequest("GET", c.path, nil)
			} else {
				req = formReq(c.path, url.Values{"all": {"1"}, "action": {"save"}, "name": {"X"}, "List-Unsubscribe": {"One-Click"}})
			}
			res, body := e.do(req)
			if res.StatusCode != 400 || !strings.Contains(body, "This link does not work") {
				t.Errorf("%s %s (%s) = %d\n%s", method, c.name, c.path, res.StatusCode, body)
			}
		}
	}
	if got := e.state("dora@example.com", "newsletter"); got != list.StateConfirmed {
		t.Errorf("bad tokens changed the state to %q", got)
	}
	if after := len(e.events(sb.ID)); after != before {
		t.Errorf("bad tokens added %d events", after-before)
	}
	if v := e.subscriber("dora@example.com"); v.Name != "Ann" || v.Blocklisted {
		t.Errorf("bad tokens changed the subscriber: %+v", v)
	}
}

func TestSubscribeHoneypot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, body := e.post("/subscribe/newsletter", url.Values{"email": {"bot@example.com"}, "website": {"http://spam.example"}})
	_, normal := e.post("/subscribe/newsletter", url.Values{"email": {"human@example.com"}})
	if res.StatusCode != 200 || body != normal {
		t.Fatalf("honeypot answer = %d, differs from the normal answer:\n%s", res.StatusCode, body)
	}
	items, _, _, _ := e.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: "bot@example.com"})
	if len(items) != 0 {
		t.Error("honeypot sign-up stored a subscriber")
	}
	if msgs := e.drain(); len(msgs) != 1 || msgs[0].To != "human@example.com" {
		t.Errorf("mails = %d, want only the human's", len(msgs))
	}
}

func TestSubscribeSameAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.confirmed("known@example.com")
	// Each answer also waits out the floor, whatever the store did: its
	// timing does not tell a new address from a known one. (The test
	// server records waits instead of sleeping.)
	timed := func(email string) string {
		e.mu.Lock()
		n := len(e.slept)
		e.mu.Unlock()
		start := time.Now()
		_, body := e.post("/subscribe/newsletter", url.Values{"email": {email}})
		d := time.Since(start)
		e.mu.Lock()
		defer e.mu.Unlock()
		if len(e.slept) != n+1 || d+e.slept[n] < 300*time.Millisecond {
			t.Errorf("sign-up of %s answered in %v with waits %v, before the 300 ms floor", email, d, e.slept[n:])
		}
		return body
	}
	fresh, known, again := timed("new@example.com"), timed("known@example.com"), timed("new@example.com") // the last: limited
	if fresh != known || fresh != again {
		t.Error("answers differ between a new, a confirmed and a limited address")
	}
	if msgs := e.drain(); len(msgs) != 1 {
		t.Errorf("mails = %d, want 1 (no mail to a confirmed address, none twice in the window)", len(msgs))
	}
}

// startsUpper reports whether s starts with a capital or with a quoted
// value, as a sentence may.
func startsUpper(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsUpper(r) || r == '“'
}

// alertRE finds a public page's error message.
var alertRE = regexp.MustCompile(`role="alert" id="form-error">([^<]+)</p>`)

func TestSubscribeInvalidKeepsInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.svc.UpdateList(t.Context(), "newsletter", list.ListPatch{Attributes: &[]string{"city"}}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		form url.Values
		want string
	}{
		{"bad address", url.Values{"email": {"not-an-address"}, "name": {"Zoë <b>"}, "attr.city": {"Oslo"}}, "not a valid email address"},
		{"empty address", url.Values{"email": {""}, "name": {"Zoë <b>"}, "attr.city": {"Oslo"}}, "enter your email"},
		{"long name", url.Values{"email": {"z@example.com"}, "name": {strings.Repeat("n", 201)}, "attr.city": {"Oslo"}}, "name is too long"},
		{"long attribute", url.Values{"email": {"z@example.com"}, "attr.city": {strings.Repeat("c", 501)}}, "too long"},
		{"control character", url.Values{"email": {"z@example.com"}, "name": {"a\x01b"}, "attr.city": {"Oslo"}}, "control characters"},
		// The sender cannot put it in an envelope (no SMTPUTF8): the
		// confirmation would never come.
		{"non-ASCII local part", url.Values{"email": {"jörg@example.com"}, "attr.city": {"Oslo"}}, "beyond plain ASCII"},
	}
	for _, c := range cases {
		res, body := e.post("/subscribe/newsletter", c.form)
		if res.StatusCode != 422 || !strings.Contains(body, c.want) || !strings.Contains(body, `role="alert"`) {
			t.Errorf("%s: %d, want 422 with %q\n%s", c.name, res.StatusCode, c.want, body)
			continue
		}
		// Every message is a sentence, whichever layer refused the input.
		if m := alertRE.FindStringSubmatch(body); m == nil || !startsUpper(html.UnescapeString(m[1])) || !strings.HasSuffix(m[1], ".") {
			t.Errorf("%s: the message is not a sentence: %v", c.name, m)
		}
		if v := c.form.Get("email"); v != "" && !strings.Contains(body, `value="`+v+`"`) {
			t.Errorf("%s: typed address not kept", c.name)
		}
		if c.form.Get("name") == "Zoë <b>" && !strings.Contains(body, `value="Zoë &lt;b&gt;"`) {
			t.Errorf("%s: typed name not kept (escaped)", c.name)
		}
		if c.form.Get("attr.city") == "Oslo" && !strings.Contains(body, `value="Oslo"`) {
			t.Errorf("%s: typed attribute not kept", c.name)
		}
	}
	if msgs := e.drain(); len(msgs) != 0 {
		t.Errorf("invalid sign-ups sent %d mails", len(msgs))
	}
	// Attributes of the list are stored.
	e.post("/subscribe/newsletter", url.Values{"email": {"y@example.com"}, "attr.city": {"Bergen"}, "attr.other": {"x"}})
	if v := e.subscriber("y@example.com"); v.Attributes["city"] != "Bergen" || v.Attributes["other"] != "" {
		t.Errorf("attributes = %v", v.Attributes)
	}
}

func TestSubscribeBodyTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, _ := e.post("/subscribe/newsletter", url.Values{"email": {"a@example.com"}, "name": {strings.Repeat("x", 20<<10)}})
	if res.StatusCode != 413 {
		t.Errorf("large body = %d, want 413", res.StatusCode)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("email", "a@example.com")
	mw.WriteField("name", strings.Repeat("x", 20<<10))
	mw.Close()
	req := httptest.NewRequest("POST", "/subscribe/newsletter", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if res, _ := e.do(req); res.StatusCode != 413 {
		t.Errorf("large multipart body = %d, want 413", res.StatusCode)
	}
}

func TestSubscribeRateLimit(t *testing.T) {
	t.Parallel()
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	e := newEnv(t, func(o *Options) { o.TrustedProxies = []netip.Prefix{proxy} })
	from := func(remote, xff string) *http.Request {
		req := formReq("/subscribe/newsletter", url.Values{"email": {"rl@example.com"}})
		req.RemoteAddr = remote
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		return req
	}
	for i := range 10 {
		// X-Forwarded-For from an untrusted peer is ignored.
		if res, _ := e.do(from("192.0.2.7:1000", fmt.Sprintf("198.51.100.%d", i))); res.StatusCode != 200 {
			t.Fatalf("sign-up %d = %d", i, res.StatusCode)
		}
	}
	res, body := e.do(from("192.0.2.7:1001", ""))
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many") {
		t.Fatalf("11th sign-up = %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if ra := res.Header.Get("Retry-After"); ra != "60" {
		t.Errorf("Retry-After = %s, want 60", ra)
	}
	// Another client is not limited.
	if res, _ := e.do(from("192.0.2.8:1000", "")); res.StatusCode != 200 {
		t.Errorf("other client = %d", res.StatusCode)
	}
	// Behind a trusted proxy, the rightmost untrusted hop is the client.
	for i := range 10 {
		if res, _ := e.do(from("10.1.2.3:1000", fmt.Sprintf("%d.0.0.1, 203.0.113.9, 10.9.9.9", i+1))); res.StatusCode != 200 {
			t.Fatalf("proxied sign-up %d = %d", i, res.StatusCode)
		}
	}
	if res, _ := e.do(from("10.1.2.3:1000", "203.0.113.9")); res.StatusCode != 429 {
		t.Errorf("proxied 11th sign-up = %d, want 429", res.StatusCode)
	}
	// The bucket refills.
	e.advance(time.Minute)
	if res, _ := e.do(from("192.0.2.7:1000", "")); res.StatusCode != 200 {
		t.Errorf("after a minute = %d, want 200", res.StatusCode)
	}
}

func TestSubscribeUnknownAndPrivateLists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.svc.CreateList(t.Context(), list.List{Slug: "staff", Name: "Staff"}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/subscribe/nope", "/subscribe/staff"} {
		if res, _ := e.get(p); res.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", p, res.StatusCode)
		}
		if res, _ := e.post(p, url.Values{"email": {"x@example.com"}}); res.StatusCode != 404 {
			t.Errorf("POST %s = %d, want 404", p, res.StatusCode)
		}
	}
	if msgs := e.drain(); len(msgs) != 0 {
		t.Errorf("mails = %d", len(msgs))
	}
}

// TestManageSuppressedJoinConfirms: a suppressed person who joins a list
// from the preference page is not silently left pending: they are told,
// and get a fresh confirmation mail whose link lifts the suppression.
func TestManageSuppressedJoinConfirms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.CreateList(ctx, list.List{Slug: "events", Name: "Events", Public: true}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	w := e.confirmed("sam@example.com")
	if _, err := e.svc.Suppress(ctx, "sam@example.com", "test", list.Origin{}); err != nil {
		t.Fatal(err)
	}
	res, body := e.post(pathOf(w.ManageURL), url.Values{"action": {"save"}, "name": {"Sam"}, "list": {"newsletter", "events"}})
	if res.StatusCode != 200 || !strings.Contains(body, "waiting for your confirmation") {
		t.Fatalf("save = %d, without saying that the join waits for a confirmation:\n%s", res.StatusCode, body)
	}
	if st := e.state("sam@example.com", "events"); st != list.StateUnconfirmed {
		t.Fatalf("events = %s, want unconfirmed until the link is followed", st)
	}
	msgs := e.drain()
	if len(msgs) != 1 || msgs[0].Kind != list.MailConfirm || msgs[0].ConfirmURL == "" {
		t.Fatalf("mails after the join = %+v, want one confirmation", msgs)
	}
	if res, _ := e.post(pathOf(msgs[0].ConfirmURL), nil); res.StatusCode != 200 {
		t.Fatalf("confirm = %d", res.StatusCode)
	}
	if v := e.subscriber("sam@example.com"); v.Blocklisted || e.state("sam@example.com", "events") != list.StateConfirmed {
		t.Errorf("after confirming: blocklisted %v, events %s; want lifted and confirmed", v.Blocklisted, e.state("sam@example.com", "events"))
	}
}

// TestSuppressedConfirmedSignsUpAgain: a person suppressed by a bounce
// while still confirmed on a list signs up on that list again: the form
// answers as ever, a confirmation goes out, and its link lifts the
// suppression. Without one, nobody suppressed could come back on their own.
func TestSuppressedConfirmedSignsUpAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.confirmed("erin@example.com")
	if _, err := e.svc.Suppress(t.Context(), "erin@example.com", "hard bounce 5.1.1", list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if st := e.state("erin@example.com", "newsletter"); st != list.StateConfirmed {
		t.Fatalf("newsletter = %s before the sign-up, want confirmed", st)
	}
	e.advance(24 * time.Hour) // the bounce came long after the first sign-up
	res, body := e.post("/subscribe/newsletter", url.Values{"email": {"erin@example.com"}})
	if res.StatusCode != 200 || !strings.Contains(body, "Check your inbox") {
		t.Fatalf("sign-up = %d\n%s", res.StatusCode, body)
	}
	msgs := e.drain()
	if len(msgs) != 1 || msgs[0].Kind != list.MailConfirm || msgs[0].ConfirmURL == "" {
		t.Fatalf("mails after the sign-up = %+v, want one confirmation", msgs)
	}
	if !e.subscriber("erin@example.com").Blocklisted {
		t.Fatal("the sign-up alone lifted the suppression")
	}
	if res, _ := e.post(pathOf(msgs[0].ConfirmURL), nil); res.StatusCode != 200 {
		t.Fatalf("confirm = %d", res.StatusCode)
	}
	if v := e.subscriber("erin@example.com"); v.Blocklisted || e.state("erin@example.com", "newsletter") != list.StateConfirmed {
		t.Errorf("after confirming: blocklisted %v; want lifted and still confirmed", v.Blocklisted)
	}
	e.drain() // the welcome
	// A confirmed person who is not suppressed gets nothing, as before.
	e.confirmed("fay@example.com")
	e.post("/subscribe/newsletter", url.Values{"email": {"fay@example.com"}})
	if msgs := e.drain(); len(msgs) != 0 {
		t.Errorf("a confirmed subscriber's sign-up mailed %+v", msgs)
	}
}

func TestManage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.CreateList(ctx, list.List{Slug: "events", Name: "Events", Public: true, Attributes: []string{"city"},
		ConsentText: "Yes, tell me about events & meetups."}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateList(ctx, list.List{Slug: "hidden", Name: "Hidden"}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	w := e.confirmed("eve@example.com")
	manage := pathOf(w.ManageURL)
	sb := e.subscriber("eve@example.com")
	before := len(e.events(sb.ID))
	res, body := e.get(manage)
	if len(e.events(sb.ID)) != before {
		t.Error("GET manage added events")
	}
	if res.StatusCode != 200 || !strings.Contains(body, `value="newsletter" checked`) || !strings.Contains(body, `value="events"`) {
		t.Fatalf("GET manage = %d\n%s", res.StatusCode, body)
	}
	if strings.Contains(body, "Hidden") || !strings.Contains(body, `value="export"`) {
		t.Errorf("manage page shows a private list, or no data action")
	}
	// Joining records the list's consent text: the page shows it.
	events, _ := e.svc.ListBySlug(ctx, "events")
	if !strings.Contains(body, "By joining: "+html.EscapeString(events.ConsentText)) {
		t.Errorf("the manage page does not show the consent text of a list to join (%q):\n%s", events.ConsentText, body)
	}
	res, body = e.post(manage, url.Values{"action": {"save"}, "name": {"Eve Smith"}, "list": {"events"}})
	if res.StatusCode != 200 || !strings.Contains(body, "saved") || !strings.Contains(body, "To join Events, follow the confirmation link we sent to eve@example.com.") {
		t.Fatalf("save = %d\n%s", res.StatusCode, body)
	}
	// Joining a double opt-in list is a sign-up: the manage link is in
	// every mail, forwarded ones too, and proves no consent.
	v := e.subscriber("eve@example.com")
	if v.Name != "Eve Smith" || e.state("eve@example.com", "newsletter") != list.StateUnsubscribed ||
		e.state("eve@example.com", "events") != list.StateUnconfirmed {
		t.Fatalf("after save: %+v", v)
	}
	msgs := e.drain()
	if len(msgs) != 1 || msgs[0].Kind != list.MailConfirm || msgs[0].ConfirmURL == "" {
		t.Fatalf("mails after joining = %+v, want one confirmation", msgs)
	}
	if res, _ := e.post(pathOf(msgs[0].ConfirmURL), nil); res.StatusCode != 200 || e.state("eve@example.com", "events") != list.StateConfirmed {
		t.Fatalf("confirm = %d, events %s", res.StatusCode, e.state("eve@example.com", "events"))
	}
	e.drain() // the welcome
	// Ticking again a list she left from this page is a sign-up too.
	e.post(manage, url.Values{"action": {"save"}, "name": {"Eve Smith"}, "list": {"events", "newsletter"}})
	if st := e.state("eve@example.com", "newsletter"); st != list.StateUnconfirmed {
		t.Fatalf("newsletter after rejoining = %s, want unconfirmed until confirmed", st)
	}
	if msgs := e.drain(); len(msgs) != 1 || msgs[0].Kind != list.MailConfirm {
		t.Fatalf("mails after rejoining = %+v, want one confirmation", msgs)
	}
	res, body = e.get(manage)
	if !strings.Contains(body, `name="attr.city"`) {
		t.Error("the events list's attribute is not offered after joining it")
	}
	res, body = e.post(manage, url.Values{"action": {"save"}, "name": {"x\x01"}, "list": {"events"}, "attr.city": {"Rome"}})
	if res.StatusCode != 422 || !strings.Contains(body, "control characters") || !strings.Contains(body, `value="Rome"`) {
		t.Errorf("invalid save = %d\n%s", res.StatusCode, body)
	}
	for _, action := range []string{"", "delete"} {
		if res, _ := e.post(manage, url.Values{"action": {action}}); res.StatusCode != 400 {
			t.Errorf("action %q = %d, want 400", action, res.StatusCode)
		}
	}
	if v := e.subscriber("eve@example.com"); v.Name != "Eve Smith" {
		t.Errorf("refused actions changed the name to %q", v.Name)
	}
}
