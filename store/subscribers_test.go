package store

import (
	"errors"
	"reflect"
	"testing"

	"github.com/bulletin/bulletin/list"
)

func TestUpdateSubscriberIndexes(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	l := mustCreateList(t, db, "news")
	k := list.Key{Identity: "ann@example.org"}
	if _, err := db.UpdateSubscriber(ctx, k, false, subscribe(l.ID, list.StateUnconfirmed, "")); !errors.Is(err, list.ErrNotFound) {
		t.Fatalf("UpdateSubscriber without create = %v, want ErrNotFound", err)
	}
	r := mustUpdate(t, db, k, true, subscribe(l.ID, list.StateUnconfirmed, "Ann"))
	if r.Subscriber.ID == 0 || r.Subscriber.CreatedAt != testTime {
		t.Fatalf("created %+v, want an id and CreatedAt", r.Subscriber)
	}
	wantCounts(t, db, l.ID, list.Counts{Unconfirmed: 1})
	byID, err := db.Record(ctx, list.Key{ID: r.Subscriber.ID})
	if err != nil || byID.Subscriber.Identity != k.Identity || len(byID.Subscriptions) != 1 {
		t.Fatalf("Record(id) = %+v, %v", byID, err)
	}

	mustUpdate(t, db, k, false, subscribe(l.ID, list.StateConfirmed, "Ann"))
	wantCounts(t, db, l.ID, list.Counts{Confirmed: 1})
	m, err := db.Members(ctx, l.ID, 0, 10)
	if err != nil || len(m) != 1 || m[0].Subscriber != r.Subscriber.ID || m[0].State != list.StateConfirmed || !m[0].ConfirmedAt.Equal(testTime) {
		t.Fatalf("Members = %+v, %v", m, err)
	}
	mustUpdate(t, db, list.Key{ID: r.Subscriber.ID}, false, subscribe(l.ID, list.StateUnsubscribed, "Ann"))
	wantCounts(t, db, l.ID, list.Counts{Unsubscribed: 1})

	// Dropping the subscription removes it from index and counters.
	mustUpdate(t, db, k, false, func(r *list.Record, _ *list.Effects) error {
		r.Subscriptions = nil
		return nil
	})
	wantCounts(t, db, l.ID, list.Counts{})
	if m, _ := db.Members(ctx, l.ID, 0, 10); len(m) != 0 {
		t.Errorf("Members after drop = %+v, want none", m)
	}
}

func wantCounts(t *testing.T, db *DB, l list.ListID, want list.Counts) {
	t.Helper()
	got, err := db.Counts(t.Context(), l)
	if err != nil || got != want {
		t.Errorf("Counts(%d) = %+v, %v, want %+v", l, got, err, want)
	}
}

func TestUpdateSubscriberHiddenFieldsPersist(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	l := mustCreateList(t, db, "news")
	r := mustUpdate(t, db, list.Key{Identity: "ann@example.org"}, true, func(r *list.Record, _ *list.Effects) error {
		r.Subscriber.Nonce = 7
		r.Subscriptions = []list.Subscription{{List: l.ID, State: list.StateUnconfirmed, Nonce: 9, LastConfirmMail: testTime, RemindedAt: &testTime}}
		return nil
	})
	got, err := db.Record(t.Context(), list.Key{ID: r.Subscriber.ID})
	if err != nil {
		t.Fatal(err)
	}
	s := got.Subscriptions[0]
	if got.Subscriber.Nonce != 7 || s.Nonce != 9 || !s.LastConfirmMail.Equal(testTime) || s.RemindedAt == nil || got.Subscriber.Identity != "ann@example.org" {
		t.Errorf("Record = %+v, hidden fields lost", got)
	}
}

var errTest = errors.New("refused by rule")

func TestUpdateSubscriberFnErrorWritesNothing(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	l := mustCreateList(t, db, "news")
	_, err := db.UpdateSubscriber(ctx, list.Key{Identity: "ann@example.org", Hash: []byte("h")}, true, func(r *list.Record, e *list.Effects) error {
		_ = subscribe(l.ID, list.StateConfirmed, "Ann")(r, e)
		r.Suppression = &list.Suppression{Reason: "x"}
		e.Events = append(e.Events, list.Event{Kind: list.EventSubscribed})
		e.Mails = append(e.Mails, list.QueuedMail{Kind: list.MailConfirm})
		return errTest
	})
	if err != errTest {
		t.Fatalf("UpdateSubscriber = %v, want the fn error unchanged", err)
	}
	wrapped := errors.Join(list.ErrBadTransition, errTest)
	if _, err := db.UpdateSubscriber(ctx, list.Key{Identity: "ann@example.org"}, true, func(*list.Record, *list.Effects) error { return wrapped }); !errors.Is(err, list.ErrBadTransition) {
		t.Fatalf("UpdateSubscriber = %v, want errors.Is ErrBadTransition", err)
	}
	if _, err := db.Record(ctx, list.Key{Identity: "ann@example.org"}); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("Record after fn error = %v, want ErrNotFound", err)
	}
	wantCounts(t, db, l.ID, list.Counts{})
	if _, err := db.Suppression(ctx, []byte("h")); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("Suppression after fn error = %v, want ErrNotFound", err)
	}
	if m, _ := db.DueMails(ctx, testTime.AddDate(1, 0, 0), 10); len(m) != 0 {
		t.Errorf("DueMails after fn error = %+v, want none", m)
	}
}

func TestUpdateSubscriberEffectsGetNewID(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	l := mustCreateList(t, db, "news")
	mustUpdate(t, db, list.Key{Identity: "first@example.org"}, true, subscribe(l.ID, list.StateConfirmed, ""))
	r := mustUpdate(t, db, list.Key{Identity: "ann@example.org"}, true, func(r *list.Record, e *list.Effects) error {
		e.Events = append(e.Events, list.Event{Kind: list.EventSubscribed, IP: "192.0.2.1"}, list.Event{Kind: list.EventMailQueued})
		e.Mails = append(e.Mails, list.QueuedMail{Kind: list.MailConfirm, List: l.ID, Due: testTime})
		return subscribe(l.ID, list.StateUnconfirmed, "Ann")(r, e)
	})
	evs, err := db.Events(ctx, r.Subscriber.ID, 0, 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("Events = %+v, %v, want 2", evs, err)
	}
	for _, e := range evs {
		if e.Subscriber != r.Subscriber.ID || e.ID == 0 || !e.At.Equal(testTime) {
			t.Errorf("event %+v, want subscriber %d, an id and a time", e, r.Subscriber.ID)
		}
	}
	if more, _ := db.Events(ctx, r.Subscriber.ID, evs[0].ID, 10); len(more) != 1 || more[0].ID != evs[1].ID {
		t.Errorf("Events after %d = %+v", evs[0].ID, more)
	}
	mails, err := db.DueMails(ctx, testTime, 10)
	if err != nil || len(mails) != 1 || mails[0].Subscriber != r.Subscriber.ID || mails[0].ID == 0 {
		t.Errorf("DueMails = %+v, %v, want one mail to %d", mails, err, r.Subscriber.ID)
	}
}

func TestSuppressionViaKeyHash(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	hash := []byte("keyed-hash-of-ann")
	k := list.Key{Identity: "ann@example.org", Hash: hash}
	r := mustUpdate(t, db, k, true, func(r *list.Record, _ *list.Effects) error {
		r.Suppression = &list.Suppression{Reason: "complaint", How: list.HowComplaint}
		return nil
	})
	if !r.Subscriber.Blocklisted {
		t.Error("Blocklisted = false after suppression")
	}
	s, err := db.Suppression(ctx, hash)
	if err != nil || s.Reason != "complaint" || string(s.Hash) != string(hash) || !s.At.Equal(testTime) {
		t.Errorf("Suppression = %+v, %v", s, err)
	}
	got, err := db.Record(ctx, k)
	if err != nil || got.Suppression == nil || !got.Subscriber.Blocklisted {
		t.Errorf("Record(with hash) = %+v, %v, want the suppression loaded", got, err)
	}
	// Without the hash the entry is unknown and left alone.
	mustUpdate(t, db, list.Key{ID: r.Subscriber.ID}, false, func(r *list.Record, _ *list.Effects) error { return nil })
	if _, err := db.Suppression(ctx, hash); err != nil {
		t.Errorf("Suppression after update without hash = %v", err)
	}
	r = mustUpdate(t, db, k, false, func(r *list.Record, _ *list.Effects) error {
		r.Suppression = nil
		return nil
	})
	if r.Subscriber.Blocklisted {
		t.Error("Blocklisted = true after lifting")
	}
	if _, err := db.Suppression(ctx, hash); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("Suppression after lifting = %v, want ErrNotFound", err)
	}
}

func TestIdentityChange(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	a := mustUpdate(t, db, list.Key{Identity: "ann@example.org"}, true, subscribe(0, "", "Ann"))
	mustUpdate(t, db, list.Key{Identity: "bob@example.org"}, true, subscribe(0, "", "Bob"))
	mustUpdate(t, db, list.Key{ID: a.Subscriber.ID}, false, func(r *list.Record, _ *list.Effects) error {
		r.Subscriber.Identity = "ann@new.example"
		return nil
	})
	if _, err := db.Record(ctx, list.Key{Identity: "ann@example.org"}); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("Record(old identity) = %v, want ErrNotFound", err)
	}
	if r, err := db.Record(ctx, list.Key{Identity: "ann@new.example"}); err != nil || r.Subscriber.ID != a.Subscriber.ID {
		t.Errorf("Record(new identity) = %+v, %v", r, err)
	}
	_, err := db.UpdateSubscriber(ctx, list.Key{ID: a.Subscriber.ID}, false, func(r *list.Record, _ *list.Effects) error {
		r.Subscriber.Identity = "bob@example.org"
		return nil
	})
	if !errors.Is(err, list.ErrExists) {
		t.Errorf("taking another's identity = %v, want ErrExists", err)
	}
	_, err = db.UpdateSubscriber(ctx, list.Key{Identity: "carl@example.org"}, true, func(r *list.Record, _ *list.Effects) error {
		r.Subscriber.Identity = "bob@example.org"
		return nil
	})
	if !errors.Is(err, list.ErrExists) {
		t.Errorf("creating with another's identity = %v, want ErrExists", err)
	}
}

func TestUpdateSubscriberRefusesBadSubscriptions(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	l := mustCreateList(t, db, "news")
	cases := []struct {
		name string
		subs []list.Subscription
		want error
	}{
		{"unknown list", []list.Subscription{{List: 99, State: list.StateConfirmed}}, list.ErrNotFound},
		{"bad state", []list.Subscription{{List: l.ID, State: "maybe"}}, list.ErrInvalid},
		{"duplicate", []list.Subscription{{List: l.ID, State: list.StateConfirmed}, {List: l.ID, State: list.StateConfirmed}}, list.ErrInvalid},
	}
	for _, c := range cases {
		_, err := db.UpdateSubscriber(t.Context(), list.Key{Identity: "a@example.org"}, true, func(r *list.Record, _ *list.Effects) error {
			r.Subscriptions = c.subs
			return nil
		})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: UpdateSubscriber = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestDeleteSubscriber(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	l1, l2 := mustCreateList(t, db, "a"), mustCreateList(t, db, "b")
	hash := []byte("h")
	k := list.Key{Identity: "ann@example.org", Hash: hash}
	r := mustUpdate(t, db, k, true, func(r *list.Record, e *list.Effects) error {
		r.Suppression = &list.Suppression{Reason: "admin"}
		e.Events = []list.Event{{Kind: list.EventSubscribed, IP: "192.0.2.1"}}
		e.Mails = []list.QueuedMail{{Kind: list.MailConfirm, Due: testTime}}
		_ = subscribe(l1.ID, list.StateConfirmed, "Ann")(r, e)
		return subscribe(l2.ID, list.StateUnconfirmed, "Ann")(r, e)
	})
	other := mustUpdate(t, db, list.Key{Identity: "bob@example.org"}, true, subscribe(l1.ID, list.StateConfirmed, "Bob"))
	if err := db.DeleteSubscriber(ctx, r.Subscriber.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSubscriber(ctx, r.Subscriber.ID); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("second DeleteSubscriber = %v, want ErrNotFound", err)
	}
	wantCounts(t, db, l1.ID, list.Counts{Confirmed: 1})
	wantCounts(t, db, l2.ID, list.Counts{})
	if evs, _ := db.Events(ctx, r.Subscriber.ID, 0, 10); len(evs) != 0 {
		t.Errorf("Events after delete = %+v", evs)
	}
	if m, _ := db.DueMails(ctx, testTime, 10); len(m) != 0 {
		t.Errorf("DueMails after delete = %+v", m)
	}
	if res, _, _ := db.SearchSubscribers(ctx, list.SubscriberQuery{Prefix: "ann"}); len(res) != 0 {
		t.Errorf("search after delete = %+v", res)
	}
	if _, err := db.Suppression(ctx, hash); err != nil {
		t.Errorf("Suppression after delete = %v, want kept", err)
	}
	if _, err := db.Record(ctx, list.Key{ID: other.Subscriber.ID}); err != nil {
		t.Errorf("other subscriber = %v", err)
	}
	if n, _ := db.TruncateEventIPs(ctx, testTime.AddDate(1, 0, 0), func(string) string { return "x" }); n != 0 {
		t.Errorf("TruncateEventIPs after delete changed %d events", n)
	}
}

func TestCreateUnderExistingSuppression(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	hash := []byte("h")
	if err := db.PutSuppression(t.Context(), list.Suppression{Hash: hash, Reason: "erased"}); err != nil {
		t.Fatal(err)
	}
	var seen *list.Suppression
	r := mustUpdate(t, db, list.Key{Identity: "ann@example.org", Hash: hash}, true, func(r *list.Record, _ *list.Effects) error {
		seen = r.Suppression
		return nil
	})
	if seen == nil || seen.Reason != "erased" || !r.Subscriber.Blocklisted {
		t.Errorf("new subscriber saw suppression %+v, Blocklisted %v, want the entry and true", seen, r.Subscriber.Blocklisted)
	}
}

// TestRecipientMatchesRecord checks that Recipient reads every field
// sending uses exactly as Record does.
func TestRecipientMatchesRecord(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	a, b := mustCreateList(t, db, "a"), mustCreateList(t, db, "b")
	r := mustUpdate(t, db, list.Key{Identity: "ann@example.org"}, true, func(r *list.Record, e *list.Effects) error {
		r.Subscriber.Email, r.Subscriber.Name = "Ann@Example.org", "Ann \"Quote\" Ünïcode"
		r.Subscriber.Attributes = map[string]string{"city": "Zürich", "plan": "gold"}
		r.Subscriber.Blocklisted, r.Subscriber.NoTracking, r.Subscriber.TrackOpens = true, true, true
		r.Subscriber.Nonce, r.Subscriber.PendingEmail = 7, "new@example.org"
		now := testTime
		r.Subscriptions = []list.Subscription{
			{List: a.ID, State: list.StateConfirmed, CreatedAt: now, ConfirmedAt: &now, Nonce: 3,
				Consent: &list.Consent{Source: "form", Text: "Yes, send me the letter", At: now, IP: "192.0.2.1"}},
			{List: b.ID, State: list.StateUnsubscribed, CreatedAt: now, UnsubscribedAt: &now, Nonce: 9},
		}
		return nil
	})
	full, err := db.Record(ctx, list.Key{ID: r.Subscriber.ID})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Recipient(ctx, r.Subscriber.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := full.Subscriber
	want := list.Record{Subscriber: list.Subscriber{ID: s.ID, Email: s.Email, Identity: s.Identity, Name: s.Name, Attributes: s.Attributes,
		Blocklisted: s.Blocklisted, NoTracking: s.NoTracking, TrackOpens: s.TrackOpens, Nonce: s.Nonce}}
	for _, sub := range full.Subscriptions {
		want.Subscriptions = append(want.Subscriptions, list.Subscription{List: sub.List, State: sub.State, Nonce: sub.Nonce})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Recipient = %+v\nwant       %+v", got, want)
	}
	if !s.Blocklisted || s.Nonce != 7 || full.Subscriptions[1].Nonce != 9 || len(s.Attributes) != 2 {
		t.Fatalf("the record did not keep the fields under test: %+v", full)
	}
	if _, err := db.Recipient(ctx, r.Subscriber.ID+1); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("Recipient(missing) = %v, want ErrNotFound", err)
	}
}
