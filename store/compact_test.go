package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

func TestCompactFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bulletin.db")
	db, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	l := mustCreateList(t, db, "news")
	fill(t, db, 3000, l.ID)
	keep := mustCreateList(t, db, "keep")
	fill(t, db, 10, keep.ID)
	if err := db.DeleteList(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := CompactFile(ctx, path); !errors.Is(err, list.ErrStoreInUse) {
		t.Errorf("CompactFile of an open store = %v, want ErrStoreInUse", err)
	}
	db.Close()

	before, after, err := CompactFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if after <= 0 || after >= before {
		t.Errorf("CompactFile sizes = %d → %d, want it smaller", before, after)
	}
	if fi, _ := os.Stat(path); fi.Size() != after {
		t.Errorf("file is %d bytes, CompactFile said %d", fi.Size(), after)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("folder holds %d files after compact, want the store alone", len(ents))
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after compact = %v", err)
	}
	defer db.Close()
	checkDB(t, db)
	if c, err := db.Counts(ctx, keep.ID); err != nil || c.Confirmed+c.Unconfirmed+c.Unsubscribed != 10 {
		t.Errorf("Counts after compact = %+v, %v", c, err)
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	db, err := Open(good, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if info, err := Inspect(good); err != nil || info.Schema != schemaVersion {
		t.Errorf("Inspect(store) = %+v, %v", info, err)
	}

	other := filepath.Join(dir, "other.db")
	b, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err })
	b.Close()
	text := filepath.Join(dir, "text.db")
	os.WriteFile(text, []byte("hello, not a database at all"), 0o600)
	for _, p := range []string{other, text, filepath.Join(dir, "missing.db")} {
		if _, err := Inspect(p); err == nil {
			t.Errorf("Inspect(%s) = nil, want an error", filepath.Base(p))
		}
	}

	newer := filepath.Join(dir, "newer.db")
	writeSchema(t, newer, schemaVersion+1)
	if _, err := Inspect(newer); !errors.Is(err, list.ErrSchemaTooNew) {
		t.Errorf("Inspect(newer schema) = %v, want ErrSchemaTooNew", err)
	}
}

// writeSchema makes a store whose schema version is v.
func writeSchema(t *testing.T, path string, v uint64) {
	t.Helper()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		return bucket(tx, bMeta).Put([]byte(metaSchema), u64(v))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
}
