package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// bFolded maps a campaign id to how many of its send records were folded
// (8-byte big-endian count). The first fold creates it: a store that never
// folded has no such bucket, and older code ignores it.
const bFolded = "send_folded"

// FoldSends deletes up to limit per-recipient send records whose last
// attempt is older than before, with their Message-ID and deferral index
// entries, in one transaction. Only finished and cancelled campaigns are
// folded: a running or paused one still needs its records. The campaign's
// stats already hold the counts and stay; the number folded per campaign is
// kept (see FoldedSends). It returns how many records it deleted; fewer than
// limit means nothing is left to fold now.
func (db *DB) FoldSends(ctx context.Context, before time.Time, limit int) (int, error) {
	limit = limitOr(limit)
	n := 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		folded, err := tx.CreateBucketIfNotExists([]byte(bFolded))
		if err != nil {
			return err
		}
		c := bucket(tx, bCampaigns).Cursor()
		for k, v := c.First(); k != nil && n < limit; k, v = c.Next() {
			var cp list.Campaign
			if err := decode(k, v, &cp); err != nil {
				return err
			}
			if !foldable(&cp, before) {
				continue
			}
			m, err := foldCampaign(tx, cp.ID, before, limit-n)
			if err != nil {
				return err
			}
			if m > 0 {
				if err := folded.Put(clone(k), u64(readCount(folded, k)+uint64(m))); err != nil {
					return err
				}
			}
			n += m
		}
		return dropOrphanFolds(tx, folded)
	})
	if err != nil {
		return 0, fmt.Errorf("store: fold sends: %w", err)
	}
	return n, nil
}

// FoldedSends returns how many send records of a campaign were folded.
func (db *DB) FoldedSends(ctx context.Context, id list.CampaignID) (int, error) {
	var n uint64
	err := db.view(ctx, func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(bFolded)); b != nil {
			n = readCount(b, u64(uint64(id)))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: folded sends of campaign %d: %w", id, err)
	}
	return int(n), nil
}

// foldable reports whether a campaign is over and may hold records older
// than before (none can predate its start).
func foldable(c *list.Campaign, before time.Time) bool {
	if c.Status != list.StatusFinished && c.Status != list.StatusCancelled {
		return false
	}
	start := c.CreatedAt
	if c.StartedAt != nil {
		start = *c.StartedAt
	}
	return start.Before(before)
}

// foldCampaign deletes up to max of the campaign's records last tried
// before the cut-off, and their index entries.
func foldCampaign(tx *bolt.Tx, id list.CampaignID, before time.Time, max int) (int, error) {
	sends := bucket(tx, bSends)
	prefix := u64(uint64(id))
	var old []list.SendRecord
	c := sends.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(old) < max; k, v = c.Next() {
		var r list.SendRecord
		if err := decode(k, v, &r); err != nil {
			return 0, err
		}
		if r.At.Before(before) {
			old = append(old, r)
		}
	}
	for i := range old {
		r := &old[i]
		if r.Outcome == list.OutcomeDeferred {
			if err := bucket(tx, bSendDefer).Delete(deferKey(r)); err != nil {
				return 0, err
			}
		}
		if r.MessageID != "" {
			if err := deleteMsgID(tx, r); err != nil {
				return 0, err
			}
		}
		if err := sends.Delete(key2(uint64(id), uint64(r.Subscriber))); err != nil {
			return 0, err
		}
	}
	return len(old), nil
}

// dropOrphanFolds forgets the counts of deleted campaigns.
func dropOrphanFolds(tx *bolt.Tx, folded *bolt.Bucket) error {
	camps := bucket(tx, bCampaigns)
	var gone [][]byte
	err := folded.ForEach(func(k, _ []byte) error {
		if camps.Get(k) == nil {
			gone = append(gone, clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range gone {
		if err := folded.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func readCount(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return readU64(v, 0)
}
