package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulletin/bulletin/list"
)

func TestBackup(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	l := mustCreateList(t, db, "news")
	fill(t, db, 50, l.ID)
	dir := t.TempDir()
	path := filepath.Join(dir, "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.Backup(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if n == 0 || n > db.Size() {
		t.Errorf("Backup wrote %d bytes, store is %d", n, db.Size())
	}
	entries, _ := os.ReadDir(filepath.Dir(db.path))
	if len(entries) != 1 {
		t.Errorf("store folder holds %d files after backup, want the store alone", len(entries))
	}
	restored, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open(backup) = %v", err)
	}
	t.Cleanup(func() { checkDB(t, restored); restored.Close() })
	if c, err := restored.Counts(ctx, l.ID); err != nil || c.Confirmed+c.Unconfirmed+c.Unsubscribed != 50 {
		t.Errorf("Counts in backup = %+v, %v, want 50 subscriptions", c, err)
	}
	if _, err := restored.Record(ctx, list.Key{Identity: "user0000007@example.org"}); err != nil {
		t.Errorf("Record in backup = %v", err)
	}
}

// TestBackupCarriesNoDeletedBytes: bbolt leaves a deleted record's bytes
// in its free pages; a backup is compacted, so an erased person is not
// carried in it.
func TestBackupCarriesNoDeletedBytes(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	l := mustCreateList(t, db, "news")
	fill(t, db, 30, l.ID)
	const gone = "erased-person-7f3a@example.org"
	r := mustUpdate(t, db, list.Key{Identity: gone}, true, func(r *list.Record, e *list.Effects) error {
		r.Subscriber.Email, r.Subscriber.Name = gone, "Erased Person 7f3a"
		return nil
	})
	if err := db.DeleteSubscriber(ctx, r.Subscriber.ID); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := db.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{gone, "Erased Person 7f3a"} {
		if bytes.Contains(buf.Bytes(), []byte(s)) {
			t.Errorf("the backup still holds %q, deleted before it was taken", s)
		}
	}
	if !bytes.Contains(buf.Bytes(), []byte("user0000007@example.org")) {
		t.Error("the backup lost a live subscriber")
	}
}
