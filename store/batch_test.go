package store

import (
	"errors"
	"testing"

	"github.com/bulletin/bulletin/list"
)

func TestUpdateSubscribers(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	l := mustCreateList(t, db, "news")
	ctx := t.Context()
	refuse := errors.New("refused")
	keys := []list.Key{{Identity: "a@example.com"}, {Identity: "b@example.com"}, {Identity: "a@example.com"}, {Identity: "c@example.com"}}
	seen := make([]list.SubscriberID, len(keys))
	errs, err := db.UpdateSubscribers(ctx, keys, true, func(i int, r *list.Record, fx *list.Effects) error {
		seen[i] = r.Subscriber.ID
		if i == 1 {
			return refuse
		}
		fx.Events = append(fx.Events, list.Event{Kind: list.EventSubscribed, How: list.HowImport})
		return subscribe(l.ID, list.StateConfirmed, "")(r, fx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], refuse) || errs[2] != nil || errs[3] != nil {
		t.Fatalf("errs = %v", errs)
	}
	// The third key met the subscriber the first one wrote in the same transaction.
	if seen[0] != 0 || seen[2] == 0 {
		t.Fatalf("ids seen = %v, want the duplicate to see the first write", seen)
	}
	if _, err := db.Record(ctx, list.Key{Identity: "b@example.com"}); !errors.Is(err, list.ErrNotFound) {
		t.Fatalf("refused key was written: %v", err)
	}
	c, _ := db.Counts(ctx, l.ID)
	if c.Confirmed != 2 {
		t.Fatalf("confirmed = %d, want 2", c.Confirmed)
	}
	// Without create, an unknown key is a per-key ErrNotFound.
	errs, err = db.UpdateSubscribers(ctx, []list.Key{{Identity: "zz@example.com"}, {Identity: "c@example.com"}}, false,
		func(int, *list.Record, *list.Effects) error { return nil })
	if err != nil || !errors.Is(errs[0], list.ErrNotFound) || errs[1] != nil {
		t.Fatalf("without create: errs %v err %v", errs, err)
	}
	// A store-level failure (a subscription to a list that does not exist)
	// writes nothing at all.
	_, err = db.UpdateSubscribers(ctx, []list.Key{{Identity: "d@example.com"}, {Identity: "e@example.com"}}, true,
		func(i int, r *list.Record, fx *list.Effects) error {
			if i == 1 {
				return subscribe(9999, list.StateConfirmed, "")(r, fx)
			}
			return subscribe(l.ID, list.StateConfirmed, "")(r, fx)
		})
	if err == nil {
		t.Fatal("a batch with a bad list id succeeded")
	}
	if _, err := db.Record(ctx, list.Key{Identity: "d@example.com"}); !errors.Is(err, list.ErrNotFound) {
		t.Fatalf("a failed batch wrote its first key: %v", err)
	}
}
