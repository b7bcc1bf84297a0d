package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

func TestCampaignsCRUD(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	var ids []list.CampaignID
	for _, name := range []string{"one", "two", "three"} {
		c := list.Campaign{Name: name, Status: list.StatusDraft}
		if err := db.CreateCampaign(ctx, &c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	page, err := db.Campaigns(ctx, ids[0], 10)
	if err != nil || len(page) != 2 || page[0].ID != ids[1] {
		t.Errorf("Campaigns(after %d) = %+v, %v", ids[0], page, err)
	}
	c, err := db.UpdateCampaign(ctx, ids[1], func(c *list.Campaign) error {
		c.Subject = "Hello"
		c.ID = 1000 // ignored
		return nil
	})
	if err != nil || c.Subject != "Hello" || c.ID != ids[1] {
		t.Errorf("UpdateCampaign = %+v, %v", c, err)
	}
	if _, err := db.UpdateCampaign(ctx, ids[1], func(*list.Campaign) error { return errTest }); err != errTest {
		t.Errorf("UpdateCampaign(fn error) = %v, want it unchanged", err)
	}
	if err := db.DeleteCampaign(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Campaign(ctx, ids[1]); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("Campaign after delete = %v, want ErrNotFound", err)
	}
	if err := db.DeleteCampaign(ctx, ids[1]); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("second DeleteCampaign = %v, want ErrNotFound", err)
	}
}

func TestCommitSends(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	c := list.Campaign{Name: "c", Status: list.StatusRunning}
	if err := db.CreateCampaign(ctx, &c); err != nil {
		t.Fatal(err)
	}
	soon, later := testTime.Add(time.Minute), testTime.Add(time.Hour)
	got, err := db.CommitSends(ctx, c.ID, list.SendBatch{
		Records: []list.SendRecord{
			{Subscriber: 1, Outcome: list.OutcomeSent, MessageID: "<1@x>", At: testTime},
			{Subscriber: 2, Outcome: list.OutcomeDeferred, MessageID: "<2@x>", NextTry: &later},
			{Subscriber: 3, Outcome: list.OutcomeDeferred, NextTry: &soon},
		},
		Cursor: 3,
		Delta:  list.Stats{Sent: 1, Deferred: 2},
	})
	if err != nil || got.Cursor != 3 || got.Stats.Sent != 1 || got.Stats.Deferred != 2 {
		t.Fatalf("CommitSends = %+v, %v", got, err)
	}
	if r, err := db.SendByMessageID(ctx, "<1@x>"); err != nil || r.Subscriber != 1 || r.Campaign != c.ID {
		t.Errorf("SendByMessageID = %+v, %v", r, err)
	}
	wantDeferrals(t, db, c.ID, 2)
	due, err := db.DueDeferrals(ctx, c.ID, soon, 10)
	if err != nil || len(due) != 1 || due[0].Subscriber != 3 {
		t.Errorf("DueDeferrals(soon) = %+v, %v, want subscriber 3", due, err)
	}
	if due, _ := db.DueDeferrals(ctx, c.ID, later, 10); len(due) != 2 || due[0].Subscriber != 3 {
		t.Errorf("DueDeferrals(later) = %+v, want 3 then 2", due)
	}

	// The retry of 2 goes out with a new Message-ID; the cursor never goes back.
	got, err = db.CommitSends(ctx, c.ID, list.SendBatch{
		Records: []list.SendRecord{{Subscriber: 2, Outcome: list.OutcomeSent, MessageID: "<2b@x>", Attempts: 2}},
		Cursor:  2,
		Delta:   list.Stats{Sent: 1, Deferred: -1},
	})
	if err != nil || got.Cursor != 3 || got.Stats.Sent != 2 || got.Stats.Deferred != 1 {
		t.Fatalf("second CommitSends = %+v, %v", got, err)
	}
	wantDeferrals(t, db, c.ID, 1)
	if _, err := db.SendByMessageID(ctx, "<2@x>"); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("SendByMessageID(old) = %v, want ErrNotFound", err)
	}
	if r, err := db.SendRecord(ctx, c.ID, 2); err != nil || r.Outcome != list.OutcomeSent || r.Attempts != 2 {
		t.Errorf("SendRecord(2) = %+v, %v", r, err)
	}
	if _, err := db.SendRecord(ctx, c.ID, 9); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("SendRecord(9) = %v, want ErrNotFound", err)
	}
	if _, err := db.CommitSends(ctx, 99, list.SendBatch{}); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("CommitSends(99) = %v, want ErrNotFound", err)
	}

	if err := db.DeleteCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	wantDeferrals(t, db, c.ID, 0)
	if _, err := db.SendByMessageID(ctx, "<2b@x>"); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("SendByMessageID after delete = %v, want ErrNotFound", err)
	}
}

func wantDeferrals(t *testing.T, db *DB, id list.CampaignID, want int) {
	t.Helper()
	if n, err := db.CountDeferrals(t.Context(), id); err != nil || n != want {
		t.Errorf("CountDeferrals = %d, %v, want %d", n, err, want)
	}
}

func TestLastSend(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	var ids []list.CampaignID
	for range 4 {
		c := list.Campaign{Name: "c", Status: list.StatusRunning}
		if err := db.CreateCampaign(ctx, &c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	// The first campaign's range is followed by another's, the third one's
	// ends the bucket, the second and fourth have no record.
	sends := map[list.CampaignID][]list.SubscriberID{ids[0]: {3, 70, 9}, ids[2]: {5, 1 << 40}}
	for id, subs := range sends {
		var b list.SendBatch
		for _, s := range subs {
			b.Records = append(b.Records, list.SendRecord{Subscriber: s, Outcome: list.OutcomeSent, At: testTime})
		}
		if _, err := db.CommitSends(ctx, id, b); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[list.CampaignID]list.SubscriberID{ids[0]: 70, ids[1]: 0, ids[2]: 1 << 40, ids[3]: 0, 99: 0} {
		if got, err := db.LastSend(ctx, id); err != nil || got != want {
			t.Errorf("LastSend(%d) = %d, %v; want %d", id, got, err, want)
		}
	}
}

// TestCampaignContentApart checks that a campaign's body and text, kept
// apart from its record, come back whole through every read, survive the
// runner's commit groups and go with the campaign.
func TestCampaignContentApart(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := t.Context()
	c := list.Campaign{Name: "c", Body: "<p>Hello {{.Name}}</p>", Text: "Hello", Status: list.StatusRunning}
	if err := db.CreateCampaign(ctx, &c); err != nil {
		t.Fatal(err)
	}
	check := func(when, body, text string) {
		t.Helper()
		got, err := db.Campaign(ctx, c.ID)
		if err != nil || got.Body != body || got.Text != text {
			t.Errorf("%s: Campaign = body %q text %q, %v; want %q, %q", when, got.Body, got.Text, err, body, text)
		}
		page, err := db.Campaigns(ctx, 0, 10)
		if err != nil || len(page) != 1 || page[0].Body != body || page[0].Text != text {
			t.Errorf("%s: Campaigns = %+v, %v", when, page, err)
		}
	}
	check("created", c.Body, c.Text)
	if _, err := db.CommitSends(ctx, c.ID, list.SendBatch{Records: []list.SendRecord{{Subscriber: 1, Outcome: list.OutcomeSent, At: testTime}},
		Cursor: 1, Delta: list.Stats{Sent: 1}}); err != nil {
		t.Fatal(err)
	}
	check("after a commit group", c.Body, c.Text)
	if _, err := db.UpdateCampaign(ctx, c.ID, func(c *list.Campaign) error { c.Status = list.StatusPaused; return nil }); err != nil {
		t.Fatal(err)
	}
	check("after a status change", c.Body, c.Text)
	got, err := db.UpdateCampaign(ctx, c.ID, func(c *list.Campaign) error { c.Body, c.Text = "<p>Bye</p>", ""; return nil })
	if err != nil || got.Body != "<p>Bye</p>" || got.Stats.Sent != 1 || got.Cursor != 1 {
		t.Fatalf("UpdateCampaign = %+v, %v", got, err)
	}
	check("after an edit", "<p>Bye</p>", "")
	err = db.bolt.View(func(tx *bolt.Tx) error {
		var rec list.Campaign
		if _, err := getJSON(bucket(tx, bCampaigns), u64(uint64(c.ID)), &rec); err != nil || rec.Body != "" {
			t.Errorf("the record holds the body %q (%v): every commit group would rewrite it", rec.Body, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if v := bucket(tx, bCampaignBody).Get(u64(uint64(c.ID))); v != nil {
			t.Errorf("the body of a deleted campaign is left: %s", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateV2MovesContent opens a schema-1 store whose campaign record
// holds its body, as every store did before version 2.
func TestMigrateV2MovesContent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bulletin.db")
	db, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	old := list.Campaign{ID: 7, Name: "old", Body: "<p>old body</p>", Text: "old text", Status: list.StatusFinished, Stats: list.Stats{Sent: 3}}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte(bCampaignBody)); err != nil {
			return err
		}
		if err := putJSON(bucket(tx, bCampaigns), u64(7), &old); err != nil {
			return err
		}
		return bucket(tx, bMeta).Put([]byte(metaSchema), u64(1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatalf("Open of a schema-1 store = %v", err)
	}
	defer db.Close()
	got, err := db.Campaign(t.Context(), 7)
	if err != nil || got.Body != old.Body || got.Text != old.Text || got.Stats.Sent != 3 {
		t.Errorf("Campaign after migration = %+v, %v", got, err)
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		var rec list.Campaign
		if _, err := getJSON(bucket(tx, bCampaigns), u64(7), &rec); err != nil || rec.Body != "" || rec.Text != "" {
			t.Errorf("migrated record still holds body %q text %q (%v)", rec.Body, rec.Text, err)
		}
		if v := readSchema(tx); v != schemaVersion {
			t.Errorf("schema %d after Open, want %d", v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkDB(t, db)
}
