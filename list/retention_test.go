package list_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

func TestTruncateIP(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"203.0.113.77":        "203.0.113.0",
		"203.0.113.0":         "203.0.113.0",
		"2001:db8:1:2::5":     "2001:db8:1::",
		"::ffff:198.51.100.9": "198.51.100.0",
		"fe80::1%eth0":        "fe80::",
		"not an ip":           "",
		"":                    "",
	}
	for in, want := range cases {
		if got := list.TruncateIP(in); got != want {
			t.Errorf("TruncateIP(%q) = %q, want %q", in, got, want)
		}
	}
}

func (f *privFixture) record(t *testing.T, email string) (list.Record, bool) {
	t.Helper()
	a := mustAddr(t, email)
	r, err := f.db.Record(t.Context(), list.Key{Identity: a.Identity})
	if errors.Is(err, list.ErrNotFound) {
		return list.Record{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

// TestRetention runs the jobs on a fake clock: one reminder after three
// days (not on a list that turned reminders off), purge after thirty days
// of exactly the subscriptions due, IP truncation after ninety days with
// consent records untouched.
func TestRetention(t *testing.T) {
	t.Parallel()
	f := newPrivFixture(t, nil)
	ctx := t.Context()
	if _, err := f.svc.CreateList(ctx, list.List{Slug: "quiet", Name: "Quiet", Public: true, Reminder: false}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	sub := func(email, slug, ip string) {
		t.Helper()
		err := f.svc.Subscribe(ctx, list.SubscribeRequest{List: slug, Email: email, How: list.HowForm,
			Origin: list.Origin{IP: ip, UserAgent: "test"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	sub("ann@example.com", "newsletter", "203.0.113.77")
	sub("bob@example.com", "newsletter", "2001:db8:1:2::5")
	sub("cid@example.com", "quiet", "198.51.100.9")
	sub("dee@example.com", "newsletter", "198.51.100.10")
	sub("dee@example.com", "quiet", "198.51.100.10")
	for _, m := range f.drain(t) {
		if m.To == "bob@example.com" {
			if _, err := f.svc.Confirm(ctx, tokenOf(t, m.ConfirmURL, "/confirm/"), list.Origin{IP: "2001:db8:9::1"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.drain(t)

	run := func() list.RetentionReport {
		t.Helper()
		rep, err := f.svc.Retention(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	f.add(3*24*time.Hour - time.Minute)
	if rep := run(); rep.Reminded != 0 || rep.Purged != 0 {
		t.Fatalf("before 3 days: %+v", rep)
	}
	f.add(time.Minute)
	if rep := run(); rep.Reminded != 2 {
		t.Fatalf("at 3 days: %+v, want 2 reminders (ann, dee on newsletter)", rep)
	}
	ms := f.drain(t)
	if len(ms) != 2 || ms[0].Kind != list.MailReminder || ms[0].ConfirmURL == "" {
		t.Fatalf("reminders sent: %d", len(ms))
	}
	for _, m := range ms {
		if m.To != "ann@example.com" && m.To != "dee@example.com" || m.List.Slug != "newsletter" {
			t.Errorf("reminder to %s on %s", m.To, m.List.Slug)
		}
	}
	f.add(24 * time.Hour)
	if rep := run(); rep.Reminded != 0 {
		t.Fatalf("second run: %+v, want no second reminder", rep)
	}
	// Dee signs up again to the newsletter: the new sign-up restarts its count.
	f.add(10 * 24 * time.Hour)
	sub("dee@example.com", "newsletter", "198.51.100.10")
	f.drain(t)

	f.add(30*24*time.Hour - 14*24*time.Hour)
	rep := run()
	if rep.Purged != 3 || rep.SubscribersDeleted != 2 {
		t.Fatalf("at 30 days: %+v, want 3 purged (ann, cid, dee on quiet), 2 subscribers deleted", rep)
	}
	if _, ok := f.record(t, "ann@example.com"); ok {
		t.Error("ann, never confirmed, is still stored")
	}
	if _, ok := f.record(t, "cid@example.com"); ok {
		t.Error("cid, never confirmed, is still stored")
	}
	dee, ok := f.record(t, "dee@example.com")
	if !ok || len(dee.Subscriptions) != 1 || dee.Subscriptions[0].State != list.StateUnconfirmed {
		t.Fatalf("dee after purge: %+v", dee.Subscriptions)
	}
	bob, ok := f.record(t, "bob@example.com")
	if !ok || bob.Subscriptions[0].State != list.StateConfirmed {
		t.Fatal("bob, confirmed, was touched")
	}

	// IPs: events older than 90 days are cut; the consent record keeps its own.
	f.add(91*24*time.Hour - 30*24*time.Hour)
	rep = run()
	if rep.IPsTruncated == 0 {
		t.Fatalf("at 91 days: %+v, want IPs truncated", rep)
	}
	evs, err := f.svc.SubscriberEvents(ctx, bob.Subscriber.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.IP != "" && e.IP != "2001:db8:1::" && e.IP != "2001:db8:9::" {
			t.Errorf("event %s keeps IP %q", e.Kind, e.IP)
		}
	}
	bob, _ = f.record(t, "bob@example.com")
	if c := bob.Subscriptions[0].Consent; c == nil || c.IP != "2001:db8:1:2::5" || c.ConfirmIP != "2001:db8:9::1" {
		t.Errorf("consent record lost its IPs: %+v", c)
	}
	if rep := run(); rep.IPsTruncated != 0 {
		t.Errorf("a second run truncated again: %+v", rep)
	}
}

// TestRenewalOfALeftSubscription: someone types the address of a person
// who left a list into its form. Until the person confirms, the consent
// the mail already sent rests on stays whole, an import does not
// subscribe them again, and the retention job puts the subscription back
// to unsubscribed instead of deleting the person with their history.
func TestRenewalOfALeftSubscription(t *testing.T) {
	t.Parallel()
	f := newPrivFixture(t, nil)
	ctx := t.Context()
	signUp := func(ip string) {
		t.Helper()
		err := f.svc.Subscribe(ctx, list.SubscribeRequest{List: "newsletter", Email: "bob@example.com", How: list.HowForm,
			Origin: list.Origin{IP: ip, UserAgent: "test"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	signUp("192.0.2.1")
	var confirmURL string
	for _, m := range f.drain(t) {
		confirmURL = m.ConfirmURL
	}
	if _, err := f.svc.Confirm(ctx, tokenOf(t, confirmURL, "/confirm/"), list.Origin{IP: "192.0.2.2"}); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	bob, _ := f.record(t, "bob@example.com")
	first := *bob.Subscriptions[0].Consent
	tok := f.svc.Tokens().Seal(list.Token{Purpose: list.PurposeUnsubscribe, Subscriber: bob.Subscriber.ID, List: bob.Subscriptions[0].List})
	if err := f.svc.Unsubscribe(ctx, tok, false, list.HowOneClick, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	f.add(time.Hour)
	signUp("198.51.100.66") // not Bob
	renewal := f.drain(t)
	bob, _ = f.record(t, "bob@example.com")
	sub := bob.Subscriptions[0]
	if sub.State != list.StateUnconfirmed || sub.UnsubscribedAt == nil || sub.Consent == nil || sub.Consent.IP != first.IP ||
		sub.Consent.ConfirmedAt == nil || sub.PendingConsent == nil || sub.PendingConsent.IP != "198.51.100.66" {
		t.Fatalf("after a renewal: %+v, consent %+v; want the first consent kept and the request pending", sub, sub.Consent)
	}
	res, err := f.svc.Import(ctx, strings.NewReader("email\nbob@example.com\n"), list.ImportOptions{List: "newsletter", Mode: list.ImportConfirmed, Reason: "old crm"})
	if err != nil || res.Imported != 0 || len(res.Errors) != 1 {
		t.Fatalf("import of a left, renewed address = %+v, %v; want it refused", res, err)
	}
	f.add(31 * 24 * time.Hour)
	if _, err := f.svc.Retention(ctx); err != nil {
		t.Fatal(err)
	}
	bob, ok := f.record(t, "bob@example.com")
	if !ok {
		t.Fatal("bob, who had confirmed once, was deleted with his history")
	}
	if sub := bob.Subscriptions[0]; sub.State != list.StateUnsubscribed || sub.PendingConsent != nil || sub.Consent.IP != first.IP ||
		sub.ConfirmedAt == nil || !sub.ConfirmedAt.Equal(*first.ConfirmedAt) {
		t.Fatalf("after the renewal lapsed: %+v; want unsubscribed with the first consent and its confirmation time", sub)
	}
	// Had Bob confirmed the renewal, its consent would have replaced the first.
	if len(renewal) != 1 || renewal[0].ConfirmURL == "" {
		t.Fatalf("renewal mails = %d", len(renewal))
	}
	if _, err := f.svc.Confirm(ctx, tokenOf(t, renewal[0].ConfirmURL, "/confirm/"), list.Origin{}); err == nil {
		t.Error("the lapsed renewal's link still confirms")
	}
}
