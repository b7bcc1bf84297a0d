package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

func TestListsCRUD(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	a := mustCreateList(t, db, "news")
	b := mustCreateList(t, db, "events")
	if a.ID == 0 || b.ID <= a.ID || !a.CreatedAt.Equal(testTime) {
		t.Fatalf("created %+v, %+v", a, b)
	}
	if err := db.CreateList(ctx, &list.List{Slug: "news"}); !errors.Is(err, list.ErrExists) {
		t.Errorf("CreateList(duplicate slug) = %v, want ErrExists", err)
	}
	if got, err := db.List(ctx, a.ID); err != nil || got.Slug != "news" {
		t.Errorf("List(%d) = %+v, %v", a.ID, got, err)
	}
	if got, err := db.ListBySlug(ctx, "events"); err != nil || got.ID != b.ID {
		t.Errorf("ListBySlug(events) = %+v, %v", got, err)
	}
	all, err := db.Lists(ctx)
	if err != nil || len(all) != 2 || all[0].ID != a.ID {
		t.Errorf("Lists = %+v, %v", all, err)
	}
	got, err := db.UpdateList(ctx, a.ID, func(l *list.List) error {
		l.Name = "News"
		l.Slug = "news2"
		return nil
	})
	if err != nil || got.Name != "News" {
		t.Fatalf("UpdateList = %+v, %v", got, err)
	}
	if _, err := db.ListBySlug(ctx, "news"); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("ListBySlug(old slug) = %v, want ErrNotFound", err)
	}
	if _, err := db.UpdateList(ctx, a.ID, func(l *list.List) error { l.Slug = "events"; return nil }); !errors.Is(err, list.ErrExists) {
		t.Errorf("UpdateList to a taken slug = %v, want ErrExists", err)
	}
	if _, err := db.UpdateList(ctx, a.ID, func(*list.List) error { return errTest }); err != errTest {
		t.Errorf("UpdateList(fn error) = %v, want it unchanged", err)
	}
	if _, err := db.UpdateList(ctx, 99, func(*list.List) error { return nil }); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("UpdateList(99) = %v, want ErrNotFound", err)
	}
	if err := db.DeleteList(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{db.DeleteList(ctx, b.ID), errOf(db.List(ctx, b.ID)), errOf(db.Counts(ctx, b.ID)), errOf(db.Members(ctx, b.ID, 0, 1))} {
		if !errors.Is(err, list.ErrNotFound) {
			t.Errorf("after DeleteList: %v, want ErrNotFound", err)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }

func TestDeleteListDetachesSubscribers(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	db.purgeChunk = 3 // several transactions
	ctx := t.Context()
	a, b := mustCreateList(t, db, "a"), mustCreateList(t, db, "b")
	fill(t, db, 10, a.ID, b.ID)
	if err := db.DeleteList(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	res, _, err := db.SearchSubscribers(ctx, list.SubscriberQuery{Limit: 100})
	if err != nil || len(res) != 10 {
		t.Fatalf("subscribers after DeleteList = %d, %v, want 10", len(res), err)
	}
	for _, r := range res {
		if len(r.Subscriptions) != 1 || r.Subscriptions[0].List != b.ID {
			t.Errorf("subscriptions of %d = %+v, want only list b", r.Subscriber.ID, r.Subscriptions)
		}
	}
	if _, err := db.UpdateSubscriber(ctx, list.Key{ID: res[0].Subscriber.ID}, false, subscribe(a.ID, list.StateConfirmed, "")); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("subscribing to a deleted list = %v, want ErrNotFound", err)
	}
}

func TestDeleteListResumesAtOpen(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/bulletin.db"
	db, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	a := mustCreateList(t, db, "a")
	fill(t, db, 5, a.ID)
	// The first transaction of DeleteList, then a stop.
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		if err := bucket(tx, bLists).Delete(u64(uint64(a.ID))); err != nil {
			return err
		}
		return bucket(tx, bListDeleting).Put(u64(uint64(a.ID)), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkDB(t, db); db.Close() })
	res, _, _ := db.SearchSubscribers(t.Context(), list.SubscriberQuery{})
	for _, r := range res {
		if len(r.Subscriptions) != 0 {
			t.Errorf("subscriber %d still has %+v", r.Subscriber.ID, r.Subscriptions)
		}
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if k, _ := bucket(tx, bListDeleting).Cursor().First(); k != nil {
			return fmt.Errorf("deletion marker left")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestMembersPaging(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	a := mustCreateList(t, db, "a")
	fill(t, db, 25, a.ID)
	var got []list.Member
	after := list.SubscriberID(0)
	for {
		page, err := db.Members(t.Context(), a.ID, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Subscriber
	}
	if len(got) != 25 {
		t.Fatalf("Members paged = %d, want 25", len(got))
	}
	for i, m := range got {
		if m.Subscriber != list.SubscriberID(i+1) || !m.State.Valid() {
			t.Errorf("member %d = %+v", i, m)
		}
	}
	if page, err := db.Members(t.Context(), a.ID, ^list.SubscriberID(0), 7); err != nil || len(page) != 0 {
		t.Errorf("Members after max id = %+v, %v", page, err)
	}
}
