package list_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/list/logtest"
	"github.com/bulletin/bulletin/store"
)

// recorder is a Mailer that records messages; answer, when set, decides
// each delivery's outcome. delay passes before a message is taken;
// lateReply passes after, as when a relay has the message and its reply is
// still on the way: a context cancelled then loses the reply, not the
// message.
type recorder struct {
	mu        sync.Mutex
	msgs      []*list.Message
	answer    func(m *list.Message) error
	delay     time.Duration
	lateReply time.Duration
	previewed *list.Message
}

func (r *recorder) Send(ctx context.Context, m *list.Message) (string, error) {
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	r.mu.Lock()
	answer := r.answer
	r.mu.Unlock()
	if answer != nil {
		if err := answer(m); err != nil {
			return "", err
		}
	}
	r.mu.Lock()
	cp := *m
	r.msgs = append(r.msgs, &cp)
	late := r.lateReply
	r.mu.Unlock()
	if late > 0 {
		select {
		case <-time.After(late):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return "<" + m.To + "@test>", nil
}

// Preview keeps the last message it was asked to render.
func (r *recorder) Preview(ctx context.Context, m *list.Message) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cp := *m
	r.previewed = &cp
	return nil, nil
}

func (r *recorder) Lint(ctx context.Context, m *list.Message) []list.Finding {
	if m.PostalAddress == "" {
		return []list.Finding{{Severity: "error", Code: "postal", Message: "no postal address"}}
	}
	return nil
}

func (r *recorder) sent() []*list.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*list.Message(nil), r.msgs...)
}

func (r *recorder) to(email string) []*list.Message {
	var out []*list.Message
	for _, m := range r.sent() {
		if strings.EqualFold(m.To, email) {
			out = append(out, m)
		}
	}
	return out
}

// fixture is a service over a real bbolt store in a temp dir.
type fixture struct {
	svc  *list.Service
	db   *store.DB
	mail *recorder
	now  time.Time
	// start makes the clock move with real time from now on, plus advance.
	start time.Time
	mu    sync.Mutex
	// logs is what the service logged, as text.
	logs logtest.Buffer
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now.Add(time.Since(f.start))
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "b.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db, mail: &recorder{}, now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), start: time.Now()}
	f.svc, err = list.New(list.Options{Store: db, Mailer: f.mail, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Now: f.clock, Logger: slog.New(slog.NewTextHandler(&f.logs, nil)), Config: list.Config{BaseURL: "https://news.example.com", Domain: "news.example.com",
			PostalAddress: "1 Main St, Springfield"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	return f
}

// drain sends the queued system mails.
func (f *fixture) drain(t *testing.T) {
	t.Helper()
	if _, err := f.svc.DrainMailQueue(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func tokenOf(t *testing.T, url, prefix string) string {
	t.Helper()
	i := strings.Index(url, prefix)
	if i < 0 {
		t.Fatalf("URL %q lacks %q", url, prefix)
	}
	return url[i+len(prefix):]
}

func (f *fixture) state(t *testing.T, email, slug string) list.State {
	t.Helper()
	vs, _, _, err := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: email})
	if err != nil || len(vs) != 1 {
		t.Fatalf("search %s: %v, %d results", email, err, len(vs))
	}
	for _, s := range vs[0].Subscriptions {
		if s.Slug == slug {
			return s.State
		}
	}
	return ""
}

func TestDoubleOptIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	o := list.Origin{IP: "192.0.2.1", UserAgent: "test"}
	req := list.SubscribeRequest{List: "newsletter", Email: "Ann@Example.com", Name: "Ann", How: list.HowForm, Origin: o}
	if err := f.svc.Subscribe(ctx, req); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	ms := f.mail.to("Ann@Example.com")
	if len(ms) != 1 || ms[0].Kind != list.MailConfirm {
		t.Fatalf("after subscribe: %d mails, want one confirmation", len(ms))
	}
	confirm := tokenOf(t, ms[0].ConfirmURL, "/confirm/")
	if got := f.state(t, "ann@example.com", "newsletter"); got != list.StateUnconfirmed {
		t.Fatalf("state = %s, want unconfirmed", got)
	}
	// Viewing the confirmation page changes nothing.
	if _, err := f.svc.ConfirmInfo(ctx, confirm); err != nil {
		t.Fatal(err)
	}
	if got := f.state(t, "ann@example.com", "newsletter"); got != list.StateUnconfirmed {
		t.Fatalf("state after GET = %s, want unconfirmed", got)
	}
	if _, err := f.svc.Confirm(ctx, confirm, list.Origin{IP: "192.0.2.2", UserAgent: "browser"}); err != nil {
		t.Fatal(err)
	}
	v, _, _, _ := f.svc.SearchSubscribers(ctx, list.SearchRequest{Email: "ann@example.com"})
	sub := v[0].Subscriptions[0]
	if sub.State != list.StateConfirmed || sub.Consent == nil || sub.Consent.ConfirmIP != "192.0.2.2" || sub.Consent.IP != "192.0.2.1" || sub.Consent.Text == "" {
		t.Fatalf("after confirm: %+v consent %+v", sub.Subscription, sub.Consent)
	}
	f.drain(t)
	ms = f.mail.to("Ann@Example.com")
	if len(ms) != 2 || ms[1].Kind != list.MailWelcome || ms[1].UnsubscribeURL == "" || ms[1].ManageURL == "" {
		t.Fatalf("want a welcome mail with unsubscribe and manage links, got %d mails", len(ms))
	}
	// A confirmed address re-subscribing gets nothing new.
	if err := f.svc.Subscribe(ctx, req); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	if n := len(f.mail.to("ann@example.com")); n != 2 {
		t.Fatalf("re-subscribe of a confirmed address sent mail: %d mails", n)
	}
	// Unsubscribe, then the old confirm link cannot undo it.
	unsub := tokenOf(t, ms[1].UnsubscribeURL, "/unsubscribe/")
	if err := f.svc.Unsubscribe(ctx, unsub, false, list.HowOneClick, o); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Unsubscribe(ctx, unsub, false, list.HowOneClick, o); err != nil {
		t.Fatalf("second unsubscribe: %v, want idempotent", err)
	}
	if _, err := f.svc.Confirm(ctx, confirm, o); !errors.Is(err, list.ErrInvalidToken) {
		t.Fatalf("old confirm after unsubscribe: %v, want ErrInvalidToken", err)
	}
	if got := f.state(t, "ann@example.com", "newsletter"); got != list.StateUnsubscribed {
		t.Fatalf("state = %s, want unsubscribed", got)
	}
	// Re-subscribing after an unsubscribe asks for confirmation again.
	if err := f.svc.Subscribe(ctx, req); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	if got := f.state(t, "ann@example.com", "newsletter"); got != list.StateUnconfirmed {
		t.Fatalf("state = %s, want unconfirmed", got)
	}
	if ms := f.mail.to("ann@example.com"); ms[len(ms)-1].Kind != list.MailConfirm {
		t.Fatal("re-subscribe after unsubscribe sent no confirmation")
	}
}

func TestSubscribeLimitsConfirmationMails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req := list.SubscribeRequest{List: "newsletter", Email: "bob@example.com", How: list.HowForm}
	for range 3 {
		if err := f.svc.Subscribe(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	f.drain(t)
	if n := len(f.mail.to("bob@example.com")); n != 1 {
		t.Fatalf("3 sign-ups within the window sent %d mails, want 1", n)
	}
	f.advance(6 * time.Minute)
	if err := f.svc.Subscribe(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	if n := len(f.mail.to("bob@example.com")); n != 2 {
		t.Fatalf("sign-up after the window sent %d mails in all, want 2", n)
	}
}

func TestConfirmTokenExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if err := f.svc.Subscribe(t.Context(), list.SubscribeRequest{List: "newsletter", Email: "c@example.com", How: list.HowForm}); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	tok := tokenOf(t, f.mail.to("c@example.com")[0].ConfirmURL, "/confirm/")
	f.advance(8 * 24 * time.Hour)
	if _, err := f.svc.Confirm(t.Context(), tok, list.Origin{}); !errors.Is(err, list.ErrInvalidToken) {
		t.Fatalf("Confirm after 8 days: %v, want ErrInvalidToken", err)
	}
	if got := f.state(t, "c@example.com", "newsletter"); got != list.StateUnconfirmed {
		t.Fatalf("state = %s, want unconfirmed", got)
	}
}

func TestUnsubscribeFromAllSuppresses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	v, err := f.svc.AddSubscriber(ctx, list.NewSubscriber{Email: "d@example.com", Lists: []string{"newsletter"},
		State: list.StateConfirmed, Reason: "signed up at the fair"}, list.HowAdmin, list.Origin{User: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.svc.Tokens().Seal(list.Token{Purpose: list.PurposeUnsubscribe, Subscriber: v.ID, List: v.Subscriptions[0].List})
	if err := f.svc.Unsubscribe(ctx, tok, true, list.HowForm, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.Subscriber(ctx, v.ID)
	if err != nil || !got.Blocklisted || got.Subscriptions[0].State != list.StateUnsubscribed {
		t.Fatalf("after unsubscribe from all: %+v, %v", got, err)
	}
	// An import or an editor's addition does not lift it, and mails nothing.
	if err := f.svc.Subscribe(ctx, list.SubscribeRequest{List: "newsletter", Email: "d@example.com", How: list.HowAPI}); err != nil {
		t.Fatal(err)
	}
}

func TestNextStatusTable(t *testing.T) {
	t.Parallel()
	statuses := []list.Status{list.StatusDraft, list.StatusScheduled, list.StatusRunning, list.StatusPaused, list.StatusCancelled, list.StatusFinished}
	actions := []string{list.ActionSend, list.ActionPause, list.ActionResume, list.ActionCancel, list.ActionUnschedule}
	want := map[string]list.Status{
		"draft/send/now":       list.StatusRunning,
		"draft/send/future":    list.StatusScheduled,
		"scheduled/unschedule": list.StatusDraft,
		"running/pause":        list.StatusPaused,
		"paused/resume":        list.StatusRunning,
		"running/cancel":       list.StatusCancelled,
		"paused/cancel":        list.StatusCancelled,
	}
	for _, st := range statuses {
		for _, a := range actions {
			for _, future := range []bool{false, true} {
				key := string(st) + "/" + a
				if a == list.ActionSend {
					key += map[bool]string{false: "/now", true: "/future"}[future]
				}
				got, err := list.NextStatus(st, a, future)
				w, ok := want[key]
				if ok != (err == nil) || got != w {
					t.Errorf("NextStatus(%s, %s, %v) = %q, %v; want %q", st, a, future, got, err, w)
				}
				if err != nil && !errors.Is(err, list.ErrBadTransition) {
					t.Errorf("NextStatus(%s, %s): %v, want ErrBadTransition", st, a, err)
				}
			}
		}
	}
}

// TestSystemMailRefusalIsABounce: a relay's 5xx for a confirmation mail is
// a bounce record that acts on the address, as a campaign's is
// (deliverability.md); a 4xx is retried and records nothing.
func TestSystemMailRefusalIsABounce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mail.answer = func(m *list.Message) error {
		switch m.To {
		case "gone@example.com":
			return &list.DeliveryError{Code: 550, Status: "5.1.1", Text: "no such user", Kind: list.BounceHard}
		case "busy@example.com":
			return &list.DeliveryError{Code: 452, Status: "4.2.2", Text: "mailbox full", Temporary: true}
		}
		return nil
	}
	for _, email := range []string{"gone@example.com", "busy@example.com"} {
		if err := f.svc.Subscribe(t.Context(), list.SubscribeRequest{List: "newsletter", Email: email, How: list.HowForm}); err != nil {
			t.Fatal(err)
		}
	}
	f.drain(t)
	for email, want := range map[string]int{"gone@example.com": 1, "busy@example.com": 0} {
		bs, err := f.db.Bounces(t.Context(), list.BounceFilter{Email: email})
		if err != nil || len(bs) != want || want == 1 && (bs[0].Kind != list.BounceHard || !bs[0].Counted || bs[0].Campaign != 0) {
			t.Errorf("%s: bounces %+v, %v; want %d", email, bs, err, want)
		}
		items, _, _, err := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: email})
		if err != nil || len(items) != 1 || items[0].Blocklisted != (want == 1) {
			t.Errorf("%s: %+v, %v; want blocklisted %v", email, items, err, want == 1)
		}
	}
}

// TestListGetsAConsentStatement: a list made without a consent text gets a
// plain one, so that every sign-up records what the person agreed to; one
// given is kept.
func TestListGetsAConsentStatement(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	l, err := f.svc.CreateList(t.Context(), list.List{Slug: "weekly", Name: "The Weekly", Public: true}, list.Origin{})
	if err != nil || !strings.Contains(l.ConsentText, "The Weekly") || l.ConsentVersion != 1 {
		t.Fatalf("CreateList = %q v%d, %v", l.ConsentText, l.ConsentVersion, err)
	}
	if err := f.svc.Subscribe(t.Context(), list.SubscribeRequest{List: "weekly", Email: "w@example.com", How: list.HowForm}); err != nil {
		t.Fatal(err)
	}
	r, err := f.db.Record(t.Context(), list.Key{Identity: "w@example.com"})
	if err != nil || len(r.Subscriptions) != 1 || r.Subscriptions[0].Consent == nil || r.Subscriptions[0].Consent.Text != l.ConsentText {
		t.Errorf("the sign-up's consent record = %+v, %v; want the list's statement", r.Subscriptions, err)
	}
	own, err := f.svc.CreateList(t.Context(), list.List{Slug: "own", Name: "Own", ConsentText: "Mine."}, list.Origin{})
	if err != nil || own.ConsentText != "Mine." {
		t.Errorf("CreateList with a text = %q, %v", own.ConsentText, err)
	}
}

// TestListTextTooLongSaysWhich: a list text over its limit is refused
// naming the field and the list, on a page with one form per list.
func TestListTextTooLongSaysWhich(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	long := strings.Repeat("x", 20001)
	_, err := f.svc.UpdateList(t.Context(), "newsletter", list.ListPatch{ConfirmText: &long}, list.Origin{})
	if !errors.Is(err, list.ErrInvalid) || !strings.Contains(err.Error(), "confirmation text of list newsletter") {
		t.Errorf("UpdateList with a long confirmation text = %v", err)
	}
}

// TestSenderInternationalDomain: a list's and a campaign's own sender take
// an international domain as typed and keep it in its xn-- form, as the
// instance's sender does.
func TestSenderInternationalDomain(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	l, err := f.svc.CreateList(t.Context(), list.List{Slug: "mueller", Name: "Müller", From: "Müller <news@müller.example>"}, list.Origin{})
	if err != nil || l.From != "Müller <news@xn--mller-kva.example>" {
		t.Fatalf("list sender = %q, %v; want its xn-- form", l.From, err)
	}
	from, subject, body := "News <news@bücher.example>", "Hi", "Hello"
	c, err := f.svc.CreateCampaign(t.Context(), list.CampaignInput{From: &from, Subject: &subject, Body: &body}, list.Origin{})
	if err != nil || c.From != "News <news@xn--bcher-kva.example>" {
		t.Fatalf("campaign sender = %q, %v; want its xn-- form", c.From, err)
	}
}

// TestLintErrorSentences: a refused send names each error finding as a
// sentence of its own.
func TestLintErrorSentences(t *testing.T) {
	e := &list.LintError{Findings: []list.Finding{
		{Severity: "error", Code: "subject-empty", Message: "The subject is empty."},
		{Severity: "warning", Code: "base-url-https", Message: "Not HTTPS."},
		{Severity: "error", Code: "template", Message: "The body template does not parse: body:1: unclosed action."},
	}}
	if got, want := e.Error(), "campaign cannot be sent: The subject is empty. The body template does not parse: body:1: unclosed action."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestOperatorLogs: what an operator acts on is logged, by id and never by
// address: an editor's campaign actions, and an inbound bounce that acts
// on someone.
func TestOperatorLogs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.svc.CreateList(ctx, list.List{Slug: "news", Name: "News"}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	v, err := f.svc.AddSubscriber(ctx, list.NewSubscriber{Email: "gone@example.com", Lists: []string{"news"}, State: list.StateConfirmed, Reason: "test"},
		list.HowImport, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	name, subj, body, lists, at := "c", "S", "<p>x</p>", []string{"news"}, f.clock().Add(time.Hour)
	c, err := f.svc.CreateCampaign(ctx, list.CampaignInput{Name: &name, Subject: &subj, Body: &body, Lists: &lists, SendAt: &at}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"send", "unschedule"} {
		if _, err := f.svc.CampaignAction(ctx, c.ID, a, list.Origin{User: "ed"}); err != nil {
			t.Fatal(a, err)
		}
	}
	tok := f.svc.Tokens().Seal(list.Token{Purpose: list.PurposeBounce, Subscriber: v.ID, Campaign: c.ID})
	err = f.svc.HandleInbound(ctx, list.InboundReport{Rcpt: list.RcptBounceToken, Token: tok,
		Bounces: []list.Bounce{{Email: "gone@example.com", Kind: list.BounceHard, Action: "failed", Status: "5.1.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	logs := f.logs.String()
	for _, want := range []string{
		fmt.Sprintf(`msg="campaign action" action=schedule campaign_id=%d status=scheduled user=ed`, c.ID),
		fmt.Sprintf(`msg="campaign action" action=unschedule campaign_id=%d status=draft user=ed`, c.ID),
		fmt.Sprintf(`msg="bounce recorded" kind=hard status=5.1.1 counted=true sub_id=%d campaign_id=%d`, v.ID, c.ID),
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "gone@example.com") {
		t.Errorf("the log names an address:\n%s", logs)
	}
}

// TestPasswordLengthInCharacters: a password's minimum is in characters,
// as the form's minlength="10" counts them: four "€" (twelve bytes) are
// too short, ten "é" are enough.
func TestPasswordLengthInCharacters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.svc.AddUser(t.Context(), "short", list.RoleEditor, "€€€€", list.Origin{}); !errors.Is(err, list.ErrInvalid) {
		t.Errorf("AddUser with 4 characters of 12 bytes = %v, want refused", err)
	}
	if _, err := f.svc.AddUser(t.Context(), "long", list.RoleEditor, strings.Repeat("é", 10), list.Origin{}); err != nil {
		t.Errorf("AddUser with 10 characters: %v", err)
	}
}

// TestListRefusalsAtOnce: a list with several bad fields is refused with
// every reason at once, so that a form is not sent back once a field.
func TestListRefusalsAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.svc.CreateList(t.Context(), list.List{Slug: "Bad Slug", Name: "Friends", Description: strings.Repeat("d", 2001), From: "not a sender"}, list.Origin{})
	if !errors.Is(err, list.ErrInvalid) {
		t.Fatalf("CreateList = %v, want ErrInvalid", err)
	}
	for _, want := range []string{"slug must be", "description of list Bad Slug is longer than 2000 characters", "not a sender"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q lacks %q", err, want)
		}
	}
}
