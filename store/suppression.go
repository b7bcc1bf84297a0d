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

// putSuppression stores s under its hash, stamping a zero time.
func putSuppression(tx *bolt.Tx, s *list.Suppression, now time.Time) error {
	if len(s.Hash) == 0 {
		return fmt.Errorf("%w: suppression without a hash", list.ErrInvalid)
	}
	if s.At.IsZero() {
		s.At = now
	}
	return putJSON(bucket(tx, bSuppression), s.Hash, s)
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
		b := bucket(tx, bSuppression)
		if len(hash) == 0 || b.Get(hash) == nil {
			return list.ErrNotFound
		}
		return b.Delete(hash)
	})
	if err != nil {
		return fmt.Errorf("store: delete suppression: %w", err)
	}
	return nil
}

// Suppressions returns entries in hash order after the given hash.
func (db *DB) Suppressions(ctx context.Context, after []byte, limit int) ([]list.Suppression, error) {
	limit = limitOr(limit)
	out := []list.Suppression{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := bucket(tx, bSuppression).Cursor()
		k, v := c.First()
		if len(after) > 0 {
			k, v = seekPast(c, after)
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			var s list.Suppression
			if err := decode(k, v, &s); err != nil {
				return err
			}
			s.Hash = clone(k)
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: suppressions: %w", err)
	}
	return out, nil
}
