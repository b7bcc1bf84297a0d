package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// defaultPurgeChunk is how many subscribers one DeleteList transaction
// detaches, so deleting a huge list never holds the writer lock for long.
const defaultPurgeChunk = 2000

// CreateList stores l and sets its ID; ErrExists if the slug is taken.
func (db *DB) CreateList(ctx context.Context, l *list.List) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if l.Slug == "" {
			return fmt.Errorf("%w: empty slug", list.ErrInvalid)
		}
		slugs := bucket(tx, bListSlug)
		if slugs.Get([]byte(l.Slug)) != nil {
			return fmt.Errorf("%w: list slug %q", list.ErrExists, l.Slug)
		}
		lists := bucket(tx, bLists)
		id, err := next(lists)
		if err != nil {
			return err
		}
		c := *l
		c.ID = list.ListID(id)
		if c.CreatedAt.IsZero() {
			c.CreatedAt = db.now()
		}
		if c.UpdatedAt.IsZero() {
			c.UpdatedAt = c.CreatedAt
		}
		if err := putJSON(lists, u64(id), &c); err != nil {
			return err
		}
		if err := bucket(tx, bListCounts).Put(u64(id), make([]byte, 24)); err != nil {
			return err
		}
		*l = c
		return slugs.Put([]byte(c.Slug), u64(id))
	})
	if err != nil {
		return fmt.Errorf("store: create list: %w", err)
	}
	return nil
}

// List returns the list with the given id.
func (db *DB) List(ctx context.Context, id list.ListID) (list.List, error) {
	var l list.List
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return mustGet(bucket(tx, bLists), u64(uint64(id)), &l, "list", uint64(id))
	})
	if err != nil {
		return list.List{}, fmt.Errorf("store: list %d: %w", id, err)
	}
	return l, nil
}

// ListBySlug returns the list with the given slug.
func (db *DB) ListBySlug(ctx context.Context, slug string) (list.List, error) {
	var l list.List
	err := db.view(ctx, func(tx *bolt.Tx) error {
		id := bucket(tx, bListSlug).Get([]byte(slug))
		if id == nil {
			return list.ErrNotFound
		}
		return mustGet(bucket(tx, bLists), id, &l, "list", readU64(id, 0))
	})
	if err != nil {
		return list.List{}, fmt.Errorf("store: list %q: %w", slug, err)
	}
	return l, nil
}

// Lists returns every list ordered by id.
func (db *DB) Lists(ctx context.Context) ([]list.List, error) {
	out := []list.List{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bLists).ForEach(func(k, v []byte) error {
			var l list.List
			if err := decode(k, v, &l); err != nil {
				return err
			}
			out = append(out, l)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: lists: %w", err)
	}
	return out, nil
}

// UpdateList runs fn on the list in one transaction. The id cannot change; a
// changed slug moves the slug index (ErrExists if taken).
func (db *DB) UpdateList(ctx context.Context, id list.ListID, fn func(*list.List) error) (list.List, error) {
	var l list.List
	var fnErr error
	err := db.update(ctx, func(tx *bolt.Tx) error {
		lists := bucket(tx, bLists)
		if err := mustGet(lists, u64(uint64(id)), &l, "list", uint64(id)); err != nil {
			return err
		}
		old := l
		if fnErr = fn(&l); fnErr != nil {
			return fnErr
		}
		l.ID = id
		if l.UpdatedAt.Equal(old.UpdatedAt) {
			l.UpdatedAt = db.now()
		}
		if err := moveUnique(bucket(tx, bListSlug), old.Slug, l.Slug, u64(uint64(id)), "list slug"); err != nil {
			return err
		}
		return putJSON(lists, u64(uint64(id)), &l)
	})
	if fnErr != nil {
		return list.List{}, fnErr
	}
	if err != nil {
		return list.List{}, fmt.Errorf("store: update list %d: %w", id, err)
	}
	return l, nil
}

// moveUnique moves a unique index entry from oldKey to newKey, refusing a
// newKey that belongs to another record.
func moveUnique(b *bolt.Bucket, oldKey, newKey string, id []byte, what string) error {
	if oldKey == newKey {
		return nil
	}
	if newKey == "" {
		return fmt.Errorf("%w: empty %s", list.ErrInvalid, what)
	}
	if owner := b.Get([]byte(newKey)); owner != nil && !bytes.Equal(owner, id) {
		return fmt.Errorf("%w: %s %q", list.ErrExists, what, newKey)
	}
	if oldKey != "" {
		if err := b.Delete([]byte(oldKey)); err != nil {
			return err
		}
	}
	return b.Put([]byte(newKey), id)
}

// DeleteList deletes the list and every subscription to it. The list itself
// goes in a first transaction together with a marker; its subscriptions are
// then detached in chunks of transactions, and Open resumes the work if the
// process stops halfway. New subscriptions to the list are refused from the
// first transaction on, since the list no longer exists.
func (db *DB) DeleteList(ctx context.Context, id list.ListID) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var l list.List
		if err := mustGet(bucket(tx, bLists), u64(uint64(id)), &l, "list", uint64(id)); err != nil {
			return err
		}
		if err := bucket(tx, bLists).Delete(u64(uint64(id))); err != nil {
			return err
		}
		if err := bucket(tx, bListSlug).Delete([]byte(l.Slug)); err != nil {
			return err
		}
		return bucket(tx, bListDeleting).Put(u64(uint64(id)), nil)
	})
	if err == nil {
		err = db.purgeList(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("store: delete list %d: %w", id, err)
	}
	return nil
}

// purgeList detaches every subscriber from a deleted list, a chunk per
// transaction, then drops its counters and its deletion marker.
func (db *DB) purgeList(ctx context.Context, id list.ListID) error {
	for {
		done := false
		err := db.update(ctx, func(tx *bolt.Tx) error {
			var err error
			done, err = purgeListChunk(tx, id, db.purgeChunk)
			return err
		})
		if err != nil || done {
			return err
		}
	}
}

func purgeListChunk(tx *bolt.Tx, id list.ListID, chunk int) (bool, error) {
	prefix := u64(uint64(id))
	members := bucket(tx, bMembers)
	keys := prefixKeys(members, prefix, prefix, chunk)
	for _, k := range keys {
		if err := detachSubscriber(tx, list.SubscriberID(readU64(k, 8)), id); err != nil {
			return false, err
		}
		if err := members.Delete(k); err != nil {
			return false, err
		}
	}
	if len(keys) == chunk {
		return false, nil
	}
	if err := bucket(tx, bListCounts).Delete(prefix); err != nil {
		return false, err
	}
	return true, bucket(tx, bListDeleting).Delete(prefix)
}

// detachSubscriber removes the subscription to list l from a subscriber's
// record; the caller removes the membership entry.
func detachSubscriber(tx *bolt.Tx, sub list.SubscriberID, l list.ListID) error {
	subs := bucket(tx, bSubscribers)
	var v subscriberValue
	ok, err := getJSON(subs, u64(uint64(sub)), &v)
	if err != nil || !ok {
		return err
	}
	kept := v.Subscriptions[:0]
	for _, s := range v.Subscriptions {
		if s.List != l {
			kept = append(kept, s)
		}
	}
	v.Subscriptions = kept
	return putJSON(subs, u64(uint64(sub)), &v)
}

// resumeListDeletions finishes DeleteList calls interrupted by a stop.
func (db *DB) resumeListDeletions() error {
	var ids []list.ListID
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return bucket(tx, bListDeleting).ForEach(func(k, _ []byte) error {
			ids = append(ids, list.ListID(readU64(k, 0)))
			return nil
		})
	})
	for _, id := range ids {
		db.log.Info("store resuming list deletion", "list_id", id)
		if err = db.purgeList(context.Background(), id); err != nil {
			return fmt.Errorf("resume deletion of list %d: %w", id, err)
		}
	}
	return err
}

// Counts counts the list's subscriptions by state, from counters kept in
// the same transaction as the membership index.
func (db *DB) Counts(ctx context.Context, id list.ListID) (list.Counts, error) {
	var c list.Counts
	err := db.view(ctx, func(tx *bolt.Tx) error {
		v := bucket(tx, bListCounts).Get(u64(uint64(id)))
		if v == nil || bucket(tx, bLists).Get(u64(uint64(id))) == nil {
			return fmt.Errorf("%w: list %d", list.ErrNotFound, id)
		}
		c = decodeCounts(v)
		return nil
	})
	if err != nil {
		return list.Counts{}, fmt.Errorf("store: counts of list %d: %w", id, err)
	}
	return c, nil
}

func decodeCounts(v []byte) list.Counts {
	return list.Counts{
		Unconfirmed:  int(int64(readU64(v, 0))),
		Confirmed:    int(int64(readU64(v, 8))),
		Unsubscribed: int(int64(readU64(v, 16))),
	}
}

// addCount adds delta to the counter of state s of list l.
func addCount(tx *bolt.Tx, l list.ListID, s list.State, delta int64) error {
	off := stateIndex(s) * 8
	if off < 0 {
		return nil
	}
	b := bucket(tx, bListCounts)
	v := make([]byte, 24)
	copy(v, b.Get(u64(uint64(l))))
	binary.BigEndian.PutUint64(v[off:], uint64(int64(binary.BigEndian.Uint64(v[off:]))+delta))
	return b.Put(u64(uint64(l)), v)
}

// Members returns up to limit entries of the list's membership index with
// subscriber ids greater than after, in id order.
func (db *DB) Members(ctx context.Context, id list.ListID, after list.SubscriberID, limit int) ([]list.Member, error) {
	limit = limitOr(limit)
	out := make([]list.Member, 0, min(limit, 1024))
	err := db.view(ctx, func(tx *bolt.Tx) error {
		if bucket(tx, bLists).Get(u64(uint64(id))) == nil {
			return fmt.Errorf("%w: list %d", list.ErrNotFound, id)
		}
		prefix := u64(uint64(id))
		c := bucket(tx, bMembers).Cursor()
		for k, v := seekPast(c, key2(uint64(id), uint64(after))); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			out = append(out, decodeMember(k, v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: members of list %d: %w", id, err)
	}
	return out, nil
}
