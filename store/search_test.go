package store

import (
	"fmt"
	"testing"

	"github.com/bulletin/bulletin/list"
)

func ids(rs []list.Record) []list.SubscriberID {
	out := make([]list.SubscriberID, len(rs))
	for i, r := range rs {
		out[i] = r.Subscriber.ID
	}
	return out
}

func TestSearchPrefix(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	l := mustCreateList(t, db, "news")
	// Names are entered in reverse so name order differs from id order.
	var want []list.SubscriberID
	for i := range 7 {
		r := mustUpdate(t, db, list.Key{Identity: fmt.Sprintf("sam%d@example.org", i)}, true, subscribe(l.ID, list.StateConfirmed, fmt.Sprintf("Zed %d", 9-i)))
		want = append(want, r.Subscriber.ID)
	}
	// Name and address both match: found once, counted once.
	both := mustUpdate(t, db, list.Key{Identity: "samuel@example.org"}, true, subscribe(l.ID, list.StateUnconfirmed, "Sam Doe"))
	byName := mustUpdate(t, db, list.Key{Identity: "x@example.org"}, true, subscribe(l.ID, list.StateConfirmed, "SAMANTHA"))
	mustUpdate(t, db, list.Key{Identity: "other@example.org"}, true, subscribe(l.ID, list.StateConfirmed, "Other"))
	want = append(want, both.Subscriber.ID, byName.Subscriber.ID)

	var got []list.SubscriberID
	after := list.SubscriberID(0)
	for {
		page, total, err := db.SearchSubscribers(ctx, list.SubscriberQuery{Prefix: "SAM", After: after, Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		if total != len(want) {
			t.Errorf("total = %d, want %d", total, len(want))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, ids(page)...)
		after = page[len(page)-1].Subscriber.ID
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paged prefix search = %v, want %v", got, want)
	}

	res, total, err := db.SearchSubscribers(ctx, list.SubscriberQuery{Prefix: "zed 3"})
	if err != nil || total != 1 || len(res) != 1 || res[0].Subscriber.ID != want[6] {
		t.Errorf("name search = %v, %d, %v, want [%d]", ids(res), total, err, want[6])
	}
	res, total, err = db.SearchSubscribers(ctx, list.SubscriberQuery{Prefix: "sam", List: l.ID, State: list.StateUnconfirmed})
	if err != nil || total != -1 || len(res) != 1 || res[0].Subscriber.ID != both.Subscriber.ID {
		t.Errorf("filtered prefix search = %v, %d, %v, want [%d] and -1", ids(res), total, err, both.Subscriber.ID)
	}
	// Asked to count, the filters apply to every match, not only the
	// page's: 8 confirmed "sam" matches, one to a page.
	for _, q := range []list.SubscriberQuery{
		{Prefix: "sam", List: l.ID, State: list.StateConfirmed, Limit: 1, Count: true},
		{Prefix: "sam", State: list.StateConfirmed, Limit: 1, Count: true},
		{Prefix: "sam", State: list.StateConfirmed, Limit: 1, Count: true, After: want[5]},
	} {
		if _, total, err := db.SearchSubscribers(ctx, q); err != nil || total != 8 {
			t.Errorf("counted filtered prefix search %+v: total %d, %v, want 8", q, total, err)
		}
	}
}

func TestSearchListState(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	a, b := mustCreateList(t, db, "a"), mustCreateList(t, db, "b")
	fill(t, db, 30, a.ID)
	mustUpdate(t, db, list.Key{Identity: "only-b@example.org"}, true, subscribe(b.ID, list.StateConfirmed, "B"))

	var got []list.Record
	after := list.SubscriberID(0)
	for {
		page, total, err := db.SearchSubscribers(ctx, list.SubscriberQuery{List: a.ID, State: list.StateConfirmed, After: after, Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		if total != 10 {
			t.Errorf("total = %d, want 10 (from the counters)", total)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Subscriber.ID
	}
	if len(got) != 10 {
		t.Fatalf("confirmed in list a = %d, want 10", len(got))
	}
	for i, r := range got {
		if r.Subscription(a.ID).State != list.StateConfirmed || (i > 0 && r.Subscriber.ID <= got[i-1].Subscriber.ID) {
			t.Errorf("result %d = %+v, want confirmed, ascending ids", i, r)
		}
	}
	if _, total, _ := db.SearchSubscribers(ctx, list.SubscriberQuery{List: a.ID}); total != 30 {
		t.Errorf("list total = %d, want 30", total)
	}
	all, total, err := db.SearchSubscribers(ctx, list.SubscriberQuery{Limit: 1000})
	if err != nil || len(all) != 31 || total != 31 {
		t.Errorf("unfiltered search = %d records, total %d, %v, want 31", len(all), total, err)
	}
	res, total, err := db.SearchSubscribers(ctx, list.SubscriberQuery{State: list.StateConfirmed, Limit: 1000})
	if err != nil || len(res) != 11 || total != -1 {
		t.Errorf("state-only search = %d records, total %d, %v, want 11 and -1 (not asked to count)", len(res), total, err)
	}
	// Counted on demand: each person once, however many lists they are
	// in that state on (only-b and the 10 confirmed on a; 3 of those on b
	// too, confirmed or not).
	for i, r := range res[:3] {
		mustUpdate(t, db, list.Key{ID: r.Subscriber.ID}, false, subscribe(b.ID, []list.State{list.StateConfirmed, list.StateUnconfirmed, list.StateConfirmed}[i], ""))
	}
	for state, want := range map[list.State]int{list.StateConfirmed: 11, list.StateUnconfirmed: 11, list.StateUnsubscribed: 10} {
		res, total, err = db.SearchSubscribers(ctx, list.SubscriberQuery{State: state, Limit: 2, Count: true})
		if err != nil || len(res) != 2 || total != want {
			t.Errorf("counted %s search = %d records, total %d, %v, want 2 and %d", state, len(res), total, err, want)
		}
	}
}
