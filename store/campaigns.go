package store

import (
	"bytes"
	"context"
	"fmt"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// CreateCampaign stores c and sets its ID.
func (db *DB) CreateCampaign(ctx context.Context, c *list.Campaign) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bCampaigns)
		id, err := next(b)
		if err != nil {
			return err
		}
		n := *c
		n.ID = list.CampaignID(id)
		if n.CreatedAt.IsZero() {
			n.CreatedAt = db.now()
		}
		if n.UpdatedAt.IsZero() {
			n.UpdatedAt = n.CreatedAt
		}
		if err := putCampaign(tx, &n, true); err != nil {
			return err
		}
		*c = n
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: create campaign: %w", err)
	}
	return nil
}

// Campaign returns the campaign with the given id.
func (db *DB) Campaign(ctx context.Context, id list.CampaignID) (list.Campaign, error) {
	var c list.Campaign
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return getCampaign(tx, id, &c)
	})
	if err != nil {
		return list.Campaign{}, fmt.Errorf("store: campaign %d: %w", id, err)
	}
	return c, nil
}

// Campaigns returns campaigns after the given id, oldest first.
func (db *DB) Campaigns(ctx context.Context, after list.CampaignID, limit int) ([]list.Campaign, error) {
	limit = limitOr(limit)
	out := []list.Campaign{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := bucket(tx, bCampaigns).Cursor()
		for k, v := seekPast(c, u64(uint64(after))); k != nil && len(out) < limit; k, v = c.Next() {
			var cp list.Campaign
			if err := decode(k, v, &cp); err != nil {
				return err
			}
			if err := getContent(tx, k, &cp); err != nil {
				return err
			}
			out = append(out, cp)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	return out, nil
}

// UpdateCampaign runs fn on the campaign in one transaction; the id cannot
// change. An error from fn is returned as is.
func (db *DB) UpdateCampaign(ctx context.Context, id list.CampaignID, fn func(*list.Campaign) error) (list.Campaign, error) {
	var c list.Campaign
	var fnErr error
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := getCampaign(tx, id, &c); err != nil {
			return err
		}
		updated, body, text := c.UpdatedAt, c.Body, c.Text
		if fnErr = fn(&c); fnErr != nil {
			return fnErr
		}
		c.ID = id
		if c.UpdatedAt.Equal(updated) {
			c.UpdatedAt = db.now()
		}
		return putCampaign(tx, &c, c.Body != body || c.Text != text)
	})
	if fnErr != nil {
		return list.Campaign{}, fnErr
	}
	if err != nil {
		return list.Campaign{}, fmt.Errorf("store: update campaign %d: %w", id, err)
	}
	return c, nil
}

// DeleteCampaign deletes a campaign with its send records and their
// Message-ID and deferral index entries, in one transaction.
func (db *DB) DeleteCampaign(ctx context.Context, id list.CampaignID) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bCampaigns)
		if b.Get(u64(uint64(id))) == nil {
			return fmt.Errorf("%w: campaign %d", list.ErrNotFound, id)
		}
		prefix := u64(uint64(id))
		if err := deleteSendsOf(tx, prefix); err != nil {
			return err
		}
		if _, err := deletePrefix(bucket(tx, bSendDefer), prefix); err != nil {
			return err
		}
		if err := bucket(tx, bCampaignBody).Delete(prefix); err != nil {
			return err
		}
		return b.Delete(prefix)
	})
	if err != nil {
		return fmt.Errorf("store: delete campaign %d: %w", id, err)
	}
	return nil
}

// CommitSends writes a commit group in one transaction: each record with its
// Message-ID and deferral index entries (a record no longer deferred leaves
// the deferral index), the cursor (moved forward only) and the stats delta.
// It returns the campaign without its body and text, which it never reads.
func (db *DB) CommitSends(ctx context.Context, id list.CampaignID, batch list.SendBatch) (list.Campaign, error) {
	var c list.Campaign
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bCampaigns)
		if err := mustGet(b, u64(uint64(id)), &c, "campaign", uint64(id)); err != nil {
			return err
		}
		for i := range batch.Records {
			if err := putSend(tx, id, &batch.Records[i]); err != nil {
				return err
			}
		}
		if batch.Cursor > c.Cursor {
			c.Cursor = batch.Cursor
		}
		addStats(&c.Stats, &batch.Delta)
		return putCampaign(tx, &c, false)
	})
	if err != nil {
		return list.Campaign{}, fmt.Errorf("store: commit sends of campaign %d: %w", id, err)
	}
	return c, nil
}

// campaignContent is what the campaign_body bucket keeps of a campaign.
type campaignContent struct {
	Body string `json:"body"`
	Text string `json:"text"`
}

// getCampaign reads a whole campaign: its record and its content.
func getCampaign(tx *bolt.Tx, id list.CampaignID, c *list.Campaign) error {
	k := u64(uint64(id))
	if err := mustGet(bucket(tx, bCampaigns), k, c, "campaign", uint64(id)); err != nil {
		return err
	}
	return getContent(tx, k, c)
}

// getContent fills in the body and text of campaign c stored under k.
func getContent(tx *bolt.Tx, k []byte, c *list.Campaign) error {
	var cc campaignContent
	ok, err := getJSON(bucket(tx, bCampaignBody), k, &cc)
	if ok {
		c.Body, c.Text = cc.Body, cc.Text
	}
	return err
}

// putCampaign writes the campaign's record without its body and text, and
// with content also writes those apart.
func putCampaign(tx *bolt.Tx, c *list.Campaign, content bool) error {
	k := u64(uint64(c.ID))
	if content {
		if err := putJSON(bucket(tx, bCampaignBody), k, campaignContent{Body: c.Body, Text: c.Text}); err != nil {
			return err
		}
	}
	rec := *c
	rec.Body, rec.Text = "", ""
	return putJSON(bucket(tx, bCampaigns), k, &rec)
}

// migrateV2 moves each campaign's body and text out of its record into
// campaign_body: the runner rewrites the record with every commit group,
// and a 20 KB body made that a 20 KB write each time.
func migrateV2(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists([]byte(bCampaignBody)); err != nil {
		return err
	}
	// Read first, then rewrite: bbolt forbids writing a bucket during its
	// ForEach, and campaigns are few.
	var camps []list.Campaign
	err := bucket(tx, bCampaigns).ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return nil
		}
		var c list.Campaign
		if err := decode(k, v, &c); err != nil {
			return err
		}
		c.ID = list.CampaignID(readU64(k, 0))
		camps = append(camps, c)
		return nil
	})
	if err != nil {
		return err
	}
	for i := range camps {
		if err := putCampaign(tx, &camps[i], true); err != nil {
			return err
		}
	}
	return nil
}

func addStats(s, d *list.Stats) {
	s.Total += d.Total
	s.Sent += d.Sent
	s.Failed += d.Failed
	s.Deferred += d.Deferred
	s.Bounced += d.Bounced
	s.Complained += d.Complained
	s.Unsubscribed += d.Unsubscribed
	s.Remaining += d.Remaining
	s.Skipped += d.Skipped
	s.Opens += d.Opens
	s.Clicks += d.Clicks
}

// putSend replaces a send record, moving its index entries.
func putSend(tx *bolt.Tx, id list.CampaignID, r *list.SendRecord) error {
	if r.Campaign == 0 {
		r.Campaign = id
	}
	if r.Campaign != id || r.Subscriber == 0 {
		return fmt.Errorf("%w: send record of campaign %d subscriber %d", list.ErrInvalid, r.Campaign, r.Subscriber)
	}
	sends := bucket(tx, bSends)
	k := key2(uint64(id), uint64(r.Subscriber))
	var old list.SendRecord
	had, err := getJSON(sends, k, &old)
	if err != nil {
		return err
	}
	if had {
		if err := unindexSend(tx, &old, r.MessageID); err != nil {
			return err
		}
	}
	if err := indexSend(tx, r); err != nil {
		return err
	}
	data, err := appendSendRecord(nil, r)
	if err != nil {
		return err
	}
	return sends.Put(k, data)
}

// deferKey is the deferral index key of a deferred record.
func deferKey(r *list.SendRecord) []byte {
	var next uint64
	if r.NextTry != nil {
		next = timeKey(*r.NextTry)
	}
	return key3(uint64(r.Campaign), next, uint64(r.Subscriber))
}

func indexSend(tx *bolt.Tx, r *list.SendRecord) error {
	if r.MessageID != "" {
		if err := bucket(tx, bSendMsgID).Put([]byte(r.MessageID), key2(uint64(r.Campaign), uint64(r.Subscriber))); err != nil {
			return err
		}
	}
	if r.Outcome != list.OutcomeDeferred {
		return nil
	}
	return bucket(tx, bSendDefer).Put(deferKey(r), nil)
}

// unindexSend removes the old record's deferral entry, and its Message-ID
// entry when the new record carries another Message-ID: a retry's new
// message replaces the one the relay never took.
func unindexSend(tx *bolt.Tx, old *list.SendRecord, newMessageID string) error {
	if old.Outcome == list.OutcomeDeferred {
		if err := bucket(tx, bSendDefer).Delete(deferKey(old)); err != nil {
			return err
		}
	}
	if old.MessageID == "" || old.MessageID == newMessageID {
		return nil
	}
	return deleteMsgID(tx, old)
}

// deleteMsgID removes r's Message-ID entry if it still points at r.
func deleteMsgID(tx *bolt.Tx, r *list.SendRecord) error {
	b := bucket(tx, bSendMsgID)
	if !bytes.Equal(b.Get([]byte(r.MessageID)), key2(uint64(r.Campaign), uint64(r.Subscriber))) {
		return nil
	}
	return b.Delete([]byte(r.MessageID))
}
