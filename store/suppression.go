package store

import (
	"context"
	"fmt"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// loadSuppression reads the entry under hash, or nil.
func loadSuppression(tx *bolt.Tx, hash []byte) (*list.Suppression, error) {
	var s list.Suppression
	ok, err := getJSON(bucket(tx, bSuppression), hash, &s)
	if !ok || err != nil {
		return nil, err
	}
	s.Hash = clone(hash)
	return &s, nil
}

// suppressionAtKey is the suppression_at key of an entry: its time, then
// its hash, so that the index lists entries oldest first.
func suppressionAtKey(at time.Time, hash []byte) []byte {
	return append(u64(timeKey(at)), hash...)
}

// putSuppression stores s under its hash, stamping a zero time. It is the
// one writer of suppression entries: it moves the entry's suppression_at
// key and keeps the count, in the caller's transaction.
func putSuppression(tx *bolt.Tx, s *list.Suppression, now time.Time) error {
	if len(s.Hash) == 0 {
		return fmt.Errorf("%w: suppression without a hash", list.ErrInvalid)
	}
	if s.At.IsZero() {
		s.At = now
	}
	old, err := loadSuppression(tx, s.Hash)
	if err != nil {
		return err
	}
	idx := bucket(tx, bSuppressionAt)
	if old != nil {
		if err := idx.Delete(suppressionAtKey(old.At, s.Hash)); err != nil {
			return err
		}
	} else if err := addMetaCount(tx, metaSuppressions, 1); err != nil {
		return err
	}
	if err := idx.Put(suppressionAtKey(s.At, s.Hash), nil); err != nil {
		return err
	}
	return putJSON(bucket(tx, bSuppression), s.Hash, s)
}

// deleteSuppression removes the entry under hash with its index key, and
// reports whether there was one. It is the one deleter of entries.
func deleteSuppression(tx *bolt.Tx, hash []byte) (bool, error) {
	old, err := loadSuppression(tx, hash)
	if err != nil || old == nil {
		return false, err
	}
	if err := bucket(tx, bSuppressionAt).Delete(suppressionAtKey(old.At, hash)); err != nil {
		return false, err
	}
	if err := addMetaCount(tx, metaSuppressions, -1); err != nil {
		return false, err
	}
	return true, bucket(tx, bSuppression).Delete(hash)
}

// addMetaCount adds delta to the counter under key in meta.
func addMetaCount(tx *bolt.Tx, key string, delta int64) error {
	meta := bucket(tx, bMeta)
	n := int64(readU64(meta.Get([]byte(key)), 0)) + delta
	return meta.Put([]byte(key), u64(uint64(max(n, 0))))
}

// migrateV3 builds suppression_at and the suppression count from the
// existing entries: the API lists suppressions oldest first with a total,
// which the hash-keyed bucket alone cannot give without reading it all.
func migrateV3(tx *bolt.Tx) error {
	idx, err := tx.CreateBucketIfNotExists([]byte(bSuppressionAt))
	if err != nil {
		return err
	}
	n := uint64(0)
	err = bucket(tx, bSuppression).ForEach(func(k, v []byte) error {
		var s list.Suppression
		if err := decode(k, v, &s); err != nil {
			return err
		}
		n++
		// Writing another bucket during ForEach is allowed; only the
		// bucket being iterated must not change.
		return idx.Put(suppressionAtKey(s.At, k), nil)
	})
	if err != nil {
		return err
	}
	return bucket(tx, bMeta).Put([]byte(metaSuppressions), u64(n))
}

// Suppression returns the entry under hash, or ErrNotFound.
func (db *DB) Suppression(ctx context.Context, hash []byte) (list.Suppression, error) {
	var s *list.Suppression
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		if len(hash) > 0 {
			s, err = loadSuppression(tx, hash)
		}
		if err == nil && s == nil {
			err = list.ErrNotFound
		}
		return err
	})
	if err != nil {
		return list.Suppression{}, fmt.Errorf("store: suppression: %w", err)
	}
	return *s, nil
}

// PutSuppression adds an entry for an address that has no subscriber (a
// subscriber's entry is written by UpdateSubscriber, with Blocklisted); an
// entry already under the hash is list.ErrExists and stays as it was.
func (db *DB) PutSuppression(ctx context.Context, s list.Suppression) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if len(s.Hash) > 0 && bucket(tx, bSuppression).Get(s.Hash) != nil {
			return list.ErrExists
		}
		return putSuppression(tx, &s, db.now())
	})
	if err != nil {
		return fmt.Errorf("store: put suppression: %w", err)
	}
	return nil
}

// DeleteSuppression removes the entry under hash; ErrNotFound if absent.
func (db *DB) DeleteSuppression(ctx context.Context, hash []byte) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if len(hash) == 0 {
			return list.ErrNotFound
		}
		found, err := deleteSuppression(tx, hash)
		if err == nil && !found {
			err = list.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete suppression: %w", err)
	}
	return nil
}

// Suppressions returns entries oldest first (by their time, then hash),
// after the given cursor (a Suppression.Cursor of an earlier page), and
// the number of entries in all.
func (db *DB) Suppressions(ctx context.Context, after []byte, limit int) ([]list.Suppression, int, error) {
	limit = limitOr(limit)
	out := []list.Suppression{}
	total := 0
	err := db.view(ctx, func(tx *bolt.Tx) error {
		total = int(readU64(bucket(tx, bMeta).Get([]byte(metaSuppressions)), 0))
		c := bucket(tx, bSuppressionAt).Cursor()
		k, _ := c.First()
		if len(after) > 0 {
			k, _ = seekPast(c, after)
		}
		for ; k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) <= 8 {
				continue
			}
			s, err := loadSuppression(tx, k[8:])
			if err != nil {
				return err
			}
			if s == nil {
				return fmt.Errorf("suppression_at key %x has no entry", k)
			}
			s.Cursor = clone(k)
			out = append(out, *s)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: suppressions: %w", err)
	}
	return out, total, nil
}
