package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

func TestNameAndIdentity(t *testing.T) {
	t.Parallel()
	names := []string{"", "Ann", `Bo "the" Quoted`, `back\slash`, "Zoë & <Ünïcode>", "tab\tname", "日本語"}
	for i, name := range names {
		attrs := map[string]string{"name": "not this", "identity": "nor this", "x": `{"name":"deep"}`}
		if i%2 == 1 {
			attrs = nil
		}
		v := subscriberValue{Subscriber: list.Subscriber{ID: list.SubscriberID(i + 1), Email: "A@x.org", Name: name,
			Attributes: attrs, CreatedAt: testTime, UpdatedAt: testTime}, Identity: fmt.Sprintf("a%d@x.org", i)}
		fast, err := appendSubscriber(nil, &v)
		if err != nil {
			t.Fatal(err)
		}
		std, err := json.MarshalIndent(&v, "", "  ") // spaced, and keys in the same order
		if err != nil {
			t.Fatal(err)
		}
		for _, data := range [][]byte{fast, std, []byte(`{"identity":"` + v.Identity + `","x":[1,{"a":null}],"name":` + string(mustJSON(t, name)) + `}`)} {
			n, id, err := nameAndIdentity(data)
			if err != nil || n != name || id != v.Identity {
				t.Errorf("nameAndIdentity(%s) = %q, %q, %v, want %q, %q", data, n, id, err, name, v.Identity)
			}
		}
	}
	// No identity key: the full decode answers.
	if n, id, err := nameAndIdentity([]byte(`{"name":"Ann"}`)); err != nil || n != "Ann" || id != "" {
		t.Errorf("nameAndIdentity without identity = %q, %q, %v", n, id, err)
	}
	if _, _, err := nameAndIdentity([]byte(`{"name":`)); err == nil {
		t.Error("nameAndIdentity of broken JSON: no error")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkNames verifies that the name index holds exactly one right entry per
// named subscriber, and that no deferred build is pending.
func checkNames(t *testing.T, db *DB) {
	t.Helper()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if _, pending := readNamesMark(tx); pending {
			return fmt.Errorf("names mark still set")
		}
		want := map[string]string{}
		err := bucket(tx, bSubscribers).ForEach(func(k, v []byte) error {
			var sv subscriberValue
			if err := decode(k, v, &sv); err != nil {
				return err
			}
			if sv.Name != "" {
				want[string(nameKey(sv.Name, sv.ID))] = sv.Identity
			}
			return nil
		})
		if err != nil {
			return err
		}
		n := 0
		err = bucket(tx, bSubName).ForEach(func(k, v []byte) error {
			n++
			if w, ok := want[string(k)]; !ok || w != string(v) {
				return fmt.Errorf("name entry %q = %q, want %q (present: %v)", k, v, w, ok)
			}
			return nil
		})
		if err == nil && n != len(want) {
			err = fmt.Errorf("name index has %d entries, want %d", n, len(want))
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
}

// deferAndWrite defers the name index and creates n named subscribers in
// batches of 10, as an import does.
func deferAndWrite(t *testing.T, db *DB, l list.ListID, n int) {
	t.Helper()
	if ok, err := db.DeferNameIndex(t.Context()); err != nil || !ok {
		t.Fatalf("DeferNameIndex = %v, %v", ok, err)
	}
	for start := 0; start < n; start += 10 {
		var keys []list.Key
		for i := start; i < min(start+10, n); i++ {
			keys = append(keys, list.Key{Identity: fmt.Sprintf("u%03d@example.org", i)})
		}
		_, err := db.UpdateSubscribers(t.Context(), keys, true, func(i int, r *list.Record, fx *list.Effects) error {
			return subscribe(l, list.StateConfirmed, fmt.Sprintf("Name %03d", (start+i)*7%n))(r, fx)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func nameHits(t *testing.T, db *DB, prefix string) int {
	t.Helper()
	_, total, err := db.SearchSubscribers(t.Context(), list.SubscriberQuery{Prefix: prefix, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func TestDeferredNamesFinish(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	db.namesChunk = 7
	l := mustCreateList(t, db, "news")
	mustUpdate(t, db, list.Key{Identity: "old@example.org"}, true, subscribe(l.ID, list.StateConfirmed, "Name old"))
	deferAndWrite(t, db, l.ID, 45)
	if got := nameHits(t, db, "name"); got != 1 {
		t.Fatalf("name hits while deferred = %d, want 1 (the entries are deferred)", got)
	}
	// An existing subscriber renamed while deferred keeps an exact entry.
	mustUpdate(t, db, list.Key{Identity: "old@example.org"}, false, subscribe(l.ID, list.StateConfirmed, "Name renamed"))
	var calls, last int
	err := db.FinishNameIndex(t.Context(), func(done, total int) { calls, last = calls+1, done })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 7 || last != 45 {
		t.Errorf("progress: %d calls, last %d; want 7 calls, 45", calls, last)
	}
	if got := nameHits(t, db, "name"); got != 46 {
		t.Errorf("name hits after finish = %d, want 46", got)
	}
	checkNames(t, db)
	// Without a mark, Finish does nothing.
	if err := db.FinishNameIndex(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestDeferredNamesShared(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	l := mustCreateList(t, db, "news")
	deferAndWrite(t, db, l.ID, 10)
	if ok, err := db.DeferNameIndex(t.Context()); err != nil || !ok {
		t.Fatalf("second DeferNameIndex = %v, %v", ok, err)
	}
	if err := db.FinishNameIndex(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := nameHits(t, db, "name"); got != 0 {
		t.Fatalf("name hits after the first of two finishes = %d, want 0", got)
	}
	if err := db.FinishNameIndex(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := nameHits(t, db, "name"); got != 10 {
		t.Fatalf("name hits after the last finish = %d, want 10", got)
	}
	checkNames(t, db)
}

// TestDeferredNamesTakenOver fails a build; the next import's takes it
// over.
func TestDeferredNamesTakenOver(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	db.namesChunk = 5
	l := mustCreateList(t, db, "news")
	deferAndWrite(t, db, l.ID, 20)
	ctx, cancel := context.WithCancel(t.Context())
	err := db.FinishNameIndex(ctx, func(done, _ int) {
		if done == 5 {
			cancel()
		}
	})
	if err == nil {
		t.Fatal("FinishNameIndex with its context cancelled: no error")
	}
	// Touched while the mark says building.
	mustUpdate(t, db, list.Key{Identity: "u001@example.org"}, false, subscribe(l.ID, list.StateConfirmed, "Renamed"))
	deferAndWrite(t, db, l.ID, 30) // renames the first 20, creates 10
	if err := db.FinishNameIndex(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := nameHits(t, db, "name"); got != 30 {
		t.Errorf("name hits = %d, want 30", got)
	}
	checkNames(t, db)
}

// TestDeferredNamesCrash leaves a store as a crash does, with the entries
// deferred and then with a build half done, and opens it again.
func TestDeferredNamesCrash(t *testing.T) {
	t.Parallel()
	for _, stage := range []string{"deferred", "building"} {
		t.Run(stage, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bulletin.db")
			db, err := Open(path, Options{Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			db.namesChunk = 5
			l := mustCreateList(t, db, "news")
			deferAndWrite(t, db, l.ID, 30)
			if stage == "building" {
				// The build stops after its second write transaction.
				ctx, cancel := context.WithCancel(t.Context())
				err := db.FinishNameIndex(ctx, func(done, _ int) {
					if done == 10 {
						cancel()
					}
				})
				if err == nil {
					t.Fatal("FinishNameIndex with its context cancelled: no error")
				}
				if got := nameHits(t, db, "name"); got != 10 {
					t.Fatalf("name hits after a build stopped = %d, want 10", got)
				}
			}
			db.Close() // every commit is on disk, as after kill -9
			db, err = Open(path, Options{Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := nameHits(t, db, "name"); got != 30 {
				t.Errorf("name hits after reopening = %d, want 30", got)
			}
			checkNames(t, db)
			checkDB(t, db)
		})
	}
}

// TestDeferredNamesTouched changes subscribers while their entries are being
// built: between the build's read of them and its writes.
func TestDeferredNamesTouched(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	l := mustCreateList(t, db, "news")
	deferAndWrite(t, db, l.ID, 20)
	// What finishNames does before it builds.
	var from, to uint64
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		m, _ := readNamesMark(tx)
		from, to = m.from, bucket(tx, bSubscribers).Sequence()
		return putNamesMark(tx, namesMark{from: m.from, building: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	db.names.building = true
	if ok, err := db.DeferNameIndex(ctx); err != nil || ok {
		t.Fatalf("DeferNameIndex while building = %v, %v, want false", ok, err)
	}
	sp := list.NewSpill(t.TempDir(), 64, compareNameEntries) // tiny budget: several runs
	defer sp.Close()
	if err := db.scanNames(ctx, sp, from, to); err != nil {
		t.Fatal(err)
	}
	// Renamed, deleted and created after the build read the subscribers.
	renamed := mustUpdate(t, db, list.Key{Identity: "u003@example.org"}, false, subscribe(l.ID, list.StateConfirmed, "Other name"))
	gone := mustUpdate(t, db, list.Key{Identity: "u004@example.org"}, false, subscribe(l.ID, list.StateConfirmed, "Name 028"))
	if err := db.DeleteSubscriber(ctx, gone.Subscriber.ID); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, list.Key{Identity: "new@example.org"}, true, subscribe(l.ID, list.StateConfirmed, "Name new"))
	if err := db.insertNames(ctx, sp, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.bolt.Update(clearNamesMark); err != nil {
		t.Fatal(err)
	}
	if got := nameHits(t, db, "name"); got != 19 { // 20 - renamed - deleted + new
		t.Errorf("name hits = %d, want 19", got)
	}
	if got := nameHits(t, db, "other"); got != 1 {
		t.Errorf("hits for the new name of %d = %d, want 1", renamed.Subscriber.ID, got)
	}
	checkNames(t, db)
	err = db.bolt.View(func(tx *bolt.Tx) error {
		k, _ := bucket(tx, bMeta).Cursor().Seek([]byte(metaNamesTouched))
		if k != nil && bytes.HasPrefix(k, []byte(metaNamesTouched)) {
			return fmt.Errorf("touched mark %q left", k)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
