package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// sendCampaign stores a campaign in status st with n records, half of them
// last tried at old and half at young; record 1 of each half is deferred.
func sendCampaign(t *testing.T, db *DB, st list.Status, n int, old, young time.Time) list.Campaign {
	t.Helper()
	ctx := t.Context()
	started := old.Add(-time.Hour)
	c := list.Campaign{Name: string(st), Status: list.StatusRunning, StartedAt: &started}
	if err := db.CreateCampaign(ctx, &c); err != nil {
		t.Fatal(err)
	}
	var b list.SendBatch
	for i := 1; i <= n; i++ {
		at := old
		if i > n/2 {
			at = young
		}
		r := list.SendRecord{Subscriber: list.SubscriberID(i), Outcome: list.OutcomeSent, At: at,
			MessageID: fmt.Sprintf("<%d.%d@x>", c.ID, i)}
		if i == 1 || i == n/2+1 {
			next := at.Add(time.Hour)
			r.Outcome, r.NextTry = list.OutcomeDeferred, &next
		}
		b.Records = append(b.Records, r)
		b.Delta.Sent++
	}
	b.Delta.Total = n
	if _, err := db.CommitSends(ctx, c.ID, b); err != nil {
		t.Fatal(err)
	}
	c, err := db.UpdateCampaign(ctx, c.ID, func(c *list.Campaign) error { c.Status = st; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFoldSends(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	old, young := testTime.AddDate(0, -7, 0), testTime.AddDate(0, -1, 0)
	cut := testTime.AddDate(0, -6, 0)
	done := sendCampaign(t, db, list.StatusFinished, 10, old, young)
	cancelled := sendCampaign(t, db, list.StatusCancelled, 4, old, young)
	paused := sendCampaign(t, db, list.StatusPaused, 4, old, young)

	n, err := db.FoldSends(ctx, cut, 3)
	if err != nil || n != 3 {
		t.Fatalf("FoldSends(limit 3) = %d, %v, want 3", n, err)
	}
	n, err = db.FoldSends(ctx, cut, 100)
	if err != nil || n != 4 { // 5 old of done + 2 of cancelled, 3 already folded
		t.Fatalf("FoldSends(limit 100) = %d, %v, want 4", n, err)
	}
	if n, err := db.FoldSends(ctx, cut, 100); err != nil || n != 0 {
		t.Errorf("third FoldSends = %d, %v, want 0", n, err)
	}
	for _, tc := range []struct {
		c          list.Campaign
		kept, fold int
	}{{done, 5, 5}, {cancelled, 2, 2}, {paused, 4, 0}} {
		if got, err := db.FoldedSends(ctx, tc.c.ID); err != nil || got != tc.fold {
			t.Errorf("FoldedSends(%s) = %d, %v, want %d", tc.c.Name, got, err, tc.fold)
		}
		kept := 0
		for i := 1; i <= 10; i++ {
			if _, err := db.SendRecord(ctx, tc.c.ID, list.SubscriberID(i)); err == nil {
				kept++
			}
		}
		if kept != tc.kept {
			t.Errorf("%s keeps %d records, want %d", tc.c.Name, kept, tc.kept)
		}
		c, err := db.Campaign(ctx, tc.c.ID)
		if err != nil || c.Stats != tc.c.Stats {
			t.Errorf("%s stats after fold = %+v, want %+v (%v)", tc.c.Name, c.Stats, tc.c.Stats, err)
		}
	}
	if _, err := db.SendByMessageID(ctx, fmt.Sprintf("<%d.2@x>", done.ID)); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("Message-ID of a folded record = %v, want ErrNotFound", err)
	}
	if _, err := db.SendByMessageID(ctx, fmt.Sprintf("<%d.6@x>", done.ID)); err != nil {
		t.Errorf("Message-ID of a kept record = %v", err)
	}
	if n, err := db.CountDeferrals(ctx, done.ID); err != nil || n != 1 {
		t.Errorf("CountDeferrals after fold = %d, %v, want the young one", n, err)
	}
	checkFoldIndexes(t, db)

	if err := db.DeleteCampaign(ctx, done.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FoldSends(ctx, cut, 100); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.FoldedSends(ctx, done.ID); got != 0 {
		t.Errorf("FoldedSends of a deleted campaign = %d, want 0", got)
	}
}

// checkFoldIndexes verifies that every Message-ID and deferral entry points
// at an existing record.
func checkFoldIndexes(t *testing.T, db *DB) {
	t.Helper()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		sends := bucket(tx, bSends)
		err := bucket(tx, bSendMsgID).ForEach(func(k, v []byte) error {
			if sends.Get(v) == nil {
				return fmt.Errorf("message id %s points at a missing record", k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return bucket(tx, bSendDefer).ForEach(func(k, _ []byte) error {
			if sends.Get(key2(readU64(k, 0), readU64(k, 16))) == nil {
				return fmt.Errorf("deferral %x points at a missing record", k)
			}
			return nil
		})
	})
	if err != nil {
		t.Error(err)
	}
}
