package store

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"strings"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// SearchSubscribers returns up to q.Limit records with ids greater than
// q.After, in id order, and the total matching when it is cheap to know:
//
//   - with a prefix, the identity index and the name index are walked over
//     the prefix's key range only; the smallest matching ids are kept in a
//     bounded heap, so memory stays at q.Limit. The total is exact without
//     list or state filters; with them, -1 unless q.Count asks for it
//     (every match is then checked against them).
//   - with a list and no prefix, the list's membership index is walked from
//     q.After; the total comes from the list's counters.
//   - otherwise the subscribers bucket is walked from q.After; the total is
//     the kept subscriber count, or with a state filter -1 unless q.Count
//     asks for it (countState).
func (db *DB) SearchSubscribers(ctx context.Context, q list.SubscriberQuery) ([]list.Record, int, error) {
	if q.State != "" && !q.State.Valid() {
		return nil, 0, fmt.Errorf("store: search subscribers: %w: state %q", list.ErrInvalid, q.State)
	}
	q.Limit = limitOr(q.Limit)
	q.Prefix = strings.ToLower(q.Prefix)
	out := []list.Record{}
	total := -1
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		switch {
		case q.Prefix != "":
			out, total, err = searchPrefix(tx, &q)
		case q.List != 0:
			out, total, err = searchList(tx, &q)
		default:
			out, total, err = searchAll(tx, &q)
		}
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: search subscribers: %w", err)
	}
	return out, total, nil
}

// searchList pages through a list's membership index.
func searchList(tx *bolt.Tx, q *list.SubscriberQuery) ([]list.Record, int, error) {
	counts := bucket(tx, bListCounts).Get(u64(uint64(q.List)))
	if counts == nil || bucket(tx, bLists).Get(u64(uint64(q.List))) == nil {
		return nil, 0, fmt.Errorf("%w: list %d", list.ErrNotFound, q.List)
	}
	var ids []list.SubscriberID
	prefix := u64(uint64(q.List))
	c := bucket(tx, bMembers).Cursor()
	for k, v := seekPast(c, key2(uint64(q.List), uint64(q.After))); k != nil && bytes.HasPrefix(k, prefix) && len(ids) < q.Limit; k, v = c.Next() {
		if q.State == "" || memberState(v) == q.State {
			ids = append(ids, list.SubscriberID(readU64(k, 8)))
		}
	}
	out, err := loadRecords(tx, ids)
	return out, countOf(decodeCounts(counts), q.State), err
}

func countOf(c list.Counts, s list.State) int {
	switch s {
	case list.StateUnconfirmed:
		return c.Unconfirmed
	case list.StateConfirmed:
		return c.Confirmed
	case list.StateUnsubscribed:
		return c.Unsubscribed
	}
	return c.Unconfirmed + c.Confirmed + c.Unsubscribed
}

// searchAll pages through the subscribers bucket.
func searchAll(tx *bolt.Tx, q *list.SubscriberQuery) ([]list.Record, int, error) {
	out := []list.Record{}
	c := bucket(tx, bSubscribers).Cursor()
	for k, v := seekPast(c, u64(uint64(q.After))); k != nil && len(out) < q.Limit; k, v = c.Next() {
		var sv subscriberValue
		if err := decode(k, v, &sv); err != nil {
			return nil, 0, err
		}
		r := sv.record()
		if hasState(&r, q.State) {
			out = append(out, r)
		}
	}
	if q.State != "" && !q.Count {
		return out, -1, nil
	}
	if q.State != "" {
		n, err := countState(tx, q.State)
		return out, n, err
	}
	return out, int(readU64(bucket(tx, bMeta).Get([]byte(metaSubscribers)), 0)), nil
}

// countState counts the subscribers with a subscription in state s. Each
// list's range of the membership index is in subscriber-id order; merging
// the ranges (one cursor a list, in a heap) counts a person on several
// lists once without a set of the ids seen, and reads no subscriber.
func countState(tx *bolt.Tx, s list.State) (int, error) {
	var h memberHeap
	err := bucket(tx, bLists).ForEach(func(k, _ []byte) error {
		m := &memberCursor{c: bucket(tx, bMembers).Cursor(), prefix: bytes.Clone(k)}
		if m.load(m.c.Seek(m.prefix)) {
			h = append(h, m)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	heap.Init(&h)
	n := 0
	for len(h) > 0 {
		id, hit := h[0].id, false
		for len(h) > 0 && h[0].id == id {
			m := h[0]
			hit = hit || m.state == s
			if m.load(m.c.Next()) {
				heap.Fix(&h, 0)
			} else {
				heap.Pop(&h)
			}
		}
		if hit {
			n++
		}
	}
	return n, nil
}

// memberCursor walks one list's range of the membership index.
type memberCursor struct {
	c      *bolt.Cursor
	prefix []byte
	id     uint64
	state  list.State
}

// load takes the entry at k, v and reports whether it is still the list's.
func (m *memberCursor) load(k, v []byte) bool {
	if k == nil || !bytes.HasPrefix(k, m.prefix) {
		return false
	}
	m.id, m.state = readU64(k, 8), memberState(v)
	return true
}

// memberHeap orders the list cursors by their current subscriber id.
type memberHeap []*memberCursor

func (h memberHeap) Len() int           { return len(h) }
func (h memberHeap) Less(i, j int) bool { return h[i].id < h[j].id }
func (h memberHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *memberHeap) Push(x any)        { *h = append(*h, x.(*memberCursor)) }
func (h *memberHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// hasState reports whether any subscription of r is in state s ("" = any).
func hasState(r *list.Record, s list.State) bool {
	if s == "" {
		return true
	}
	for _, sub := range r.Subscriptions {
		if sub.State == s {
			return true
		}
	}
	return false
}

func loadRecords(tx *bolt.Tx, ids []list.SubscriberID) ([]list.Record, error) {
	out := make([]list.Record, 0, len(ids))
	for _, id := range ids {
		r, ok, err := loadSubscriber(tx, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("index names missing subscriber %d", id)
		}
		out = append(out, r)
	}
	return out, nil
}

// searchPrefix walks the identity and name index ranges of the prefix.
func searchPrefix(tx *bolt.Tx, q *list.SubscriberQuery) ([]list.Record, int, error) {
	top := newTopIDs(q.Limit)
	filtered := q.List != 0 || q.State != ""
	match := func(id list.SubscriberID) (bool, error) {
		if id <= q.After || !top.wants(id) {
			return false, nil
		}
		if !filtered {
			return true, nil
		}
		return matchesFilter(tx, id, q)
	}
	pre := []byte(q.Prefix)
	total := 0
	// Each match is counted; with filters, only when q.Count asks, since
	// that applies them to every match rather than to the page's.
	visit := func(id list.SubscriberID) error {
		if filtered && q.Count {
			if ok, err := matchesFilter(tx, id, q); !ok || err != nil {
				return err
			}
		}
		total++
		return top.offer(id, match)
	}
	c := bucket(tx, bSubIdentity).Cursor()
	for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
		if err := visit(list.SubscriberID(readU64(v, 0))); err != nil {
			return nil, 0, err
		}
	}
	c = bucket(tx, bSubName).Cursor()
	for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
		if bytes.HasPrefix(v, pre) {
			continue // counted and offered by identity already
		}
		if err := visit(list.SubscriberID(readU64(k, len(k)-8))); err != nil {
			return nil, 0, err
		}
	}
	out, err := loadRecords(tx, top.sorted())
	if filtered && !q.Count {
		total = -1
	}
	return out, total, err
}

// matchesFilter applies the list and state filters of q to subscriber id.
func matchesFilter(tx *bolt.Tx, id list.SubscriberID, q *list.SubscriberQuery) (bool, error) {
	if q.List != 0 {
		v := bucket(tx, bMembers).Get(key2(uint64(q.List), uint64(id)))
		return v != nil && (q.State == "" || memberState(v) == q.State), nil
	}
	r, ok, err := loadSubscriber(tx, id)
	return ok && hasState(&r, q.State), err
}

// topIDs keeps the n smallest distinct ids offered: a max-heap whose root
// is the id to evict.
type topIDs struct {
	n   int
	ids idHeap
	set map[list.SubscriberID]struct{}
}

func newTopIDs(n int) *topIDs {
	return &topIDs{n: n, set: make(map[list.SubscriberID]struct{}, n)}
}

// wants reports whether id could still enter the top.
func (t *topIDs) wants(id list.SubscriberID) bool {
	if _, dup := t.set[id]; dup {
		return false
	}
	return len(t.ids) < t.n || id < t.ids[0]
}

// offer adds id if match accepts it, evicting the largest id when full.
func (t *topIDs) offer(id list.SubscriberID, match func(list.SubscriberID) (bool, error)) error {
	ok, err := match(id)
	if !ok || err != nil {
		return err
	}
	heap.Push(&t.ids, id)
	t.set[id] = struct{}{}
	if len(t.ids) > t.n {
		delete(t.set, heap.Pop(&t.ids).(list.SubscriberID))
	}
	return nil
}

// sorted returns the kept ids in ascending order.
func (t *topIDs) sorted() []list.SubscriberID {
	out := make([]list.SubscriberID, len(t.ids))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(&t.ids).(list.SubscriberID)
	}
	return out
}

type idHeap []list.SubscriberID

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)        { *h = append(*h, x.(list.SubscriberID)) }
func (h *idHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
