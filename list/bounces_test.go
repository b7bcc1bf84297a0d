package list_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// nopMailer accepts every message.
type nopMailer struct{}

func (nopMailer) Send(context.Context, *list.Message) (string, error)    { return "x@example.org", nil }
func (nopMailer) Preview(context.Context, *list.Message) ([]byte, error) { return nil, nil }
func (nopMailer) Lint(context.Context, *list.Message) []list.Finding     { return nil }

type bounceFixture struct {
	svc   *list.Service
	db    *store.DB
	clock atomic.Int64
}

func (f *bounceFixture) now() time.Time { return time.Unix(f.clock.Load(), 0).UTC() }

func newBounceFixture(t *testing.T) *bounceFixture {
	return newBounceFixtureOn(t, func(db *store.DB) list.Store { return db })
}

// newBounceFixtureOn is newBounceFixture with the service's store made by
// wrap around the real one.
func newBounceFixtureOn(t *testing.T, wrap func(*store.DB) list.Store) *bounceFixture {
	t.Helper()
	f := &bounceFixture{}
	f.clock.Store(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC).Unix())
	db, err := store.Open(filepath.Join(t.TempDir(), "b.db"), store.Options{Now: f.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.db = db
	f.svc, err = list.New(list.Options{Store: wrap(db), Mailer: nopMailer{}, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Now: f.now, Config: list.Config{Domain: "example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateList(t.Context(), list.List{Slug: "news", Name: "News", OptIn: list.OptInDouble}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *bounceFixture) add(t *testing.T, email string) list.Subscriber {
	t.Helper()
	v, err := f.svc.AddSubscriber(t.Context(), list.NewSubscriber{Email: email, Lists: []string{"news"}, State: list.StateConfirmed, Reason: "test"}, list.HowAdmin, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	return v.Subscriber
}

func (f *bounceFixture) blocklisted(t *testing.T, id list.SubscriberID) bool {
	t.Helper()
	v, err := f.svc.Subscriber(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return v.Blocklisted
}

func (f *bounceFixture) report(sb list.Subscriber, kind list.BounceKind, status string) list.InboundReport {
	tok := f.svc.Tokens().Seal(list.Token{Purpose: list.PurposeBounce, Subscriber: sb.ID})
	return list.InboundReport{Rcpt: list.RcptBounceToken, Token: tok, Raw: []byte("raw report"),
		Bounces: []list.Bounce{{Email: sb.Email, Kind: kind, Action: "failed", Status: status}}}
}

func TestBounceRulesSetting(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	if r, err := f.svc.BounceRules(ctx); err != nil || r != list.DefaultBounceRules() {
		t.Fatalf("BounceRules() = %+v, %v; want the defaults", r, err)
	}
	if err := f.svc.SetBounceRules(ctx, list.BounceRules{HardLimit: -1}); err == nil {
		t.Errorf("SetBounceRules(HardLimit -1) = nil error")
	}
	if err := f.svc.SetBounceRules(ctx, list.BounceRules{HardLimit: 2, SoftLimit: 5}); err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.BounceRules(ctx)
	want := list.DefaultBounceRules()
	want.HardLimit, want.SoftLimit = 2, 5
	if err != nil || r != want {
		t.Errorf("BounceRules() = %+v, %v; want %+v", r, err, want)
	}
	// Two hard bounces are needed now.
	sb := f.add(t, "a@example.com")
	for i := 1; i <= 2; i++ {
		if err := f.svc.HandleInbound(ctx, f.report(sb, list.BounceHard, "5.1.1")); err != nil {
			t.Fatal(err)
		}
		if got := f.blocklisted(t, sb.ID); got != (i == 2) {
			t.Errorf("after %d hard bounces with limit 2 blocklisted = %v", i, got)
		}
	}
}

func TestRecordDeliveryFailure(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	sb := f.add(t, "b@example.com")
	c := list.Campaign{Name: "c", Lists: []list.ListID{1}, Status: list.StatusRunning}
	if err := f.db.CreateCampaign(ctx, &c); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RecordDeliveryFailure(ctx, sb.ID, c.ID, "", list.Bounce{Status: "5.1.1"}); err == nil {
		t.Errorf("RecordDeliveryFailure without a kind = nil error")
	}
	err := f.svc.RecordDeliveryFailure(ctx, sb.ID, c.ID, "", list.Bounce{Kind: list.BouncePolicy, Status: "5.7.1", Diagnostic: "550 5.7.1 blocked"})
	if err != nil || f.blocklisted(t, sb.ID) {
		t.Fatalf("policy failure: err %v, blocklisted %v; want neither", err, f.blocklisted(t, sb.ID))
	}
	if err := f.svc.RecordDeliveryFailure(ctx, sb.ID, c.ID, "", list.Bounce{Kind: list.BounceHard, Status: "5.1.1"}); err != nil {
		t.Fatal(err)
	}
	if !f.blocklisted(t, sb.ID) {
		t.Errorf("hard failure did not blocklist")
	}
	bs, err := f.db.Bounces(ctx, list.BounceFilter{Campaign: c.ID})
	if err != nil || len(bs) != 2 || bs[1].Email != "b@example.com" || !bs[1].Counted || bs[1].Subscriber != sb.ID {
		t.Errorf("records = %+v, %v", bs, err)
	}
	if len(bs) == 2 && (bs[0].Kind != list.BouncePolicy || bs[0].Counted) {
		t.Errorf("policy record = %+v, want recorded, not counted", bs[0])
	}
	// A policy refusal is the sender's problem: not the campaign's bounce.
	got, _ := f.db.Campaign(ctx, c.ID)
	if got.Stats.Bounced != 1 {
		t.Errorf("campaign Bounced = %d, want 1 (the hard bounce)", got.Stats.Bounced)
	}
}

// TestRepeatedReportCountsOnce: the same DSN for a campaign message,
// delivered three times, is recorded three times but counts once: it
// neither reaches the soft-bounce limit of 3 nor counts three bounces for
// the campaign. Another recipient's bounce still counts.
func TestRepeatedReportCountsOnce(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	sb, other := f.add(t, "ivy@example.com"), f.add(t, "jo@example.com")
	c := list.Campaign{Name: "c", Lists: []list.ListID{1}, Status: list.StatusRunning}
	if err := f.db.CreateCampaign(ctx, &c); err != nil {
		t.Fatal(err)
	}
	report := func(s list.Subscriber) list.InboundReport {
		r := f.report(s, list.BounceSoft, "5.2.2")
		r.Token = f.svc.Tokens().Seal(list.Token{Purpose: list.PurposeBounce, Subscriber: s.ID, Campaign: c.ID})
		return r
	}
	for range 3 {
		if err := f.svc.HandleInbound(ctx, report(sb)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.HandleInbound(ctx, report(other)); err != nil {
		t.Fatal(err)
	}
	if f.blocklisted(t, sb.ID) {
		t.Error("one soft bounce delivered three times reached the soft-bounce limit")
	}
	bs, err := f.db.Bounces(ctx, list.BounceFilter{Campaign: c.ID})
	counted := 0
	for _, b := range bs {
		if b.Counted {
			counted++
		}
	}
	if err != nil || len(bs) != 4 || counted != 2 {
		t.Errorf("records = %d (%d counted), %v; want 4, 2 counted", len(bs), counted, err)
	}
	if got, _ := f.db.Campaign(ctx, c.ID); got.Stats.Bounced != 2 {
		t.Errorf("campaign Bounced = %d, want 2", got.Stats.Bounced)
	}
}

// TestOneReportCountsOnce: a report listing several failed recipients
// (the address and aliases it was forwarded to) for one subscriber's
// message counts once toward the soft-bounce limit, not once a line.
func TestOneReportCountsOnce(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	sb := f.add(t, "ned@example.com")
	r := f.report(sb, list.BounceSoft, "4.2.2")
	for _, alias := range []string{"ned+a@example.com", "ned+b@example.com"} {
		r.Bounces = append(r.Bounces, list.Bounce{Email: alias, Kind: list.BounceSoft, Action: "failed", Status: "4.2.2"})
	}
	if err := f.svc.HandleInbound(ctx, r); err != nil {
		t.Fatal(err)
	}
	if f.blocklisted(t, sb.ID) {
		t.Error("one report with three soft failures reached the soft-bounce limit of 3")
	}
	n := 0
	for _, email := range []string{"ned@example.com", "ned+a@example.com", "ned+b@example.com"} {
		bs, err := f.db.Bounces(ctx, list.BounceFilter{Email: email})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.Counted {
				n++
			}
		}
	}
	if n != 1 {
		t.Errorf("%d records counted, want 1", n)
	}
}

// TestReportAfterErasure: a report arriving after the person was erased
// is recorded without their address or the raw report naming it.
func TestReportAfterErasure(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	sb := f.add(t, "Oda@Example.com")
	r := f.report(sb, list.BounceHard, "5.1.1")
	r.Bounces[0].Email = "oda@example.com"
	if err := f.svc.EraseSubscriber(ctx, sb.ID, list.Origin{User: "admin"}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.HandleInbound(ctx, r); err != nil {
		t.Fatal(err)
	}
	bs, err := f.db.Bounces(ctx, list.BounceFilter{})
	if err != nil || len(bs) != 1 {
		t.Fatalf("records = %+v, %v; want 1", bs, err)
	}
	if bs[0].Email != "" || len(bs[0].Raw) != 0 || bs[0].Counted {
		t.Errorf("record after erasure = %+v (raw %q), want no address, no raw, not counted", bs[0], bs[0].Raw)
	}
}

// failingPrune is a store whose raw-message prune fails, as when its
// time runs out under load.
type failingPrune struct{ *store.DB }

func (failingPrune) PruneBounceRaw(context.Context, int64) (int, error) {
	return 0, context.DeadlineExceeded
}

// TestPruneFailureKeepsReport: a report stored and acted on is answered as
// handled even if the housekeeping after it fails, or the sender would be
// told to send it again.
func TestPruneFailureKeepsReport(t *testing.T) {
	t.Parallel()
	f := newBounceFixtureOn(t, func(db *store.DB) list.Store { return failingPrune{db} })
	sb := f.add(t, "pat@example.com")
	if err := f.svc.HandleInbound(t.Context(), f.report(sb, list.BounceHard, "5.1.1")); err != nil {
		t.Errorf("HandleInbound = %v, want nil: the report is stored", err)
	}
	if !f.blocklisted(t, sb.ID) {
		t.Error("the hard bounce was not acted on")
	}
}

// TestRepeatedComplaintCountsOnce: a feedback loop's complaint delivered
// twice, and a second complaint about the same message, count once for the
// campaign's complaint rate; each is recorded.
func TestRepeatedComplaintCountsOnce(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	sb := f.add(t, "max@example.com")
	c := list.Campaign{Name: "c", Lists: []list.ListID{1}, Status: list.StatusRunning}
	if err := f.db.CreateCampaign(ctx, &c); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r := f.report(sb, list.BounceComplaint, "")
		r.Token = f.svc.Tokens().Seal(list.Token{Purpose: list.PurposeBounce, Subscriber: sb.ID, Campaign: c.ID})
		r.FeedbackType = "abuse"
		if err := f.svc.HandleInbound(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if !f.blocklisted(t, sb.ID) {
		t.Error("the complaint did not blocklist")
	}
	if got, _ := f.db.Campaign(ctx, c.ID); got.Stats.Complained != 1 {
		t.Errorf("campaign Complained = %d, want 1", got.Stats.Complained)
	}
	bs, err := f.db.Bounces(ctx, list.BounceFilter{Campaign: c.ID})
	counted := 0
	for _, b := range bs {
		if b.Counted {
			counted++
		}
	}
	if err != nil || len(bs) != 3 || counted != 1 {
		t.Errorf("records = %d (%d counted), %v; want 3, 1 counted", len(bs), counted, err)
	}
}

// TestRepeatedSystemMailReportCountsOnce: reports on a system mail (a
// confirmation, say) are told apart by the Message-ID they quote: the same
// report three times counts once, three reports on three mails count
// three times and reach the soft-bounce limit.
func TestRepeatedSystemMailReportCountsOnce(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	same, three := f.add(t, "kim@example.com"), f.add(t, "lee@example.com")
	for i := range 3 {
		r := f.report(same, list.BounceSoft, "4.2.2")
		r.MessageIDs = []string{"confirm-1@news.example.com"}
		if err := f.svc.HandleInbound(ctx, r); err != nil {
			t.Fatal(err)
		}
		r = f.report(three, list.BounceSoft, "4.2.2")
		r.MessageIDs = []string{fmt.Sprintf("confirm-%d@news.example.com", i)}
		if err := f.svc.HandleInbound(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if f.blocklisted(t, same.ID) {
		t.Error("one system mail's soft bounce delivered three times reached the soft-bounce limit")
	}
	if !f.blocklisted(t, three.ID) {
		t.Error("soft bounces of three system mails did not reach the soft-bounce limit of 3")
	}
	bs, err := f.db.Bounces(ctx, list.BounceFilter{Email: same.Email})
	if err != nil || len(bs) != 3 || bs[0].MessageID != "confirm-1@news.example.com" {
		t.Errorf("records = %+v, %v; want 3 with the quoted Message-ID", bs, err)
	}
}

func TestSoftBounceCountRestartsAfterUnblocklist(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	sb := f.add(t, "c@example.com")
	for range 3 {
		if err := f.svc.HandleInbound(ctx, f.report(sb, list.BounceSoft, "4.2.2")); err != nil {
			t.Fatal(err)
		}
	}
	if !f.blocklisted(t, sb.ID) {
		t.Fatal("3 soft bounces did not blocklist")
	}
	off := false
	if _, err := f.svc.PatchSubscriber(ctx, sb.ID, list.SubscriberPatch{Blocklisted: &off}, list.Origin{User: "admin"}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.HandleInbound(ctx, f.report(sb, list.BounceSoft, "4.2.2")); err != nil {
		t.Fatal(err)
	}
	if f.blocklisted(t, sb.ID) {
		t.Errorf("one soft bounce after an editor lifted the block blocklisted again")
	}
	evs, _ := f.svc.SubscriberEvents(ctx, sb.ID)
	var details []string
	for _, e := range evs {
		if e.Kind == list.EventBounce {
			details = append(details, e.Detail)
		}
	}
	if len(details) != 4 || details[0] != "soft 4.2.2" {
		t.Errorf("bounce event details = %q", details)
	}
}

func TestRawBouncesPruned(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	if err := f.svc.SetBounceRules(ctx, list.BounceRules{RawCap: 8 << 10}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		r := list.InboundReport{Rcpt: list.RcptBounce, Raw: []byte(strings.Repeat("x", 2000) + string(rune('a'+i))),
			Bounces: []list.Bounce{{Email: "d@example.com", Kind: list.BounceHard, Action: "failed"}}}
		if err := f.svc.HandleInbound(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	bs, err := f.db.Bounces(ctx, list.BounceFilter{Email: "d@example.com"})
	if err != nil || len(bs) != 10 {
		t.Fatalf("records %d, %v", len(bs), err)
	}
	kept := 0
	for i, b := range bs {
		if len(b.Raw) > 0 {
			kept++
			if i < 6 {
				t.Errorf("record %d of 10 kept its raw message, want only the newest", i+1)
			}
		}
	}
	if kept == 0 || kept > 3 {
		t.Errorf("%d raw messages kept under an 8 KiB cap of ~2.7 KiB records, want 1-3", kept)
	}
	if !strings.HasSuffix(string(bs[9].Raw), "j") {
		t.Errorf("newest raw message lost")
	}
}

// A quoted Message-ID proves only a failure of the address it was sent to:
// a report naming no recipient, or another one, acts on no one.
func TestQuotedMessageIDNeedsItsRecipient(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	sb := f.add(t, "ann@example.com")
	c := list.Campaign{Name: "c", Lists: []list.ListID{1}, Status: list.StatusRunning}
	if err := f.db.CreateCampaign(ctx, &c); err != nil {
		t.Fatal(err)
	}
	sr := list.SendRecord{Campaign: c.ID, Subscriber: sb.ID, Outcome: list.OutcomeSent, MessageID: "m1@example.org", Attempts: 1, At: f.now()}
	if _, err := f.db.CommitSends(ctx, c.ID, list.SendBatch{Records: []list.SendRecord{sr}, Delta: list.Stats{Sent: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"", "not an address", "user5@example.net", "ann@example.com.evil.example"} {
		r := list.InboundReport{Rcpt: list.RcptBounce, MessageIDs: []string{"m1@example.org"},
			Bounces: []list.Bounce{{Email: email, Kind: list.BounceHard, Action: "failed", Status: "5.1.1"}}}
		if err := f.svc.HandleInbound(ctx, r); err != nil {
			t.Fatalf("HandleInbound(%q): %v", email, err)
		}
		if f.blocklisted(t, sb.ID) {
			t.Fatalf("HandleInbound(%q) blocklisted the subscriber the Message-ID was sent to", email)
		}
	}
	bs, err := f.db.Bounces(ctx, list.BounceFilter{})
	if err != nil || len(bs) != 4 {
		t.Fatalf("records = %+v, %v; want 4", bs, err)
	}
	for _, b := range bs {
		if b.Counted || b.Subscriber != 0 || b.Campaign != 0 {
			t.Errorf("record %+v, want uncounted and tied to no one", b)
		}
	}
	r := list.InboundReport{Rcpt: list.RcptBounce, MessageIDs: []string{"<m1@example.org>"},
		Bounces: []list.Bounce{{Email: "Ann@EXAMPLE.com", Kind: list.BounceHard, Action: "failed", Status: "5.1.1"}}}
	if err := f.svc.HandleInbound(ctx, r); err != nil || !f.blocklisted(t, sb.ID) {
		t.Errorf("report naming the address the Message-ID was sent to: err %v, blocklisted %v; want blocklisted", err, f.blocklisted(t, sb.ID))
	}
}

// TestProvenReportRecordsSubscriberAddress: a proven report that names
// another address (a forwarding one, a complainant's at a feedback loop) is
// recorded under the address of the subscriber it acts on, where an editor
// looks for it, with the address it named in its diagnostic.
func TestProvenReportRecordsSubscriberAddress(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	sb := f.add(t, "ann@example.com")
	other := f.add(t, "bob@example.com")

	r := f.report(sb, list.BounceComplaint, "")
	r.FeedbackType = "abuse"
	r.Bounces[0].Email = other.Email
	if err := f.svc.HandleInbound(ctx, r); err != nil {
		t.Fatal(err)
	}
	r = f.report(sb, list.BounceHard, "5.1.1")
	r.Bounces[0].Email, r.Bounces[0].Diagnostic = "ANN@Example.com", "550 5.1.1 unknown user"
	if err := f.svc.HandleInbound(ctx, r); err != nil {
		t.Fatal(err)
	}

	bs, err := f.db.Bounces(ctx, list.BounceFilter{Email: sb.Email})
	if err != nil || len(bs) != 2 {
		t.Fatalf("records under %s = %+v, %v; want both", sb.Email, bs, err)
	}
	if b := bs[0]; b.Email != sb.Email || b.Subscriber != sb.ID || b.Diagnostic != "reported for bob@example.com" {
		t.Errorf("complaint record = %+v; want %s's, naming bob in its diagnostic", b, sb.Email)
	}
	if b := bs[1]; b.Email != sb.Email || b.Diagnostic != "550 5.1.1 unknown user" {
		t.Errorf("bounce record = %+v; want the subscriber's address and the diagnostic as reported", b)
	}
	if bs, err := f.db.Bounces(ctx, list.BounceFilter{Email: other.Email}); err != nil || len(bs) != 0 {
		t.Errorf("records under %s = %+v, %v; want none: the complaint was about ann's mail", other.Email, bs, err)
	}
	if f.blocklisted(t, other.ID) || !f.blocklisted(t, sb.ID) {
		t.Error("the complaint acted on the named address instead of the proven subscriber")
	}
}

// TestCampaignUnsubscribeCountsPeople: a campaign counts each person who
// left through its link once, even when they join again and follow the
// same link again, so that its unsubscribed count never exceeds its
// recipients.
func TestCampaignUnsubscribeCountsPeople(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	ann, bob := f.add(t, "ann@example.com"), f.add(t, "bob@example.com")
	c := list.Campaign{Name: "c", Lists: []list.ListID{1}, Status: list.StatusFinished}
	if err := f.db.CreateCampaign(ctx, &c); err != nil {
		t.Fatal(err)
	}
	link := func(sb list.Subscriber) string {
		return f.svc.Tokens().Seal(list.Token{Purpose: list.PurposeUnsubscribe, Subscriber: sb.ID, Campaign: c.ID})
	}
	for range 2 {
		if err := f.svc.Unsubscribe(ctx, link(ann), false, list.HowOneClick, list.Origin{}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SubscribeToLists(ctx, ann.ID, list.ListAddition{Lists: []string{"news"}, State: list.StateConfirmed, Reason: "asked again"}, list.HowAdmin, list.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.Unsubscribe(ctx, link(bob), false, list.HowOneClick, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if got, err := f.db.Campaign(ctx, c.ID); err != nil || got.Stats.Unsubscribed != 2 {
		t.Errorf("campaign unsubscribed = %d, %v; want 2 (ann twice counts once, bob once)", got.Stats.Unsubscribed, err)
	}
	evs, err := f.db.Events(ctx, ann.ID, 0, 100)
	left := 0
	for _, e := range evs {
		if e.Kind == list.EventUnsubscribed && e.Campaign == c.ID {
			left++
		}
	}
	if err != nil || left != 2 {
		t.Errorf("ann's unsubscribe events naming the campaign = %d, %v; want 2", left, err)
	}
}

// TestBounceWithoutRecipientIsUnknown: a report to plain bounces@ whose
// recipient block names nobody is recorded as unknown, not by the status it
// carries; with a VERP token the token names the person, and the kind stands.
func TestBounceWithoutRecipientIsUnknown(t *testing.T) {
	t.Parallel()
	f := newBounceFixture(t)
	ctx := t.Context()
	sb := f.add(t, "ann@example.com")
	if err := f.svc.HandleInbound(ctx, list.InboundReport{Rcpt: list.RcptBounce, Raw: []byte("broken"),
		Bounces: []list.Bounce{{Kind: list.BounceSoft, Action: "failed", Status: "4.9.9"}}}); err != nil {
		t.Fatal(err)
	}
	r := f.report(sb, list.BounceHard, "5.1.1")
	r.Bounces[0].Email = ""
	if err := f.svc.HandleInbound(ctx, r); err != nil {
		t.Fatal(err)
	}
	bs, err := f.db.Bounces(ctx, list.BounceFilter{})
	if err != nil || len(bs) != 2 {
		t.Fatalf("records = %+v, %v", bs, err)
	}
	if bs[0].Kind != list.BounceUnknown || bs[0].Counted {
		t.Errorf("report naming nobody = %s (counted %v), want unknown, not counted", bs[0].Kind, bs[0].Counted)
	}
	if bs[1].Kind != list.BounceHard || !bs[1].Counted || bs[1].Email != sb.Email {
		t.Errorf("VERP report without a recipient = %+v, want ann's counted hard bounce", bs[1])
	}
}
