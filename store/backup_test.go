package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// backupTemps lists the backup temporary files in dir.
func backupTemps(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), backupTempPrefix) {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestBackupCancelledStopsPromptly: a backup cancelled while it compacts
// (a server's shutdown) stops within a few keys instead of compacting the
// whole store first, and leaves no temporary copy behind.
func TestBackupCancelledStopsPromptly(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	l := mustCreateList(t, db, "news")
	fill(t, db, 5000, l.ID)
	dir := filepath.Dir(db.path)

	start := time.Now()
	if _, err := db.Backup(t.Context(), io.Discard); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)

	ctx, cancel := context.WithCancel(t.Context())
	var cancelled atomic.Int64 // UnixNano of the cancel
	go func() {
		// Cancel as soon as the compacted copy appears: mid-compaction.
		for ctx.Err() == nil {
			for _, n := range backupTemps(t, dir) {
				if strings.HasSuffix(n, compactSuffix) {
					cancelled.Store(time.Now().UnixNano())
					cancel()
					return
				}
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	var got bytes.Buffer
	_, err := db.Backup(ctx, &got)
	returned := time.Now()
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Backup cancelled mid-compaction = %v, want context.Canceled", err)
	}
	if at := cancelled.Load(); at != 0 {
		if late := returned.Sub(time.Unix(0, at)); late > full/3 {
			t.Errorf("Backup returned %v after its cancel; a whole backup takes %v", late, full)
		}
	}
	if got.Len() != 0 {
		t.Errorf("a cancelled backup wrote %d bytes", got.Len())
	}
	if left := backupTemps(t, dir); len(left) > 0 {
		t.Errorf("a cancelled backup left %q", left)
	}
}

// TestBackupCancelled: a backup whose context ends at any step returns
// the context's error and removes its temporary files.
func TestBackupCancelled(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	l := mustCreateList(t, db, "news")
	fill(t, db, 300, l.ID)
	dir := filepath.Dir(db.path)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if _, err := db.Backup(ctx, io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("Backup(cancelled ctx) = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Backup(cancelled ctx) took %v", d)
	}
	// Cancelled by the writer while streaming: the compacted copy is
	// open and must still go.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	if _, err := db.Backup(ctx, cancelWriter{cancel}); !errors.Is(err, context.Canceled) {
		t.Errorf("Backup cancelled while streaming = %v, want context.Canceled", err)
	}
	if left := backupTemps(t, dir); len(left) > 0 {
		t.Errorf("a cancelled backup left %q", left)
	}
}

// cancelWriter cancels its context at the first write, which it takes.
type cancelWriter struct{ cancel context.CancelFunc }

func (w cancelWriter) Write(p []byte) (int, error) { w.cancel(); return len(p), nil }

// TestOpenRemovesStaleBackupTemps: the temporary files of a backup cut
// off by a crash (SIGKILL gives no chance to remove them) are removed by
// the next Open for writing, and only they: a read-only Open, which may
// run beside a server's backup, leaves them.
func TestOpenRemovesStaleBackupTemps(t *testing.T) {
	t.Parallel()
	path, _ := closedStore(t)
	dir := filepath.Dir(path)
	stale := []string{".bulletin-backup-123456789", ".bulletin-backup-123456789.compact", ".bulletin-backup-42"}
	kept := []string{".bulletin-backup-notes", ".bulletin-backup-", "bulletin-backup-1", ".bulletin-backup-12.db", "backup.db", ".bulletin.db.compact.keep"}
	for _, n := range append(stale, kept...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("copy"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ro.Close()
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("read-only Open removed %s: %v", n, err)
		}
	}
	var logs bytes.Buffer
	db, err := Open(path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open left the stale %s: %v", n, err)
		}
		if !strings.Contains(logs.String(), n) {
			t.Errorf("Open did not log the removal of %s: %s", n, logs.String())
		}
	}
	for _, n := range kept {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("Open removed %s, not a backup temp file: %v", n, err)
		}
	}
}
