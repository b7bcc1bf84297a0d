package list_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// editor is the origin of an editor's change in these tests.
var editor = list.Origin{User: "ed", IP: "192.0.2.9", UserAgent: "admin-ui"}

// memberFixture is a fixture with a second list, weekly, and one person
// confirmed on newsletter only.
func memberFixture(t *testing.T, email string) (*fixture, list.SubscriberID) {
	t.Helper()
	f := newFixture(t)
	if _, err := f.svc.CreateList(t.Context(), list.List{Slug: "weekly", Name: "The Weekly"}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	v, err := f.svc.AddSubscriber(t.Context(), list.NewSubscriber{Email: email, Lists: []string{"newsletter"},
		State: list.StateConfirmed, Reason: "signed at the fair"}, list.HowAdmin, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	return f, v.ID
}

// subOf is v's subscription to slug; the test fails without one.
func subOf(t *testing.T, v list.SubscriberView, slug string) list.SubscriptionView {
	t.Helper()
	for _, s := range v.Subscriptions {
		if s.Slug == slug {
			return s
		}
	}
	t.Fatalf("%s is not on %s: %+v", v.Email, slug, v.Subscriptions)
	return list.SubscriptionView{}
}

// events is a subscriber's history.
func (f *fixture) events(t *testing.T, id list.SubscriberID) []list.Event {
	t.Helper()
	evs, err := f.svc.SubscriberEvents(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// auditActions are the subscriber actions of the audit log, oldest first.
func auditActions(t *testing.T, f *fixture) []string {
	t.Helper()
	es, _, err := f.svc.Audit(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Action, "subscriber.") {
			out = append(out, e.Action+" "+e.Target)
		}
	}
	return out
}

// TestSubscribeToListsConfirmed: an editor puts an existing subscriber on a
// list as confirmed; the reason is the consent source, nothing is mailed,
// and asking again changes nothing.
func TestSubscribeToListsConfirmed(t *testing.T) {
	t.Parallel()
	f, id := memberFixture(t, "ann@example.com")
	ctx := t.Context()
	add := list.ListAddition{Lists: []string{"weekly"}, State: list.StateConfirmed, Reason: "asked by phone, 2026-11-01"}
	v, err := f.svc.SubscribeToLists(ctx, id, add, list.HowAdmin, editor)
	if err != nil {
		t.Fatal(err)
	}
	sub := subOf(t, v, "weekly")
	if sub.State != list.StateConfirmed || sub.ConfirmedAt == nil || sub.Consent == nil || sub.Consent.Source != "admin" ||
		sub.Consent.Reason != add.Reason || sub.Consent.ConfirmedAt == nil || sub.Consent.Text == "" || sub.Consent.IP != editor.IP {
		t.Fatalf("weekly after a confirmed addition: %+v consent %+v", sub.Subscription, sub.Consent)
	}
	if subOf(t, v, "newsletter").State != list.StateConfirmed {
		t.Error("the addition changed the other list")
	}
	f.drain(t)
	if ms := f.mail.to("ann@example.com"); len(ms) != 0 {
		t.Errorf("a confirmed addition mailed %d messages", len(ms))
	}
	events := len(f.events(t, id))
	again, err := f.svc.SubscribeToLists(ctx, id, add, list.HowAdmin, editor)
	if err != nil || !subOf(t, again, "weekly").ConfirmedAt.Equal(*sub.ConfirmedAt) || !again.UpdatedAt.Equal(v.UpdatedAt) {
		t.Errorf("a second addition = %+v, %v; want no change", again, err)
	}
	if n := len(f.events(t, id)); n != events {
		t.Errorf("a second addition recorded %d events", n-events)
	}
	if got := auditActions(t, f); len(got) != 1 || got[0] != "subscriber.subscribe 1: weekly (confirmed)" {
		t.Errorf("audit log = %q, want the one addition", got)
	}
}

// TestSubscribeToListsRefusals: the same checks as a new subscriber's.
func TestSubscribeToListsRefusals(t *testing.T) {
	t.Parallel()
	f, id := memberFixture(t, "bob@example.com")
	ctx := t.Context()
	if _, err := f.svc.CreateList(ctx, list.List{Slug: "staff", Name: "Staff", AllowDomains: []string{"corp.example"}}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		id   list.SubscriberID
		add  list.ListAddition
		want error
	}{
		{"confirmed without a reason", id, list.ListAddition{Lists: []string{"weekly"}, State: list.StateConfirmed, Reason: " "}, list.ErrInvalid},
		{"unknown state", id, list.ListAddition{Lists: []string{"weekly"}, State: "sleeping"}, list.ErrInvalid},
		{"no list", id, list.ListAddition{State: list.StateUnconfirmed}, list.ErrInvalid},
		{"unknown list", id, list.ListAddition{Lists: []string{"nope"}}, list.ErrInvalid},
		{"the list's address rules", id, list.ListAddition{Lists: []string{"staff"}}, list.ErrInvalid},
		{"unknown subscriber", id + 100, list.ListAddition{Lists: []string{"weekly"}}, list.ErrNotFound},
	} {
		if _, err := f.svc.SubscribeToLists(ctx, c.id, c.add, list.HowAPI, editor); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if v, _ := f.svc.Subscriber(ctx, id); len(v.Subscriptions) != 1 {
		t.Errorf("refused additions left subscriptions: %+v", v.Subscriptions)
	}
}

// TestSubscribeToListsUnconfirmed: without a consent of their own, the
// person gets the confirmation mail, whose link confirms the subscription
// on the consent the editor's request recorded.
func TestSubscribeToListsUnconfirmed(t *testing.T) {
	t.Parallel()
	f, id := memberFixture(t, "cy@example.com")
	ctx := t.Context()
	v, err := f.svc.SubscribeToLists(ctx, id, list.ListAddition{Lists: []string{"weekly"}}, list.HowAPI, editor)
	if err != nil || subOf(t, v, "weekly").State != list.StateUnconfirmed {
		t.Fatalf("unconfirmed addition = %+v, %v", v.Subscriptions, err)
	}
	f.drain(t)
	ms := f.mail.to("cy@example.com")
	if len(ms) != 1 || ms[0].Kind != list.MailConfirm || ms[0].List == nil || ms[0].List.Slug != "weekly" {
		t.Fatalf("after an unconfirmed addition: %d mails, want weekly's confirmation", len(ms))
	}
	// Asking again at once does not mail again.
	if _, err := f.svc.SubscribeToLists(ctx, id, list.ListAddition{Lists: []string{"weekly"}}, list.HowAPI, editor); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	if n := len(f.mail.to("cy@example.com")); n != 1 {
		t.Errorf("a second request at once sent %d mails in all, want 1", n)
	}
	if _, err := f.svc.Confirm(ctx, tokenOf(t, ms[0].ConfirmURL, "/confirm/"), list.Origin{IP: "198.51.100.7"}); err != nil {
		t.Fatal(err)
	}
	got, _ := f.svc.Subscriber(ctx, id)
	if sub := subOf(t, got, "weekly"); sub.State != list.StateConfirmed || sub.Consent.Source != "api" || sub.Consent.ConfirmIP != "198.51.100.7" {
		t.Errorf("after the confirmation: %+v consent %+v", sub.Subscription, sub.Consent)
	}
}

// TestSubscribeToListsSuppressedNotMailed: a suppressed address gets its
// subscription recorded, unconfirmed whatever the editor asked, and no mail.
func TestSubscribeToListsSuppressedNotMailed(t *testing.T) {
	t.Parallel()
	f, id := memberFixture(t, "dee@example.com")
	blocklist(t, f, "dee@example.com")
	if _, err := f.svc.CreateList(t.Context(), list.List{Slug: "daily", Name: "Daily"}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	for _, add := range []list.ListAddition{
		{Lists: []string{"weekly"}, State: list.StateUnconfirmed},
		{Lists: []string{"daily"}, State: list.StateConfirmed, Reason: "asked at the desk"},
	} {
		v, err := f.svc.SubscribeToLists(t.Context(), id, add, list.HowAdmin, editor)
		if err != nil || subOf(t, v, add.Lists[0]).State != list.StateUnconfirmed || !v.Blocklisted {
			t.Errorf("%s (%s): %+v, %v; want unconfirmed and still blocklisted", add.Lists[0], add.State, v.Subscriptions, err)
		}
	}
	f.drain(t)
	if ms := f.mail.to("dee@example.com"); len(ms) != 0 {
		t.Errorf("a suppressed address was mailed %d times", len(ms))
	}
}

// TestUnsubscribeFromListKeepsConsent: an editor takes a person off a list;
// the subscription stays with its consent record, the event says an editor
// did it and why. Putting them back needs a new consent, as their own
// sign-up would.
func TestUnsubscribeFromListKeepsConsent(t *testing.T) {
	t.Parallel()
	f, id := memberFixture(t, "eve@example.com")
	ctx := t.Context()
	v, err := f.svc.UnsubscribeFromList(ctx, id, "newsletter", "asked by phone", list.HowAdmin, editor)
	if err != nil {
		t.Fatal(err)
	}
	sub := subOf(t, v, "newsletter")
	if sub.State != list.StateUnsubscribed || sub.UnsubscribedAt == nil || sub.ConfirmedAt == nil ||
		sub.Consent == nil || sub.Consent.Reason != "signed at the fair" || sub.Consent.ConfirmedAt == nil {
		t.Fatalf("after an editor's unsubscribe: %+v consent %+v", sub.Subscription, sub.Consent)
	}
	evs := f.events(t, id)
	if last := evs[len(evs)-1]; last.Kind != list.EventUnsubscribed || last.How != list.HowAdmin || last.Detail != "by an editor: asked by phone" || last.IP != editor.IP {
		t.Errorf("last event = %+v", last)
	}
	if _, err := f.svc.UnsubscribeFromList(ctx, id, "newsletter", "", list.HowAdmin, editor); err != nil || len(f.events(t, id)) != len(evs) {
		t.Errorf("a second unsubscribe: %v, %d new events; want no change", err, len(f.events(t, id))-len(evs))
	}
	for slug, want := range map[string]error{"weekly": list.ErrNotFound, "nope": list.ErrNotFound} {
		if _, err := f.svc.UnsubscribeFromList(ctx, id, slug, "", list.HowAdmin, editor); !errors.Is(err, want) {
			t.Errorf("unsubscribe from %s: %v, want %v", slug, err, want)
		}
	}
	if got := auditActions(t, f); len(got) != 1 || got[0] != "subscriber.unsubscribe 1: newsletter" {
		t.Errorf("audit log = %q", got)
	}

	// Back on the list unconfirmed: a confirmation mail, the old consent
	// kept until the new one is confirmed.
	v, err = f.svc.SubscribeToLists(ctx, id, list.ListAddition{Lists: []string{"newsletter"}, Reason: "wants it back"}, list.HowAdmin, editor)
	if err != nil {
		t.Fatal(err)
	}
	sub = subOf(t, v, "newsletter")
	if sub.State != list.StateUnconfirmed || sub.UnsubscribedAt == nil || sub.Consent.Reason != "signed at the fair" ||
		sub.PendingConsent == nil || sub.PendingConsent.Reason != "wants it back" {
		t.Fatalf("renewal: %+v consent %+v pending %+v", sub.Subscription, sub.Consent, sub.PendingConsent)
	}
	f.drain(t)
	if ms := f.mail.to("eve@example.com"); len(ms) != 1 || ms[0].Kind != list.MailConfirm {
		t.Fatalf("renewal sent %d mails, want the confirmation", len(ms))
	}
	// Confirmed by the editor instead: the new consent replaces both.
	v, err = f.svc.SubscribeToLists(ctx, id, list.ListAddition{Lists: []string{"newsletter"}, State: list.StateConfirmed, Reason: "confirmed by letter"}, list.HowAdmin, editor)
	sub = subOf(t, v, "newsletter")
	if err != nil || sub.State != list.StateConfirmed || sub.UnsubscribedAt != nil || sub.PendingConsent != nil || sub.Consent.Reason != "confirmed by letter" {
		t.Errorf("confirmed renewal: %+v consent %+v pending %+v, %v", sub.Subscription, sub.Consent, sub.PendingConsent, err)
	}
	if !strings.HasPrefix(auditActions(t, f)[2], "subscriber.subscribe") {
		t.Errorf("audit log = %q", auditActions(t, f))
	}
}
