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

// eventChunk bounds how many index keys are held in memory at once while
// truncating IPs.
const eventChunk = 1000

// putEvent gives e an id (and a time, if zero) and stores it under its
// subscriber, indexing it by time while it carries an IP to truncate.
func putEvent(tx *bolt.Tx, e *list.Event, now time.Time) error {
	events := bucket(tx, bEvents)
	id, err := next(events)
	if err != nil {
		return err
	}
	e.ID = list.EventID(id)
	if e.At.IsZero() {
		e.At = now
	}
	data, err := appendEvent(make([]byte, 0, 192), e)
	if err != nil {
		return err
	}
	if err := events.Put(key2(uint64(e.Subscriber), id), data); err != nil {
		return err
	}
	if e.IP == "" {
		return nil
	}
	return bucket(tx, bEventIP).Put(key3(timeKey(e.At), uint64(e.Subscriber), id), nil)
}

// Events returns a subscriber's events after the given id, oldest first.
func (db *DB) Events(ctx context.Context, id list.SubscriberID, after list.EventID, limit int) ([]list.Event, error) {
	limit = limitOr(limit)
	out := []list.Event{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		prefix := u64(uint64(id))
		c := bucket(tx, bEvents).Cursor()
		for k, v := seekPast(c, key2(uint64(id), uint64(after))); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			var e list.Event
			if err := decode(k, v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: events of subscriber %d: %w", id, err)
	}
	return out, nil
}

// AppendEvents stores events not tied to a subscriber mutation and sets
// their ids in evs.
func (db *DB) AppendEvents(ctx context.Context, evs []list.Event) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		now := db.now()
		for i := range evs {
			if err := putEvent(tx, &evs[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: append events: %w", err)
	}
	return nil
}

// TruncateEventIPs applies fn to the IP of every event older than before
// that still has one indexed, and returns how many IPs it changed. Each
// event leaves the time index once handled, so a run only walks events
// that were never truncated.
func (db *DB) TruncateEventIPs(ctx context.Context, before time.Time, fn func(string) string) (int, error) {
	n := 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		end := u64(timeKey(before))
		for {
			keys := prefixKeys(bucket(tx, bEventIP), nil, nil, eventChunk)
			done := len(keys) < eventChunk
			for _, k := range keys {
				if bytes.Compare(k[:8], end) >= 0 {
					return nil
				}
				changed, err := truncateIP(tx, k, fn)
				if err != nil {
					return err
				}
				if changed {
					n++
				}
			}
			if done {
				return nil
			}
		}
	})
	if err != nil {
		return 0, fmt.Errorf("store: truncate event ips: %w", err)
	}
	return n, nil
}

// truncateIP rewrites the IP of the event named by time-index key k and
// drops the index entry.
func truncateIP(tx *bolt.Tx, k []byte, fn func(string) string) (bool, error) {
	events := bucket(tx, bEvents)
	ek := k[8:24]
	var e list.Event
	ok, err := getJSON(events, ek, &e)
	if err != nil {
		return false, err
	}
	changed := false
	if ok {
		if ip := fn(e.IP); ip != e.IP {
			e.IP, changed = ip, true
			if err := putJSON(events, ek, &e); err != nil {
				return false, err
			}
		}
	}
	return changed, bucket(tx, bEventIP).Delete(k)
}

// deleteEventsOf deletes a subscriber's events and their time index entries.
func deleteEventsOf(tx *bolt.Tx, id list.SubscriberID) error {
	events := bucket(tx, bEvents)
	keys := prefixKeys(events, u64(uint64(id)), u64(uint64(id)), math.MaxInt)
	for _, k := range keys {
		var e list.Event
		if _, err := getJSON(events, k, &e); err != nil {
			return err
		}
		if e.IP != "" {
			if err := bucket(tx, bEventIP).Delete(key3(timeKey(e.At), uint64(id), uint64(e.ID))); err != nil {
				return err
			}
		}
		if err := events.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
