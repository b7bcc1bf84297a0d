package store

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// deleteSendsOf deletes a campaign's send records and their Message-ID
// entries.
func deleteSendsOf(tx *bolt.Tx, prefix []byte) error {
	sends := bucket(tx, bSends)
	for _, k := range prefixKeys(sends, prefix, prefix, math.MaxInt) {
		var r list.SendRecord
		if _, err := getJSON(sends, k, &r); err != nil {
			return err
		}
		if r.MessageID != "" {
			if err := deleteMsgID(tx, &r); err != nil {
				return err
			}
		}
		if err := sends.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// SendRecord returns the record of one recipient, or ErrNotFound.
func (db *DB) SendRecord(ctx context.Context, id list.CampaignID, sub list.SubscriberID) (list.SendRecord, error) {
	var r list.SendRecord
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return mustGet(bucket(tx, bSends), key2(uint64(id), uint64(sub)), &r, "send record of subscriber", uint64(sub))
	})
	if err != nil {
		return list.SendRecord{}, fmt.Errorf("store: send record of campaign %d: %w", id, err)
	}
	return r, nil
}

// LastSend returns the highest subscriber id with a send record of the
// campaign, or 0 when it has none: a key-only look at the end of its range.
func (db *DB) LastSend(ctx context.Context, id list.CampaignID) (list.SubscriberID, error) {
	var last list.SubscriberID
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := bucket(tx, bSends).Cursor()
		// The first key past the campaign's range, then one back.
		k, _ := c.Seek(key2(uint64(id), math.MaxUint64))
		switch {
		case k == nil:
			k, _ = c.Last()
		case readU64(k, 0) != uint64(id):
			k, _ = c.Prev()
		}
		if k != nil && readU64(k, 0) == uint64(id) {
			last = list.SubscriberID(readU64(k, 8))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: last send of campaign %d: %w", id, err)
	}
	return last, nil
}

// SendByMessageID finds the record of a message Bulletin sent.
func (db *DB) SendByMessageID(ctx context.Context, messageID string) (list.SendRecord, error) {
	var r list.SendRecord
	err := db.view(ctx, func(tx *bolt.Tx) error {
		if messageID == "" {
			return list.ErrNotFound
		}
		k := bucket(tx, bSendMsgID).Get([]byte(messageID))
		if k == nil {
			return list.ErrNotFound
		}
		return mustGet(bucket(tx, bSends), k, &r, "send record of subscriber", readU64(k, 8))
	})
	if err != nil {
		return list.SendRecord{}, fmt.Errorf("store: send by message id: %w", err)
	}
	return r, nil
}

// DueDeferrals returns deferred records of a campaign whose next try is at
// or before now, earliest first, from the deferral index.
func (db *DB) DueDeferrals(ctx context.Context, id list.CampaignID, now time.Time, limit int) ([]list.SendRecord, error) {
	limit = limitOr(limit)
	out := []list.SendRecord{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		prefix := u64(uint64(id))
		end := u64(timeKey(now))
		sends := bucket(tx, bSends)
		c := bucket(tx, bSendDefer).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k[8:16], end) <= 0 && len(out) < limit; k, _ = c.Next() {
			var r list.SendRecord
			if err := mustGet(sends, key2(uint64(id), readU64(k, 16)), &r, "send record of subscriber", readU64(k, 16)); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: due deferrals of campaign %d: %w", id, err)
	}
	return out, nil
}

// CountDeferrals counts a campaign's deferred records: a key-only walk of
// the campaign's range of the deferral index.
func (db *DB) CountDeferrals(ctx context.Context, id list.CampaignID) (int, error) {
	n := 0
	err := db.view(ctx, func(tx *bolt.Tx) error {
		prefix := u64(uint64(id))
		c := bucket(tx, bSendDefer).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: count deferrals of campaign %d: %w", id, err)
	}
	return n, nil
}
