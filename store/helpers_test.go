package store

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

var testTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func testNow() time.Time { return testTime }

// openTest opens a fresh store in t.TempDir and checks it, bbolt's own
// consistency check and our indexes, when the test ends.
func openTest(t testing.TB) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bulletin.db")
	db, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() {
		checkDB(t, db)
		db.Close()
	})
	return db
}

// checkDB runs tx.Check and verifies that every index agrees with the
// records it indexes.
func checkDB(t testing.TB, db *DB) {
	t.Helper()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("tx.Check: %v", err)
		}
		return checkIndexes(tx)
	})
	if err != nil && err != bolt.ErrDatabaseNotOpen {
		t.Errorf("index check: %v", err)
	}
}

func checkIndexes(tx *bolt.Tx) error {
	want := map[string][]byte{} // expected members entries
	counts := map[list.ListID]list.Counts{}
	nSubs := 0
	err := bucket(tx, bSubscribers).ForEach(func(k, v []byte) error {
		nSubs++
		var sv subscriberValue
		if err := decode(k, v, &sv); err != nil {
			return err
		}
		r := sv.record()
		id := r.Subscriber.ID
		if got := readU64(bucket(tx, bSubIdentity).Get([]byte(r.Subscriber.Identity)), 0); got != uint64(id) {
			return fmt.Errorf("identity index of %d = %d", id, got)
		}
		if r.Subscriber.Name != "" && bucket(tx, bSubName).Get(nameKey(r.Subscriber.Name, id)) == nil {
			return fmt.Errorf("name index of %d missing", id)
		}
		for _, s := range r.Subscriptions {
			want[string(key2(uint64(s.List), uint64(id)))] = memberValue(&s)
			c := counts[s.List]
			switch s.State {
			case list.StateUnconfirmed:
				c.Unconfirmed++
			case list.StateConfirmed:
				c.Confirmed++
			case list.StateUnsubscribed:
				c.Unsubscribed++
			}
			counts[s.List] = c
		}
		return nil
	})
	if err != nil {
		return err
	}
	if got := int(readU64(bucket(tx, bMeta).Get([]byte(metaSubscribers)), 0)); got != nSubs {
		return fmt.Errorf("subscriber count = %d, want %d", got, nSubs)
	}
	if n := bucket(tx, bSubIdentity).Stats().KeyN; n != nSubs {
		return fmt.Errorf("identity index has %d keys, want %d", n, nSubs)
	}
	if err := checkMembers(tx, want); err != nil {
		return err
	}
	if err := checkSuppressionIndex(tx); err != nil {
		return err
	}
	return checkCounts(tx, counts)
}

// checkSuppressionIndex verifies that suppression_at has exactly one key
// per suppression entry, at the entry's time, and that the count agrees.
func checkSuppressionIndex(tx *bolt.Tx) error {
	n := 0
	err := bucket(tx, bSuppression).ForEach(func(k, v []byte) error {
		n++
		var s list.Suppression
		if err := decode(k, v, &s); err != nil {
			return err
		}
		if bucket(tx, bSuppressionAt).Get(suppressionAtKey(s.At, k)) == nil {
			return fmt.Errorf("suppression %x at %v has no suppression_at key", k, s.At)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if keys := bucket(tx, bSuppressionAt).Stats().KeyN; keys != n {
		return fmt.Errorf("suppression_at has %d keys, want %d", keys, n)
	}
	if got := int(readU64(bucket(tx, bMeta).Get([]byte(metaSuppressions)), 0)); got != n {
		return fmt.Errorf("suppression count = %d, want %d", got, n)
	}
	return nil
}

func checkMembers(tx *bolt.Tx, want map[string][]byte) error {
	n := 0
	err := bucket(tx, bMembers).ForEach(func(k, v []byte) error {
		n++
		if w, ok := want[string(k)]; !ok || !bytes.Equal(w, v) {
			return fmt.Errorf("members entry %x = %x, want %x", k, v, w)
		}
		return nil
	})
	if err == nil && n != len(want) {
		err = fmt.Errorf("members has %d entries, want %d", n, len(want))
	}
	return err
}

func checkCounts(tx *bolt.Tx, counts map[list.ListID]list.Counts) error {
	return bucket(tx, bListCounts).ForEach(func(k, v []byte) error {
		id := list.ListID(readU64(k, 0))
		if got := decodeCounts(v); got != counts[id] {
			return fmt.Errorf("counts of list %d = %+v, want %+v", id, got, counts[id])
		}
		return nil
	})
}

func mustCreateList(t testing.TB, db *DB, slug string) list.List {
	t.Helper()
	l := list.List{Slug: slug, Name: slug, OptIn: list.OptInDouble}
	if err := db.CreateList(t.Context(), &l); err != nil {
		t.Fatalf("CreateList(%q) = %v", slug, err)
	}
	return l
}

// subscribe returns an fn that sets name and email and puts the record's
// subscription to l in state s (none for list 0).
func subscribe(l list.ListID, s list.State, name string) func(*list.Record, *list.Effects) error {
	return func(r *list.Record, _ *list.Effects) error {
		r.Subscriber.Name = name
		r.Subscriber.Email = r.Subscriber.Identity
		if l == 0 {
			return nil
		}
		if sub := r.Subscription(l); sub != nil {
			sub.State = s
			setConfirmed(sub)
			return nil
		}
		r.Subscriptions = append(r.Subscriptions, list.Subscription{List: l, State: s, CreatedAt: testTime})
		setConfirmed(&r.Subscriptions[len(r.Subscriptions)-1])
		return nil
	}
}

func setConfirmed(s *list.Subscription) {
	if s.State == list.StateConfirmed {
		at := testTime
		s.ConfirmedAt = &at
	}
}

func mustUpdate(t testing.TB, db *DB, k list.Key, create bool, fn func(*list.Record, *list.Effects) error) list.Record {
	t.Helper()
	r, err := db.UpdateSubscriber(t.Context(), k, create, fn)
	if err != nil {
		t.Fatalf("UpdateSubscriber(%+v) = %v", k, err)
	}
	return r
}

// fill creates n subscribers n0..n-1 with names and addresses derived from
// their number, subscribed to the given lists, in large write transactions.
func fill(t testing.TB, db *DB, n int, lists ...list.ListID) {
	t.Helper()
	const perTx = 20000
	for start := 0; start < n; start += perTx {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for i := start; i < min(start+perTx, n); i++ {
				k := list.Key{Identity: fmt.Sprintf("user%07d@example.org", i)}
				state := []list.State{list.StateConfirmed, list.StateUnconfirmed, list.StateUnsubscribed}[i%3]
				fn := func(r *list.Record, e *list.Effects) error {
					for _, l := range lists {
						if err := subscribe(l, state, fmt.Sprintf("Name %c%07d", 'a'+i%26, i))(r, e); err != nil {
							return err
						}
					}
					return nil
				}
				if _, err := db.updateSubscriberTx(tx, k, true, fn); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
}
