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

// insertMail gives m an id and stores it with its due and subscriber
// index entries.
func insertMail(tx *bolt.Tx, m *list.QueuedMail, now time.Time) error {
	id, err := next(bucket(tx, bMails))
	if err != nil {
		return err
	}
	m.ID = list.MailID(id)
	if m.Created.IsZero() {
		m.Created = now
	}
	return writeMail(tx, m)
}

func writeMail(tx *bolt.Tx, m *list.QueuedMail) error {
	id := uint64(m.ID)
	if err := putJSON(bucket(tx, bMails), u64(id), m); err != nil {
		return err
	}
	if err := bucket(tx, bMailDue).Put(key2(timeKey(m.Due), id), nil); err != nil {
		return err
	}
	return bucket(tx, bSubMails).Put(key2(uint64(m.Subscriber), id), nil)
}

// removeMail deletes a mail and its index entries; false if absent.
func removeMail(tx *bolt.Tx, id list.MailID) (bool, error) {
	var m list.QueuedMail
	ok, err := getJSON(bucket(tx, bMails), u64(uint64(id)), &m)
	if !ok || err != nil {
		return ok, err
	}
	if err := bucket(tx, bMailDue).Delete(key2(timeKey(m.Due), uint64(id))); err != nil {
		return true, err
	}
	if err := bucket(tx, bSubMails).Delete(key2(uint64(m.Subscriber), uint64(id))); err != nil {
		return true, err
	}
	return true, bucket(tx, bMails).Delete(u64(uint64(id)))
}

// DueMails returns queued system mails due at now, oldest due first.
func (db *DB) DueMails(ctx context.Context, now time.Time, limit int) ([]list.QueuedMail, error) {
	limit = limitOr(limit)
	out := []list.QueuedMail{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		end := u64(timeKey(now))
		mails := bucket(tx, bMails)
		c := bucket(tx, bMailDue).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) <= 0 && len(out) < limit; k, _ = c.Next() {
			var m list.QueuedMail
			if err := mustGet(mails, k[8:16], &m, "mail", readU64(k, 8)); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: due mails: %w", err)
	}
	return out, nil
}

// PutMail stores a queued mail: a new one (ID 0) gets an id, an existing one
// is replaced, typically rescheduled. ErrNotFound if its id is gone.
func (db *DB) PutMail(ctx context.Context, m list.QueuedMail) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if m.ID == 0 {
			return insertMail(tx, &m, db.now())
		}
		ok, err := removeMail(tx, m.ID)
		if err == nil && !ok {
			err = list.ErrNotFound
		}
		if err != nil {
			return err
		}
		return writeMail(tx, &m)
	})
	if err != nil {
		return fmt.Errorf("store: put mail %d: %w", m.ID, err)
	}
	return nil
}

// DeleteMail removes a queued mail after it was sent or given up;
// ErrNotFound if it is gone already.
func (db *DB) DeleteMail(ctx context.Context, id list.MailID) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		ok, err := removeMail(tx, id)
		if err == nil && !ok {
			err = list.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete mail %d: %w", id, err)
	}
	return nil
}

// deleteMailsOf deletes every queued mail of a subscriber.
func deleteMailsOf(tx *bolt.Tx, id list.SubscriberID) error {
	prefix := u64(uint64(id))
	for _, k := range prefixKeys(bucket(tx, bSubMails), prefix, prefix, math.MaxInt) {
		if _, err := removeMail(tx, list.MailID(readU64(k, 8))); err != nil {
			return err
		}
	}
	return nil
}
