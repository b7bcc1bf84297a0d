package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// sessionRow is a stored session with its key, the hash of its id.
type sessionRow struct {
	key []byte
	s   list.Session
}

// sessionsBucket returns the sessions bucket, or nil in a read-only store
// last opened for writing by a Bulletin that predates it.
func sessionsBucket(tx *bolt.Tx) *bolt.Bucket {
	return tx.Bucket([]byte(bSessions))
}

// sessionRows decodes the sessions for which keep is true. Sessions are
// few (a handful per editor), so a scan serves instead of an index.
func sessionRows(tx *bolt.Tx, keep func(list.Session) bool) ([]sessionRow, error) {
	var out []sessionRow
	b := sessionsBucket(tx)
	if b == nil {
		return nil, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		var s list.Session
		if err := decode(k, v, &s); err != nil {
			return err
		}
		s.Hash = bytes.Clone(k)
		if keep(s) {
			out = append(out, sessionRow{key: s.Hash, s: s})
		}
		return nil
	})
	return out, err
}

// deleteRows deletes the sessions of rows, after the scan that found them:
// bbolt forbids deleting during a ForEach.
func deleteRows(tx *bolt.Tx, rows []sessionRow) error {
	b := bucket(tx, bSessions)
	for _, r := range rows {
		if err := b.Delete(r.key); err != nil {
			return err
		}
	}
	return nil
}

// CreateSession stores s, first deleting its user's least recently seen
// sessions so that they keep fewer than perUser (no bound when ≤ 0).
func (db *DB) CreateSession(ctx context.Context, s list.Session, perUser int) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if len(s.Hash) == 0 {
			return fmt.Errorf("%w: session without a hash", list.ErrInvalid)
		}
		if bucket(tx, bUsers).Get(u64(uint64(s.User))) == nil {
			return fmt.Errorf("%w: user %d", list.ErrNotFound, s.User)
		}
		b := bucket(tx, bSessions)
		if b.Get(s.Hash) != nil {
			return fmt.Errorf("%w: session hash", list.ErrExists)
		}
		if err := trimUserSessions(tx, s.User, perUser); err != nil {
			return err
		}
		return putJSON(b, s.Hash, &s)
	})
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// trimUserSessions deletes user's least recently seen sessions until
// fewer than perUser are left.
func trimUserSessions(tx *bolt.Tx, user list.UserID, perUser int) error {
	if perUser <= 0 {
		return nil
	}
	rows, err := sessionRows(tx, func(s list.Session) bool { return s.User == user })
	if err != nil || len(rows) < perUser {
		return err
	}
	slices.SortFunc(rows, func(a, b sessionRow) int { return a.s.SeenAt.Compare(b.s.SeenAt) })
	return deleteRows(tx, rows[:len(rows)-perUser+1])
}

// Session returns the session stored under hash.
func (db *DB) Session(ctx context.Context, hash []byte) (list.Session, error) {
	var s list.Session
	err := db.view(ctx, func(tx *bolt.Tx) error {
		b := sessionsBucket(tx)
		if b == nil || len(hash) == 0 {
			return list.ErrNotFound
		}
		ok, err := getJSON(b, hash, &s)
		if err == nil && !ok {
			err = list.ErrNotFound
		}
		return err
	})
	if err != nil {
		return list.Session{}, fmt.Errorf("store: session: %w", err)
	}
	s.Hash = bytes.Clone(hash)
	return s, nil
}

// TouchSession sets the session's SeenAt to seen, unless it is already
// later.
func (db *DB) TouchSession(ctx context.Context, hash []byte, seen time.Time) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bSessions)
		var s list.Session
		ok, err := getJSON(b, hash, &s)
		if err != nil {
			return err
		}
		if !ok || len(hash) == 0 {
			return list.ErrNotFound
		}
		if !seen.After(s.SeenAt) {
			return nil
		}
		s.SeenAt = seen
		return putJSON(b, hash, &s)
	})
	if err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

// DeleteSession deletes a session; one already gone is no error.
func (db *DB) DeleteSession(ctx context.Context, hash []byte) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if len(hash) == 0 {
			return nil
		}
		return bucket(tx, bSessions).Delete(hash)
	})
	if err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions deletes every session of user except the one under
// keep (nil: none) and returns how many it deleted.
func (db *DB) DeleteUserSessions(ctx context.Context, user list.UserID, keep []byte) (int, error) {
	var n int
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		n, err = deleteUserSessions(tx, user, keep)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete sessions of user %d: %w", user, err)
	}
	return n, nil
}

func deleteUserSessions(tx *bolt.Tx, user list.UserID, keep []byte) (int, error) {
	rows, err := sessionRows(tx, func(s list.Session) bool {
		return s.User == user && (keep == nil || !bytes.Equal(s.Hash, keep))
	})
	if err != nil {
		return 0, err
	}
	return len(rows), deleteRows(tx, rows)
}

// SweepSessions deletes the sessions last seen before seenBefore or
// created before createdBefore and returns how many it deleted.
func (db *DB) SweepSessions(ctx context.Context, seenBefore, createdBefore time.Time) (int, error) {
	var n int
	err := db.update(ctx, func(tx *bolt.Tx) error {
		rows, err := sessionRows(tx, func(s list.Session) bool {
			return s.SeenAt.Before(seenBefore) || s.CreatedAt.Before(createdBefore)
		})
		if err != nil {
			return err
		}
		n = len(rows)
		return deleteRows(tx, rows)
	})
	if err != nil {
		return 0, fmt.Errorf("store: sweep sessions: %w", err)
	}
	return n, nil
}
