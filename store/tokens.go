package store

import (
	"bytes"
	"context"
	"fmt"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// CreateAPIToken stores t and sets its ID; ErrExists if the hash is taken,
// ErrNotFound if its user does not exist.
func (db *DB) CreateAPIToken(ctx context.Context, t *list.APIToken) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if len(t.Hash) == 0 {
			return fmt.Errorf("%w: token without a hash", list.ErrInvalid)
		}
		if bucket(tx, bUsers).Get(u64(uint64(t.User))) == nil {
			return fmt.Errorf("%w: user %d", list.ErrNotFound, t.User)
		}
		hashes := bucket(tx, bTokenHash)
		if hashes.Get(t.Hash) != nil {
			return fmt.Errorf("%w: token hash", list.ErrExists)
		}
		tokens := bucket(tx, bTokens)
		id, err := next(tokens)
		if err != nil {
			return err
		}
		v := tokenValue{APIToken: *t, Hash: bytes.Clone(t.Hash)}
		v.ID = id
		if v.CreatedAt.IsZero() {
			v.CreatedAt = db.now()
		}
		if err := putJSON(tokens, u64(id), &v); err != nil {
			return err
		}
		t.ID, t.CreatedAt = v.ID, v.CreatedAt
		return hashes.Put(v.Hash, u64(id))
	})
	if err != nil {
		return fmt.Errorf("store: create api token: %w", err)
	}
	return nil
}

// APITokenByHash finds a token by the hash of its secret.
func (db *DB) APITokenByHash(ctx context.Context, hash []byte) (list.APIToken, error) {
	var v tokenValue
	err := db.view(ctx, func(tx *bolt.Tx) error {
		if len(hash) == 0 {
			return list.ErrNotFound
		}
		id := bucket(tx, bTokenHash).Get(hash)
		if id == nil {
			return list.ErrNotFound
		}
		return mustGet(bucket(tx, bTokens), id, &v, "api token", readU64(id, 0))
	})
	if err != nil {
		return list.APIToken{}, fmt.Errorf("store: api token by hash: %w", err)
	}
	return v.token(), nil
}

// APITokens returns a user's tokens (every token for user 0) ordered by
// id. It scans the tokens bucket: tokens are few.
func (db *DB) APITokens(ctx context.Context, user list.UserID) ([]list.APIToken, error) {
	out := []list.APIToken{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = tokensOf(tx, user)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: api tokens of user %d: %w", user, err)
	}
	return out, nil
}

func tokensOf(tx *bolt.Tx, user list.UserID) ([]list.APIToken, error) {
	out := []list.APIToken{}
	err := bucket(tx, bTokens).ForEach(func(k, v []byte) error {
		var tv tokenValue
		if err := decode(k, v, &tv); err != nil {
			return err
		}
		if user == 0 || tv.User == user {
			out = append(out, tv.token())
		}
		return nil
	})
	return out, err
}

func removeToken(tx *bolt.Tx, t *list.APIToken) error {
	if err := bucket(tx, bTokenHash).Delete(t.Hash); err != nil {
		return err
	}
	return bucket(tx, bTokens).Delete(u64(t.ID))
}

// DeleteAPIToken deletes a token; ErrNotFound if absent.
func (db *DB) DeleteAPIToken(ctx context.Context, id uint64) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var v tokenValue
		if err := mustGet(bucket(tx, bTokens), u64(id), &v, "api token", id); err != nil {
			return err
		}
		t := v.token()
		return removeToken(tx, &t)
	})
	if err != nil {
		return fmt.Errorf("store: delete api token %d: %w", id, err)
	}
	return nil
}

// AppendAudit stores an audit entry and sets its ID (and time, if zero).
func (db *DB) AppendAudit(ctx context.Context, e *list.AuditEntry) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bAudit)
		id, err := next(b)
		if err != nil {
			return err
		}
		n := *e
		n.ID = id
		if n.At.IsZero() {
			n.At = db.now()
		}
		if err := putJSON(b, u64(id), &n); err != nil {
			return err
		}
		*e = n
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: append audit: %w", err)
	}
	return nil
}

// CountAudit counts the audit entries kept, from the bucket's pages
// without decoding an entry.
func (db *DB) CountAudit(ctx context.Context) (int, error) {
	n := 0
	err := db.view(ctx, func(tx *bolt.Tx) error {
		n = bucket(tx, bAudit).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: count audit: %w", err)
	}
	return n, nil
}

// AuditBefore returns audit entries with an id below before (0: from the
// newest), newest first.
func (db *DB) AuditBefore(ctx context.Context, before uint64, limit int) ([]list.AuditEntry, error) {
	return db.auditEntries(ctx, limit, func(c *bolt.Cursor) ([]byte, []byte) {
		if before == 0 {
			return c.Last()
		}
		// Seek lands on the first key at or after before; the one before
		// it is the newest entry below before.
		if k, _ := c.Seek(u64(before)); k == nil {
			return c.Last()
		}
		return c.Prev()
	}, (*bolt.Cursor).Prev)
}

// Audit returns audit entries after the given id, oldest first.
func (db *DB) Audit(ctx context.Context, after uint64, limit int) ([]list.AuditEntry, error) {
	return db.auditEntries(ctx, limit, func(c *bolt.Cursor) ([]byte, []byte) {
		return seekPast(c, u64(after))
	}, (*bolt.Cursor).Next)
}

// auditEntries reads up to limit audit entries, from the one first puts
// the cursor on, moving on with next (forward or back).
func (db *DB) auditEntries(ctx context.Context, limit int, first, next func(*bolt.Cursor) ([]byte, []byte)) ([]list.AuditEntry, error) {
	limit = limitOr(limit)
	out := []list.AuditEntry{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := bucket(tx, bAudit).Cursor()
		for k, v := first(c); k != nil && len(out) < limit; k, v = next(c) {
			var e list.AuditEntry
			if err := decode(k, v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	return out, nil
}
