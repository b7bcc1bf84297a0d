package store

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// progressLog records what a Progress is told.
type progressLog struct {
	steps []string
	last  map[string][2]int64
	back  []string // steps whose done went backwards or past total
}

func (p *progressLog) report(step string, done, total int64) {
	if p.last == nil {
		p.last = map[string][2]int64{}
	}
	if len(p.steps) == 0 || p.steps[len(p.steps)-1] != step {
		p.steps = append(p.steps, step)
	}
	if prev, ok := p.last[step]; ok && done < prev[0] || total > 0 && done > total {
		p.back = append(p.back, step)
	}
	p.last[step] = [2]int64{done, total}
}

// TestBackupProgress: a backup reports its three steps in order, each
// going forward to its whole size.
func TestBackupProgress(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	l := mustCreateList(t, db, "news")
	fill(t, db, 2000, l.ID)
	var p progressLog
	n, err := db.Backup(list.WithProgressFunc(t.Context(), p.report), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{list.StepCopy, list.StepCompact, list.StepWrite}; !slices.Equal(p.steps, want) {
		t.Errorf("Backup reported steps %q, want %q", p.steps, want)
	}
	if len(p.back) > 0 {
		t.Errorf("progress went backwards or past its total in %q", p.back)
	}
	for _, step := range []string{list.StepCopy, list.StepCompact, list.StepWrite} {
		if got := p.last[step]; got[1] <= 0 || got[0] != got[1] {
			t.Errorf("step %s ended at %d of %d, want all of a known total", step, got[0], got[1])
		}
	}
	if got := p.last[list.StepWrite]; got[0] != n {
		t.Errorf("write step ended at %d bytes, Backup wrote %d", got[0], n)
	}
	if got := p.last[list.StepCompact]; got[1] < 2000 {
		t.Errorf("compact step counted %d keys for 2,000 subscribers", got[1])
	}
}

// TestCompactFileCancelled: a compaction stopped by its context leaves the
// store as it was, without the new file, and the progress it reported
// stops short.
func TestCompactFileCancelled(t *testing.T) {
	t.Parallel()
	path, l, before := filledClosedStore(t, 3000)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var p progressLog
	stopHalfway := func(step string, done, total int64) {
		p.report(step, done, total)
		if done > 0 && done >= total/2 {
			cancel()
		}
	}
	if _, _, err := CompactFile(list.WithProgressFunc(ctx, stopHalfway), path); !errors.Is(err, context.Canceled) {
		t.Fatalf("CompactFile cancelled halfway = %v, want context.Canceled", err)
	}
	if got := p.last[list.StepCompact]; got[0] >= got[1] {
		t.Errorf("a cancelled compaction reported %d of %d keys", got[0], got[1])
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("folder holds %d files after a cancelled compaction, want the store alone", len(ents))
	}
	// The old file stays, whole: same size (a compaction's file would be
	// smaller or larger) and every subscriber in it.
	if fi, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if fi.Size() != before {
		t.Errorf("store is %d bytes after a cancelled compaction, was %d", fi.Size(), before)
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after a cancelled compaction = %v", err)
	}
	defer db.Close()
	checkDB(t, db)
	if c, err := db.Counts(t.Context(), l.ID); err != nil || c.Confirmed+c.Unconfirmed+c.Unsubscribed != 3000 {
		t.Errorf("Counts after a cancelled compaction = %+v, %v", c, err)
	}
}

// TestCompactFileCancelledWhileChecking: a stop asked while bbolt checks
// the new file, which cannot be cut short, is obeyed once the check ends:
// the new file does not replace the store.
func TestCompactFileCancelledWhileChecking(t *testing.T) {
	t.Parallel()
	path, _, before := filledClosedStore(t, 300)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	atCheck := func(step string, _, _ int64) {
		if step == list.StepCheck {
			cancel()
		}
	}
	if _, _, err := CompactFile(list.WithProgressFunc(ctx, atCheck), path); !errors.Is(err, context.Canceled) {
		t.Fatalf("CompactFile cancelled while checking = %v, want context.Canceled", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != before {
		t.Errorf("the store changed size under a compaction stopped while checking: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("folder holds %d files, want the store alone", len(ents))
	}
}

// filledClosedStore makes a closed store of n subscribers on one list and
// returns its path, the list and the file's size.
func filledClosedStore(t *testing.T, n int) (string, list.List, int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bulletin.db")
	db, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	l := mustCreateList(t, db, "news")
	fill(t, db, n, l.ID)
	db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, l, fi.Size()
}
