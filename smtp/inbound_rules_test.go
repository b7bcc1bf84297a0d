package smtp_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

// dsn makes a delivery report from testdata/dsn.eml. Unless vars name
// one, each quotes a Message-ID of its own, as reports on different mails
// do: the same Message-ID twice is the same report again, which counts
// once.
func dsn(t *testing.T, rcpt, to string, vars map[string]string) string {
	t.Helper()
	v := map[string]string{"RCPT": rcpt, "TO": to, "MSGID": fmt.Sprintf("m-%d@news.example.org", dsnSeq.Add(1))}
	for k, x := range vars {
		v[k] = x
	}
	return message(t, "dsn.eml", v)
}

// dsnSeq numbers the Message-IDs dsn quotes.
var dsnSeq atomic.Int64

var (
	hardDSN    = map[string]string{"STATUS": "5.1.1", "DIAG": "550 5.1.1 <x>: Recipient address rejected: User unknown in virtual mailbox table"}
	softDSN    = map[string]string{"STATUS": "5.2.2", "DIAG": "552 5.2.2 Mailbox full, quota exceeded"}
	delayedDSN = map[string]string{"ACTION": "delayed", "STATUS": "4.4.1", "DIAG": "Connection timed out"}
	policyDSN  = map[string]string{"STATUS": "5.7.1", "DIAG": "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"}
)

func TestInboundHardBounceBlocklists(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, nil)
	alice := e.subscribe(t, "Alice@example.com", "news")
	c := e.sent(t, alice, "m1@example.org")
	mustDeliver(t, e.addr, e.verp(alice, c), dsn(t, "alice@example.com", e.verp(alice, c), hardDSN))

	if v := e.record(t, alice.ID); !v.Blocklisted {
		t.Errorf("after a hard bounce through the VERP address: not blocklisted")
	}
	evs := e.eventKinds(t, alice.ID)
	if !contains(evs, "bounce/bounce") || !contains(evs, "blocklisted/bounce") {
		t.Errorf("events = %v, want bounce and blocklisted", evs)
	}
	bs := e.bounces(t, "alice@example.com")
	if len(bs) != 1 {
		t.Fatalf("bounce records = %+v, want 1", bs)
	}
	b := bs[0]
	if b.Kind != list.BounceHard || b.Status != "5.1.1" || !b.Counted || b.Subscriber != alice.ID || b.Campaign != c || !strings.Contains(string(b.Raw), "Undelivered Mail") {
		t.Errorf("bounce record = %+v (raw %d bytes), want hard 5.1.1 counted for subscriber %d campaign %d with raw", b, len(b.Raw), alice.ID, c)
	}
	camp, err := e.db.Campaign(t.Context(), c)
	if err != nil || camp.Stats.Bounced != 1 {
		t.Errorf("campaign stats = %+v, %v; want Bounced 1", camp.Stats, err)
	}
	// The suppression entry is there too (the never-mail list).
	sups, _, err := e.db.Suppressions(t.Context(), nil, 10)
	if err != nil || len(sups) != 1 || sups[0].How != list.HowBounce {
		t.Errorf("suppressions = %+v, %v", sups, err)
	}
}

func TestInboundForgedReports(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, nil)
	bob := e.subscribe(t, "bob@example.com", "news")
	e.sent(t, bob, "real@example.org")
	forged := "bounces+" + strings.Repeat("abcd", 10) + "@" + testBounceDomain                     // token-shaped, bad MAC
	other := e.svc.Tokens().Seal(list.Token{Purpose: list.PurposeUnsubscribe, Subscriber: bob.ID}) // valid, wrong purpose
	cases := []struct{ name, to, msg string }{
		{"plain bounces@, unknown Message-ID", "bounces@" + testDomain, dsn(t, "bob@example.com", "bounces@"+testDomain, hardDSN)},
		{"bad token", forged, dsn(t, "bob@example.com", forged, hardDSN)},
		{"token of another purpose", "bounces+" + other + "@" + testBounceDomain, dsn(t, "bob@example.com", "x", hardDSN)},
		{"complaint without proof", "feedback@" + testDomain, message(t, "arf.eml", map[string]string{"RCPT": "bob@example.com", "TO": "feedback@" + testDomain})},
	}
	for _, tc := range cases {
		mustDeliver(t, e.addr, tc.to, tc.msg)
	}
	v := e.record(t, bob.ID)
	if v.Blocklisted || v.Subscriptions[0].State != list.StateConfirmed {
		t.Errorf("forged reports changed state: %+v", v)
	}
	if evs := e.eventKinds(t, bob.ID); contains(evs, "bounce/bounce") || contains(evs, "complaint/complaint") {
		t.Errorf("forged reports wrote events: %v", evs)
	}
	bs := e.bounces(t, "bob@example.com")
	if len(bs) != len(cases) {
		t.Fatalf("%d bounce records, want %d (forged reports are recorded)", len(bs), len(cases))
	}
	for _, b := range bs {
		if b.Counted || b.Subscriber != 0 {
			t.Errorf("forged report recorded as %+v, want Counted false and no subscriber", b)
		}
	}
	// Unknown addresses get records too.
	mustDeliver(t, e.addr, "bounces@"+testDomain, dsn(t, "nobody@example.net", "bounces@"+testDomain, hardDSN))
	if bs := e.bounces(t, "nobody@example.net"); len(bs) != 1 || bs[0].Counted {
		t.Errorf("unknown address: records %+v, want one uncounted", bs)
	}
}

func TestInboundMessageIDProof(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, nil)
	carol := e.subscribe(t, "carol@example.com", "news")
	c := e.sent(t, carol, "m-carol@example.org")
	// The token was lost: the report goes to plain bounces@, quoting the
	// Message-ID Bulletin sent.
	to := "bounces@" + testDomain
	mustDeliver(t, e.addr, to, dsn(t, "carol@example.com", to, map[string]string{"MSGID": "m-carol@example.org", "STATUS": "5.1.1", "DIAG": hardDSN["DIAG"]}))
	if !e.record(t, carol.ID).Blocklisted {
		t.Errorf("hard bounce quoting a sent Message-ID did not blocklist")
	}
	bs := e.bounces(t, "carol@example.com")
	if len(bs) != 1 || !bs[0].Counted || bs[0].Campaign != c {
		t.Errorf("records %+v, want one counted for campaign %d", bs, c)
	}
}

func TestInboundSoftBounces(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, nil)
	dave := e.subscribe(t, "dave@example.com", "news")
	to := e.verp(dave, 0)
	for i := 1; i <= 3; i++ {
		mustDeliver(t, e.addr, to, dsn(t, "dave@example.com", to, softDSN))
		if got, want := e.record(t, dave.ID).Blocklisted, i == 3; got != want {
			t.Errorf("after %d soft bounces blocklisted = %v, want %v", i, got, want)
		}
		e.advance(24 * time.Hour)
	}
	// Outside the window they do not add up.
	erin := e.subscribe(t, "erin@example.com", "news")
	to = e.verp(erin, 0)
	for i := 1; i <= 4; i++ {
		mustDeliver(t, e.addr, to, dsn(t, "erin@example.com", to, softDSN))
		e.advance(16 * 24 * time.Hour)
	}
	if e.record(t, erin.ID).Blocklisted {
		t.Errorf("4 soft bounces 16 days apart blocklisted (window 30 days)")
	}
}

func TestInboundDelayedAndPolicy(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, nil)
	frank := e.subscribe(t, "frank@example.com", "news")
	to := e.verp(frank, 0)
	for range 5 {
		mustDeliver(t, e.addr, to, dsn(t, "frank@example.com", to, delayedDSN))
		mustDeliver(t, e.addr, to, dsn(t, "frank@example.com", to, policyDSN))
	}
	if e.record(t, frank.ID).Blocklisted {
		t.Errorf("delayed and policy bounces blocklisted")
	}
	counts := map[string]int{}
	for _, b := range e.bounces(t, "frank@example.com") {
		counts[fmt.Sprintf("%s counted=%v", b.Kind, b.Counted)]++
	}
	want := map[string]int{"soft counted=false": 5, "policy counted=false": 5}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("records %v, want %v", counts, want)
	}
	// Delays count toward nothing: two real soft bounces do not blocklist.
	for range 2 {
		mustDeliver(t, e.addr, to, dsn(t, "frank@example.com", to, softDSN))
	}
	if e.record(t, frank.ID).Blocklisted {
		t.Errorf("2 soft bounces after 5 delays blocklisted")
	}
}

func TestInboundComplaint(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, nil)
	gina := e.subscribe(t, "gina@example.com", "news", "offers")
	c := e.sent(t, gina, "m-gina@example.org")
	// The FBL sends to feedback@; the quoted original's List-Unsubscribe
	// carries the unsubscribe token.
	tok := e.unsubToken(gina, e.lists[0].ID, c)
	lu := "<https://news.example.org/unsubscribe/" + tok + ">, <mailto:unsubscribe+" + tok + "@example.org>"
	to := "feedback@" + testDomain
	mustDeliver(t, e.addr, to, message(t, "arf.eml", map[string]string{"RCPT": "gina@example.com", "TO": to, "LIST_UNSUB": lu}))
	v := e.record(t, gina.ID)
	if !v.Blocklisted {
		t.Errorf("complaint did not blocklist")
	}
	for _, s := range v.Subscriptions {
		if s.State != list.StateUnsubscribed {
			t.Errorf("after a complaint list %d is %s, want unsubscribed from all", s.List, s.State)
		}
	}
	if evs := e.eventKinds(t, gina.ID); !contains(evs, "complaint/complaint") || !contains(evs, "unsubscribed/complaint") {
		t.Errorf("events %v", evs)
	}
	camp, _ := e.db.Campaign(t.Context(), c)
	if camp.Stats.Complained != 1 {
		t.Errorf("campaign Complained = %d, want 1", camp.Stats.Complained)
	}
	bs := e.bounces(t, "gina@example.com")
	if len(bs) != 1 || bs[0].Kind != list.BounceComplaint || !bs[0].Counted {
		t.Errorf("records %+v", bs)
	}

	// Found through the quoted Return-Path (VERP), or the Message-ID alone.
	hal := e.subscribe(t, "hal@example.com", "news")
	mustDeliver(t, e.addr, to, message(t, "arf.eml", map[string]string{"RCPT": "hal@example.com", "TO": to, "RETURN_PATH": e.verp(hal, 0)}))
	ida := e.subscribe(t, "ida@example.com", "news")
	e.sent(t, ida, "m-ida@example.org")
	mustDeliver(t, e.addr, to, message(t, "arf.eml", map[string]string{"RCPT": "ida@example.com", "TO": to, "MSGID": "m-ida@example.org"}))
	for _, sb := range []list.Subscriber{hal, ida} {
		if v := e.record(t, sb.ID); !v.Blocklisted || v.Subscriptions[0].State != list.StateUnsubscribed {
			t.Errorf("complaint about %s: %+v, want unsubscribed and blocklisted", sb.Email, v)
		}
	}
}

func TestInboundMailtoUnsubscribe(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, nil)
	jo := e.subscribe(t, "jo@example.com", "news", "offers")
	to := "unsubscribe+" + e.unsubToken(jo, e.lists[1].ID, 0) + "@" + testDomain
	mustDeliver(t, e.addr, to, "Subject: please keep me subscribed\r\n\r\nignore me\r\n")
	v := e.record(t, jo.ID)
	states := map[list.ListID]list.State{}
	for _, s := range v.Subscriptions {
		states[s.List] = s.State
	}
	if states[e.lists[0].ID] != list.StateConfirmed || states[e.lists[1].ID] != list.StateUnsubscribed || v.Blocklisted {
		t.Errorf("after mailto unsubscribe from offers: %v blocklisted=%v", states, v.Blocklisted)
	}
	if evs := e.eventKinds(t, jo.ID); !contains(evs, "unsubscribed/mailto") {
		t.Errorf("events %v, want unsubscribed/mailto", evs)
	}
	// A well-formed token whose MAC does not check is refused at RCPT
	// (deliverability.md), so that its sender learns it did nothing, and
	// changes nothing.
	if err := deliver(t, e.addr, "unsubscribe+"+strings.Repeat("a", 40)+"@"+testDomain, "Subject: x\r\n\r\ny\r\n"); smtpCode(err) != 550 {
		t.Errorf("bad mailto token: %v, want 550", err)
	}
	if v := e.record(t, jo.ID); v.Subscriptions[0].State != list.StateConfirmed {
		t.Errorf("bad mailto token unsubscribed")
	}
}

func TestInboundAutoReplyAndGarbage(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, nil)
	kim := e.subscribe(t, "kim@example.com", "news")
	to := e.verp(kim, 0)
	mustDeliver(t, e.addr, to, message(t, "autoreply.eml", map[string]string{"RCPT": "kim@example.com", "TO": to}))
	if bs, _ := e.db.Bounces(t.Context(), list.BounceFilter{}); len(bs) != 0 {
		t.Errorf("auto-reply recorded: %+v", bs)
	}
	mustDeliver(t, e.addr, to, message(t, "garbage.eml", map[string]string{"TO": to}))
	bs, _ := e.db.Bounces(t.Context(), list.BounceFilter{})
	if len(bs) != 1 || bs[0].Kind != list.BounceUnknown || bs[0].Counted || len(bs[0].Raw) == 0 {
		t.Errorf("garbage recorded as %+v, want one unknown uncounted record with raw", bs)
	}
	if e.record(t, kim.ID).Blocklisted {
		t.Errorf("garbage blocklisted")
	}
}
