package list_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// population adds n confirmed subscribers spread over lists a, b and c with
// overlaps: i%2==0 on a, i%3==0 on b, i%5==0 on c (some on none: i%30 in
// 1,7,11,13,17,19,23,29).
func population(t *testing.T, f *fixture, n int) (onAny map[string]bool) {
	t.Helper()
	ctx := t.Context()
	for _, slug := range []string{"a", "b", "c"} {
		if _, err := f.svc.CreateList(ctx, list.List{Slug: slug, Name: "List " + slug}, list.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	onAny = map[string]bool{}
	for i := 1; i <= n; i++ {
		var lists []string
		for _, x := range []struct {
			slug string
			mod  int
		}{{"a", 2}, {"b", 3}, {"c", 5}} {
			if i%x.mod == 0 {
				lists = append(lists, x.slug)
			}
		}
		email := fmt.Sprintf("user%04d@example.com", i)
		if _, err := f.svc.AddSubscriber(ctx, list.NewSubscriber{Email: email, Lists: lists, State: list.StateConfirmed, Reason: "test"}, list.HowImport, list.Origin{}); err != nil {
			t.Fatal(err)
		}
		if len(lists) > 0 {
			onAny[email] = true
		}
	}
	f.advance(time.Minute)
	return onAny
}

func startRunner(t *testing.T, f *fixture, opts list.RunnerOptions) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.svc.RunCampaigns(ctx, opts); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func newCampaign(t *testing.T, f *fixture, lists ...string) list.CampaignView {
	t.Helper()
	subj, body := "Hello", "<p>Hi {{.Name}}</p>"
	c, err := f.svc.CreateCampaign(t.Context(), list.CampaignInput{Subject: &subj, Body: &body, Lists: &lists}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitStatus(t *testing.T, f *fixture, id list.CampaignID, want list.Status) list.CampaignView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := f.svc.GetCampaign(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == want {
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, _ := f.svc.GetCampaign(t.Context(), id)
	t.Fatalf("campaign %d is %s (%+v), want %s", id, c.Status, c.Stats, want)
	return c
}

// unsubscribeAt makes the mailer unsubscribe email from every list, by
// one click, when the nth message is sent.
func unsubscribeAt(t *testing.T, f *fixture, n int32, email string) {
	var sent atomic.Int32
	f.mail.answer = func(m *list.Message) error {
		if sent.Add(1) == n {
			v, _, _, _ := f.svc.SearchSubscribers(context.Background(), list.SearchRequest{Email: email})
			tok := f.svc.Tokens().Seal(list.Token{Purpose: list.PurposeUnsubscribe, Subscriber: v[0].ID})
			if err := f.svc.Unsubscribe(context.Background(), tok, true, list.HowOneClick, list.Origin{}); err != nil {
				t.Error(err)
			}
		}
		return nil
	}
}

// TestRunnerOnly: a runner restricted to one campaign sends that one and
// leaves another running campaign untouched for its own run.
func TestRunnerOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	population(t, f, 30)
	other, mine := newCampaign(t, f, "a"), newCampaign(t, f, "b")
	for _, id := range []list.CampaignID{other.ID, mine.ID} {
		if _, err := f.svc.CampaignAction(t.Context(), id, list.ActionSend, list.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	startRunner(t, f, list.RunnerOptions{Workers: 2, Poll: 10 * time.Millisecond, Only: mine.ID})
	waitStatus(t, f, mine.ID, list.StatusFinished)
	for _, m := range f.mail.sent() {
		if m.Campaign != nil && m.Campaign.ID == other.ID {
			t.Fatalf("the runner restricted to campaign %d sent campaign %d to %s", mine.ID, other.ID, m.To)
		}
	}
	if c, _ := f.svc.GetCampaign(t.Context(), other.ID); c.Status != list.StatusRunning || c.Stats.Sent != 0 {
		t.Errorf("the other campaign is %s with %d sent, want running with none", c.Status, c.Stats.Sent)
	}
}

func TestCampaignReachesEveryoneOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	onAny := population(t, f, 240)
	// One person unsubscribes during the run: they get nothing after it.
	late := "user0240@example.com"
	unsubscribeAt(t, f, 20, late)
	c := newCampaign(t, f, "c", "b", "a")
	startRunner(t, f, list.RunnerOptions{Workers: 4, Poll: 10 * time.Millisecond})
	if _, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, f, c.ID, list.StatusFinished)
	got := map[string]int{}
	for _, m := range f.mail.sent() {
		if m.Campaign == nil {
			continue
		}
		got[m.To]++
		if m.UnsubscribeURL == "" || m.ReturnPath == "" || m.List == nil {
			t.Fatalf("message to %s lacks links or list", m.To)
		}
	}
	for email := range onAny {
		if email == late {
			continue
		}
		if got[email] != 1 {
			t.Errorf("%s got %d messages, want 1", email, got[email])
		}
	}
	if got[late] != 0 {
		t.Errorf("%s unsubscribed mid-run and still got %d messages", late, got[late])
	}
	if len(got) != len(onAny)-1 {
		t.Errorf("%d people got mail, want %d", len(got), len(onAny)-1)
	}
	if done.Stats.Total != len(onAny) || done.Stats.Sent != len(onAny)-1 || done.Stats.Skipped != 1 || done.Stats.Remaining != 0 {
		t.Errorf("stats = %+v, want total %d, sent %d, skipped 1", done.Stats, len(onAny), len(onAny)-1)
	}
}

// TestCampaignCountsLeaversAsSkipped checks that someone who leaves before
// the recipient stream reads their page counts as skipped: the finished
// campaign has nobody remaining.
func TestCampaignCountsLeaversAsSkipped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	population(t, f, 1200) // list a: the 600 even ids, more than one page
	late := "user1200@example.com"
	unsubscribeAt(t, f, 20, late)
	c := newCampaign(t, f, "a")
	startRunner(t, f, list.RunnerOptions{Workers: 4, Poll: 10 * time.Millisecond})
	if _, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, f, c.ID, list.StatusFinished)
	for _, m := range f.mail.sent() {
		if m.To == late {
			t.Errorf("%s unsubscribed mid-run and still got mail", late)
		}
	}
	if st := done.Stats; st.Total != 600 || st.Sent != 599 || st.Skipped != 1 || st.Remaining != 0 {
		t.Errorf("stats = %+v, want total 600, sent 599, skipped 1, remaining 0", st)
	}
}

// greylistTries counts the deliveries tried to each address.
type greylistTries struct {
	mu sync.Mutex
	n  map[string]int
}

func (g *greylistTries) of(email string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n[email]
}

// greylistOnce makes the mailer defer each address's first delivery with
// a 451, as a greylisting relay does, and accept the next.
func greylistOnce(f *fixture) *greylistTries {
	g := &greylistTries{n: map[string]int{}}
	f.mail.answer = func(m *list.Message) error {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.n[m.To]++
		if g.n[m.To] == 1 {
			return &list.DeliveryError{Code: 451, Status: "4.7.1", Text: "greylisted, try again", Temporary: true}
		}
		return nil
	}
	return g
}

func TestCampaignRetriesDeferrals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	onAny := population(t, f, 30)
	greylistOnce(f)
	c := newCampaign(t, f, "a", "b", "c")
	startRunner(t, f, list.RunnerOptions{Workers: 2, Poll: 10 * time.Millisecond, Backoff: []time.Duration{50 * time.Millisecond}})
	if _, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, f, c.ID, list.StatusFinished)
	if done.Stats.Sent != len(onAny) || done.Stats.Deferred != 0 || done.Stats.Failed != 0 {
		t.Fatalf("stats = %+v, want all %d sent after one deferral each", done.Stats, len(onAny))
	}
	if n := len(f.mail.sent()); n != len(onAny) {
		t.Fatalf("%d messages delivered, want %d", n, len(onAny))
	}
}

// slowCommits is the store with commit groups that take a while, as on a
// slow disk: outcomes wait longer between their collection and the store.
type slowCommits struct {
	*store.DB
	delay time.Duration
}

func (s slowCommits) CommitSends(ctx context.Context, id list.CampaignID, b list.SendBatch) (list.Campaign, error) {
	time.Sleep(s.delay)
	return s.DB.CommitSends(ctx, id, b)
}

// TestCampaignRetriesOnce defers everyone at first, then lets the retries
// through while each commit group takes longer than the runner's look for
// due deferrals: a retry is sent once more, not again while its outcome
// waits for its group, and the counts add up.
func TestCampaignRetriesOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	onAny := population(t, f, 60)
	tries := greylistOnce(f)
	svc, err := list.New(list.Options{Store: slowCommits{f.db, 1200 * time.Millisecond}, Mailer: f.mail,
		Secret: []byte("0123456789abcdef0123456789abcdef"), Now: f.clock, Config: f.svc.Config()})
	if err != nil {
		t.Fatal(err)
	}
	c := newCampaign(t, f, "a", "b", "c")
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		svc.RunCampaigns(ctx, list.RunnerOptions{Workers: 8, Poll: 10 * time.Millisecond, Backoff: []time.Duration{time.Millisecond}})
		close(stopped)
	}()
	t.Cleanup(func() { cancel(); <-stopped })
	if _, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, f, c.ID, list.StatusFinished)
	for email := range onAny {
		if n := tries.of(email); n != 2 {
			t.Errorf("%s was tried %d times, want 2 (one deferral, one retry)", email, n)
		}
	}
	if done.Stats.Sent != len(onAny) || done.Stats.Deferred != 0 {
		t.Errorf("stats = %+v, want %d sent and none deferred", done.Stats, len(onAny))
	}
}

func TestCampaignPermanentFailureBlocklists(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	population(t, f, 10)
	bad := "user0004@example.com"
	f.mail.answer = func(m *list.Message) error {
		if m.To == bad {
			return &list.DeliveryError{Code: 550, Status: "5.1.1", Text: "user unknown", Kind: list.BounceHard}
		}
		return nil
	}
	c := newCampaign(t, f, "a")
	startRunner(t, f, list.RunnerOptions{Workers: 2, Poll: 10 * time.Millisecond})
	if _, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, f, c.ID, list.StatusFinished)
	if done.Stats.Failed != 1 || done.Stats.Sent != 4 {
		t.Fatalf("stats = %+v, want 1 failed, 4 sent", done.Stats)
	}
	v, _, _, _ := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: bad})
	if !v[0].Blocklisted {
		t.Fatalf("%s is not blocklisted after a hard 5.1.1", bad)
	}
	bs, err := f.db.Bounces(t.Context(), list.BounceFilter{Campaign: c.ID})
	if err != nil || len(bs) != 1 || bs[0].Kind != list.BounceHard {
		t.Fatalf("bounces = %+v, %v; want one hard bounce", bs, err)
	}
}

// sendThenPause sends campaign c and pauses it once n messages are out.
func sendThenPause(t *testing.T, f *fixture, c list.CampaignView, n int) {
	t.Helper()
	ctx := t.Context()
	if _, err := f.svc.CampaignAction(ctx, c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	for len(f.mail.sent()) < n {
		time.Sleep(time.Millisecond)
	}
	if _, err := f.svc.CampaignAction(ctx, c.ID, list.ActionPause, list.Origin{}); err != nil {
		t.Fatal(err)
	}
}

// resumeToTheEnd resumes campaign c, waits for it to finish and checks that
// everyone in onAny got exactly one message across the pause.
func resumeToTheEnd(t *testing.T, f *fixture, c list.CampaignView, onAny map[string]bool) list.CampaignView {
	t.Helper()
	if _, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionResume, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, f, c.ID, list.StatusFinished)
	got := map[string]int{}
	for _, m := range f.mail.sent() {
		got[m.To]++
	}
	for email := range onAny {
		if got[email] != 1 {
			t.Errorf("%s got %d messages across pause/resume, want 1", email, got[email])
		}
	}
	return done
}

func TestCampaignPauseResumeCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	onAny := population(t, f, 60)
	f.mail.delay = 5 * time.Millisecond
	c := newCampaign(t, f, "a", "b", "c")
	startRunner(t, f, list.RunnerOptions{Workers: 2, Poll: 10 * time.Millisecond})
	ctx := t.Context()
	sendThenPause(t, f, c, 5)
	time.Sleep(300 * time.Millisecond) // in-flight messages finish
	n := len(f.mail.sent())
	time.Sleep(200 * time.Millisecond)
	if m := len(f.mail.sent()); m != n || n >= len(onAny) {
		t.Fatalf("paused campaign went on sending: %d then %d of %d", n, m, len(onAny))
	}
	resumeToTheEnd(t, f, c, onAny)
	// Cancel: a second campaign stops for good.
	c2 := newCampaign(t, f, "a")
	if _, err := f.svc.CampaignAction(ctx, c2.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CampaignAction(ctx, c2.ID, list.ActionCancel, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CampaignAction(ctx, c2.ID, list.ActionResume, list.Origin{}); !errors.Is(err, list.ErrBadTransition) {
		t.Fatalf("resume of a cancelled campaign: %v, want ErrBadTransition", err)
	}
	if _, err := f.svc.UpdateCampaign(ctx, c2.ID, list.CampaignInput{}, list.Origin{}); !errors.Is(err, list.ErrBadTransition) {
		t.Fatalf("edit of a cancelled campaign: %v, want ErrBadTransition", err)
	}
}

// TestCampaignPauseLetsInFlightFinish pauses a campaign while messages
// are with the relay and their replies on the way: those replies are
// awaited and recorded, so that the resumed run sends nobody a second
// message.
func TestCampaignPauseLetsInFlightFinish(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	onAny := population(t, f, 90)
	f.mail.lateReply = 40 * time.Millisecond
	c := newCampaign(t, f, "a", "b", "c")
	startRunner(t, f, list.RunnerOptions{Workers: 6, Poll: 10 * time.Millisecond})
	sendThenPause(t, f, c, 10)
	// Every message the relay took is recorded, once the run has drained;
	// cut off, the lost replies would never be.
	waitTakenRecorded(t, f, c)
	if done := resumeToTheEnd(t, f, c, onAny); done.Stats.Sent != len(onAny) {
		t.Errorf("stats.sent = %d, want %d", done.Stats.Sent, len(onAny))
	}
}

// waitTakenRecorded waits until the paused campaign c has every message
// its relay took recorded as sent.
func waitTakenRecorded(t *testing.T, f *fixture, c list.CampaignView) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		paused, err := f.svc.GetCampaign(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(f.mail.sent()); paused.Stats.Sent == n {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("paused with %d messages taken by the relay and %d recorded as sent", n, paused.Stats.Sent)
		}
	}
}

// TestCampaignPauseWaitsForASlowRelay: a relay slower to answer than the
// shutdown's Drain still has every message it took recorded after a
// pause, so that a resume sends nobody a second copy.
func TestCampaignPauseWaitsForASlowRelay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	onAny := population(t, f, 60)
	f.mail.lateReply = 400 * time.Millisecond
	c := newCampaign(t, f, "a", "b", "c")
	startRunner(t, f, list.RunnerOptions{Workers: 6, Poll: 10 * time.Millisecond, Drain: 50 * time.Millisecond})
	sendThenPause(t, f, c, 3)
	waitTakenRecorded(t, f, c)
	if done := resumeToTheEnd(t, f, c, onAny); done.Stats.Sent != len(onAny) {
		t.Errorf("stats.sent = %d, want %d", done.Stats.Sent, len(onAny))
	}
}

// TestPreviewShowsFirstRealRecipient: the preview is the message the
// campaign's first recipient gets, so it skips members a run would skip
// (left, or suppressed) and never shows their links.
// TestUnbuildableCampaignPausesOnce: when no message of a campaign can be
// built, every worker fails alike; the campaign is paused once, logged
// once, with a reason the editor can read.
func TestUnbuildableCampaignPausesOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	population(t, f, 300)
	f.mail.answer = func(*list.Message) error {
		return fmt.Errorf("smtp: refusing bulk mail without a postal address (set --postal-address): %w", list.ErrInvalid)
	}
	c := newCampaign(t, f, "a", "b", "c")
	startRunner(t, f, list.RunnerOptions{Workers: 16, Poll: 10 * time.Millisecond})
	if _, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	c = waitStatus(t, f, c.ID, list.StatusPaused)
	if want := "cannot build the message: smtp: refusing bulk mail without a postal address (set --postal-address)"; c.Reason != want {
		t.Errorf("reason = %q, want %q", c.Reason, want)
	}
	time.Sleep(200 * time.Millisecond) // the other workers' failures
	if n := strings.Count(f.logs.String(), `msg="campaign paused"`); n != 1 {
		t.Errorf("the pause was logged %d times, want once:\n%s", n, f.logs.String())
	}
}

func TestPreviewShowsFirstRealRecipient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	population(t, f, 12) // list a holds every second person: user0002, user0004, …
	for _, email := range []string{"user0002@example.com"} {
		if _, err := f.svc.Suppress(ctx, email, "test", list.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	la, err := f.svc.ListBySlug(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	v, _, _, _ := f.svc.SearchSubscribers(ctx, list.SearchRequest{Email: "user0004@example.com"})
	tok := f.svc.Tokens().Seal(list.Token{Purpose: list.PurposeUnsubscribe, Subscriber: v[0].ID, List: la.ID})
	if err := f.svc.Unsubscribe(ctx, tok, false, list.HowOneClick, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if got, _, _, _ := f.svc.SearchSubscribers(ctx, list.SearchRequest{Email: "user0004@example.com"}); got[0].Blocklisted {
		t.Fatal("leaving one list suppressed the address: the test would not tell the two skips apart")
	}
	c := newCampaign(t, f, "a")
	if _, _, err := f.svc.PreviewCampaign(ctx, c.ID, list.CampaignInput{}); err != nil {
		t.Fatal(err)
	}
	f.mail.mu.Lock()
	m := f.mail.previewed
	f.mail.mu.Unlock()
	if m == nil || m.To != "user0006@example.com" || m.List == nil || m.List.Slug != "a" {
		t.Fatalf("preview rendered for %+v, want user0006@example.com on list a (0002 is suppressed, 0004 left)", m)
	}
}

func TestSendRefusedByLint(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.svc.Config()
	cfg.PostalAddress = ""
	f.svc.SetConfig(cfg)
	c := newCampaign(t, f, "newsletter")
	_, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{})
	var le *list.LintError
	if !errors.As(err, &le) || !errors.Is(err, list.ErrInvalid) {
		t.Fatalf("send without postal address: %v, want a LintError", err)
	}
	if got, _ := f.svc.GetCampaign(t.Context(), c.ID); got.Status != list.StatusDraft {
		t.Fatalf("status = %s, want draft", got.Status)
	}
}

// TestCampaignInFlightBound: however many workers send, no more than
// InFlight messages are sent and not committed at any time (what a crash
// could send twice), and every recipient still gets one message.
func TestCampaignInFlightBound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	onAny := population(t, f, 40)
	const inFlight = 6
	var c list.CampaignView
	var mu sync.Mutex
	sent, worst := 0, 0
	f.mail.answer = func(m *list.Message) error {
		if m.Campaign == nil {
			return nil
		}
		// The committed count is read after this message is counted, and
		// no other is counted meanwhile: commits only make it larger, so
		// the gap is never overstated.
		mu.Lock()
		defer mu.Unlock()
		sent++
		cur, err := f.svc.GetCampaign(context.Background(), c.ID)
		if err != nil {
			return err
		}
		worst = max(worst, sent-cur.Stats.Sent)
		return nil
	}
	c = newCampaign(t, f, "c", "b", "a")
	startRunner(t, f, list.RunnerOptions{Workers: 16, GroupSize: 2, InFlight: inFlight, Poll: 10 * time.Millisecond})
	if _, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, f, c.ID, list.StatusFinished)
	mu.Lock()
	defer mu.Unlock()
	if worst > inFlight {
		t.Errorf("%d messages were sent and not committed at once, want at most %d", worst, inFlight)
	}
	if done.Stats.Sent != len(onAny) || sent != len(onAny) {
		t.Errorf("sent %d, stats %+v; want %d each", sent, done.Stats, len(onAny))
	}
}

// TestCampaignResumeSkipsCommitted resumes a campaign as a crash leaves
// it: the cursor behind some recipients whose outcome was committed in the
// last group. A resumed run sends them nothing, and everyone else past the
// cursor exactly one message.
func TestCampaignResumeSkipsCommitted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	population(t, f, 90)
	ctx := t.Context()
	view := newCampaign(t, f, "a", "b", "c")
	c, err := f.db.Campaign(ctx, view.ID)
	if err != nil {
		t.Fatal(err)
	}
	started := f.svc.Now()
	var ids []list.SubscriberID
	rs := list.NewRecipients(f.db, c.Lists, 0, started)
	for {
		id, err := rs.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if id == 0 {
			break
		}
		ids = append(ids, id)
	}
	// The first run got through ids[:10]; of the next ones, 12, 15 and the
	// last were committed too before the crash.
	cursor := ids[9]
	committed := map[list.SubscriberID]bool{ids[12]: true, ids[15]: true, ids[len(ids)-1]: true}
	batch := list.SendBatch{Cursor: cursor, Delta: list.Stats{Sent: 10 + len(committed)}}
	for _, id := range ids[:10] {
		batch.Records = append(batch.Records, list.SendRecord{Subscriber: id, Outcome: list.OutcomeSent, At: started})
	}
	for id := range committed {
		batch.Records = append(batch.Records, list.SendRecord{Subscriber: id, Outcome: list.OutcomeSent, At: started})
	}
	if _, err := f.db.UpdateCampaign(ctx, c.ID, func(c *list.Campaign) error {
		c.Status, c.StartedAt, c.Stats.Total = list.StatusRunning, &started, len(ids)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.CommitSends(ctx, c.ID, batch); err != nil {
		t.Fatal(err)
	}

	startRunner(t, f, list.RunnerOptions{Workers: 4, Poll: 10 * time.Millisecond})
	done := waitStatus(t, f, c.ID, list.StatusFinished)
	got := map[list.SubscriberID]int{}
	for _, m := range f.mail.sent() {
		if m.Campaign != nil {
			got[m.Subscriber.ID]++
		}
	}
	for i, id := range ids {
		want := 1
		if i < 10 || committed[id] {
			want = 0
		}
		if got[id] != want {
			t.Errorf("recipient %d (id %d) got %d messages, want %d", i, id, got[id], want)
		}
	}
	if done.Stats.Sent != len(ids) || done.Stats.Remaining != 0 {
		t.Errorf("stats = %+v, want %d sent", done.Stats, len(ids))
	}
}

// TestDeletedListLeavesCampaigns: deleting a list takes it out of the
// campaigns still to send: a draft keeps its other lists and still sends
// to them, a scheduled campaign left with no list goes back to draft
// saying why, and a running campaign whose list goes mid-run finishes
// with the rest instead of pausing on an error.
func TestDeletedListLeavesCampaigns(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	population(t, f, 60)
	ctx := t.Context()
	draft := newCampaign(t, f, "a", "b")
	later := time.Now().Add(time.Hour)
	subj, body, lists := "Later", "<p>Hi</p>", []string{"b"}
	sched, err := f.svc.CreateCampaign(ctx, list.CampaignInput{Subject: &subj, Body: &body, Lists: &lists, SendAt: &later}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CampaignAction(ctx, sched.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteList(ctx, "b", list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if c, err := f.svc.GetCampaign(ctx, draft.ID); err != nil || !slices.Equal(c.Lists, []string{"a"}) || c.Status != list.StatusDraft {
		t.Errorf("draft after the delete = %+v, %v", c, err)
	}
	if c, err := f.svc.GetCampaign(ctx, sched.ID); err != nil || c.Status != list.StatusDraft || !strings.Contains(c.Reason, "deleted") {
		t.Errorf("scheduled campaign after the delete = %s %q, %v; want a draft saying why", c.Status, c.Reason, err)
	}
	f.mail.delay = 20 * time.Millisecond // the last campaign runs long enough to lose a list mid-run
	startRunner(t, f, list.RunnerOptions{Workers: 4, Poll: 10 * time.Millisecond})
	if _, err := f.svc.CampaignAction(ctx, draft.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if c := waitStatus(t, f, draft.ID, list.StatusFinished); c.Stats.Sent != 30 {
		t.Errorf("sent %d, want the 30 on list a", c.Stats.Sent)
	}

	// A list deleted under a running campaign's stream.
	run := newCampaign(t, f, "a", "c")
	if _, err := f.svc.CampaignAction(ctx, run.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	for c, _ := f.svc.GetCampaign(ctx, run.ID); c.Stats.Sent == 0 && c.Status == list.StatusRunning; c, _ = f.svc.GetCampaign(ctx, run.ID) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := f.svc.DeleteList(ctx, "c", list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if c := waitStatus(t, f, run.ID, list.StatusFinished); c.Reason != "" {
		t.Errorf("the running campaign ended with %q", c.Reason)
	}
}

// TestPastSendAtRefused: a send time in the past is refused when saved,
// since Send would then mail everyone at once; one ahead schedules.
func TestPastSendAtRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	population(t, f, 3)
	subj, body, lists := "Hi", "<p>Hi</p>", []string{"a"}
	past := f.svc.Now().Add(-2 * time.Hour)
	_, err := f.svc.CreateCampaign(t.Context(), list.CampaignInput{Subject: &subj, Body: &body, Lists: &lists, SendAt: &past}, list.Origin{})
	if !errors.Is(err, list.ErrInvalid) || !strings.Contains(err.Error(), "in the past") {
		t.Errorf("a past send_at = %v, want refused", err)
	}
	c := newCampaign(t, f, "a")
	if _, err := f.svc.UpdateCampaign(t.Context(), c.ID, list.CampaignInput{SendAt: &past}, list.Origin{}); !errors.Is(err, list.ErrInvalid) {
		t.Errorf("updating to a past send_at = %v, want refused", err)
	}
	ahead := f.svc.Now().Add(time.Hour)
	if _, err := f.svc.UpdateCampaign(t.Context(), c.ID, list.CampaignInput{SendAt: &ahead}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if got, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{User: "ed"}); err != nil || got.Status != list.StatusScheduled {
		t.Errorf("send with send_at ahead = %s, %v; want scheduled", got.Status, err)
	}
	// The audit log says what the button did.
	if es, _, err := f.svc.Audit(t.Context(), 0, 100); err != nil || len(es) == 0 || es[len(es)-1].Action != "campaign.schedule" {
		t.Errorf("audit after scheduling = %+v, %v; want campaign.schedule last", es, err)
	}
}

// TestCampaignPolicyPauseRetries: a relay that refuses most recipients for
// sender policy pauses the campaign; those refused before the pause are
// deferred, not written off, and once the cause is fixed and the campaign
// resumed, everyone gets it once. A recipient refused for policy twice is
// a policy bounce.
func TestCampaignPolicyPauseRetries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	onAny := population(t, f, 100)
	var blocked atomic.Bool
	blocked.Store(true)
	var always string
	for email := range onAny {
		always = email
		break
	}
	f.mail.answer = func(m *list.Message) error {
		if blocked.Load() || m.To == always {
			return &list.DeliveryError{Code: 550, Status: "5.7.1", Text: "blocked for spam", Policy: true}
		}
		return nil
	}
	c := newCampaign(t, f, "a", "b", "c")
	startRunner(t, f, list.RunnerOptions{Workers: 2, Poll: 10 * time.Millisecond, Backoff: []time.Duration{50 * time.Millisecond}})
	if _, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	paused := waitStatus(t, f, c.ID, list.StatusPaused)
	// The pause is stored first; the outcomes of the messages under way
	// follow in their commit group.
	for deadline := time.Now().Add(10 * time.Second); paused.Stats.Deferred == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		paused = waitStatus(t, f, c.ID, list.StatusPaused)
	}
	if paused.Stats.Failed != 0 || paused.Stats.Deferred == 0 || !strings.Contains(paused.Reason, "sender policy") {
		t.Fatalf("paused with stats %+v, reason %q; want the refused deferred, none failed", paused.Stats, paused.Reason)
	}
	blocked.Store(false)
	if _, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionResume, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, f, c.ID, list.StatusFinished)
	if done.Stats.Sent != len(onAny)-1 || done.Stats.Failed != 1 || done.Stats.Deferred != 0 {
		t.Fatalf("stats = %+v, want %d sent and the one refused twice failed", done.Stats, len(onAny)-1)
	}
	got := map[string]int{}
	for _, m := range f.mail.sent() {
		got[m.To]++
	}
	for email := range onAny {
		want := 1
		if email == always {
			want = 0
		}
		if got[email] != want {
			t.Errorf("%s got %d copies, want %d", email, got[email], want)
		}
	}
	bs, err := f.db.Bounces(t.Context(), list.BounceFilter{Campaign: c.ID})
	if err != nil || len(bs) != 1 || bs[0].Kind != list.BouncePolicy || bs[0].Email != always {
		t.Errorf("bounce records = %+v, %v; want one policy record for %s", bs, err, always)
	}
}
