package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// maxNameKey caps the name part of a search key: prefix search needs only
// the start of a name, and bbolt keys must stay small.
const maxNameKey = 255

// recordState is what UpdateSubscriber remembers of a record before fn runs,
// to know which index entries to move afterwards.
type recordState struct {
	id        list.SubscriberID
	identity  string
	name      string
	updatedAt time.Time
	members   map[list.ListID][]byte // encoded membership values
	// suppression is the entry read with the record, if any.
	suppression *list.Suppression
}

func snapshot(r *list.Record) recordState {
	st := recordState{
		id:          r.Subscriber.ID,
		identity:    r.Subscriber.Identity,
		name:        r.Subscriber.Name,
		updatedAt:   r.Subscriber.UpdatedAt,
		members:     make(map[list.ListID][]byte, len(r.Subscriptions)),
		suppression: r.Suppression,
	}
	if st.id == 0 {
		st.identity = "" // not in the index yet
	}
	for _, s := range r.Subscriptions {
		st.members[s.List] = memberValue(&s)
	}
	return st
}

// writer writes a subscriber mutation inside one transaction.
type writer struct {
	tx  *bolt.Tx
	now time.Time
	// absent is an identity known to have no entry in the index in this
	// transaction, so moving to it needs no owner lookup.
	absent string
	// unsuppressed says the key's hash had no suppression entry when read.
	unsuppressed bool
}

// writeRecord stores r and brings every index in line with it.
func (w *writer) writeRecord(r *list.Record, old *recordState, hash []byte) error {
	s := &r.Subscriber
	if s.Identity == "" {
		return fmt.Errorf("%w: empty identity", list.ErrInvalid)
	}
	if err := normalizeSubscriptions(r); err != nil {
		return err
	}
	if err := w.assignID(r, old); err != nil {
		return err
	}
	if err := w.moveIdentity(s.ID, old.identity, s.Identity); err != nil {
		return err
	}
	if err := w.moveName(s.ID, old, s); err != nil {
		return err
	}
	if err := w.syncSuppression(r, hash); err != nil {
		return err
	}
	if err := w.syncMembers(s.ID, old.members, r.Subscriptions); err != nil {
		return err
	}
	v := toValue(r)
	data, err := appendSubscriber(make([]byte, 0, 768), &v)
	if err != nil {
		return err
	}
	return bucket(w.tx, bSubscribers).Put(u64(uint64(s.ID)), data)
}

// assignID gives a new subscriber an id and keeps the id of an existing one
// whatever fn did to it; it also stamps zero timestamps.
func (w *writer) assignID(r *list.Record, old *recordState) error {
	s := &r.Subscriber
	if old.id != 0 {
		s.ID = old.id
		if s.UpdatedAt.Equal(old.updatedAt) {
			s.UpdatedAt = w.now
		}
		return nil
	}
	id, err := next(bucket(w.tx, bSubscribers))
	if err != nil {
		return err
	}
	s.ID = list.SubscriberID(id)
	if s.CreatedAt.IsZero() {
		s.CreatedAt = w.now
	}
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = s.CreatedAt
	}
	return addSubscriberCount(w.tx, 1)
}

// normalizeSubscriptions orders subscriptions by list id and refuses
// duplicates and unknown states.
func normalizeSubscriptions(r *list.Record) error {
	slices.SortStableFunc(r.Subscriptions, func(a, b list.Subscription) int {
		return cmpU64(uint64(a.List), uint64(b.List))
	})
	for i, s := range r.Subscriptions {
		if !s.State.Valid() {
			return fmt.Errorf("%w: subscription to list %d in state %q", list.ErrInvalid, s.List, s.State)
		}
		if i > 0 && r.Subscriptions[i-1].List == s.List {
			return fmt.Errorf("%w: two subscriptions to list %d", list.ErrInvalid, s.List)
		}
	}
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// moveIdentity points the identity index at id, refusing an identity that
// belongs to another subscriber.
func (w *writer) moveIdentity(id list.SubscriberID, oldIdentity, identity string) error {
	if oldIdentity == identity {
		return nil
	}
	b := bucket(w.tx, bSubIdentity)
	if identity != w.absent {
		if owner := b.Get([]byte(identity)); owner != nil && readU64(owner, 0) != uint64(id) {
			return fmt.Errorf("%w: identity of subscriber %d", list.ErrExists, readU64(owner, 0))
		}
	}
	if oldIdentity != "" {
		if err := b.Delete([]byte(oldIdentity)); err != nil {
			return err
		}
	}
	return b.Put([]byte(identity), u64(uint64(id)))
}

// nameKey is the search key of a name: lower-cased, capped, 0x00, id.
func nameKey(name string, id list.SubscriberID) []byte {
	n := strings.ToLower(name)
	if len(n) > maxNameKey {
		n = n[:maxNameKey]
		for len(n) > 0 && !utf8.ValidString(n) {
			n = n[:len(n)-1]
		}
	}
	k := append([]byte(n), 0)
	return binary.BigEndian.AppendUint64(k, uint64(id))
}

// moveName rewrites the name search entry; its value is the identity, so
// that prefix search can tell a name match that also matches by identity.
func (w *writer) moveName(id list.SubscriberID, old *recordState, s *list.Subscriber) error {
	b := bucket(w.tx, bSubName)
	if old.id != 0 && old.name == s.Name && old.identity == s.Identity {
		return nil
	}
	if old.id == 0 && s.Name == "" {
		return nil
	}
	skip, err := noteName(w.tx, id, old.id == 0)
	if skip || err != nil {
		return err // a new subscriber of an import: the import adds the entry
	}
	if old.id != 0 && old.name != "" {
		if err := b.Delete(nameKey(old.name, id)); err != nil {
			return err
		}
	}
	if s.Name == "" {
		return nil
	}
	return b.Put(nameKey(s.Name, id), []byte(s.Identity))
}

// syncSuppression writes or deletes the suppression entry when its hash is
// known, and mirrors it in Blocklisted. Without a hash the entry is unknown
// and left alone, and so is Blocklisted.
func (w *writer) syncSuppression(r *list.Record, hash []byte) error {
	if len(hash) == 0 && r.Suppression != nil {
		hash = r.Suppression.Hash
	}
	if len(hash) == 0 {
		if r.Suppression != nil {
			return fmt.Errorf("%w: suppression without a hash", list.ErrInvalid)
		}
		return nil
	}
	r.Subscriber.Blocklisted = r.Suppression != nil
	if r.Suppression == nil {
		if w.unsuppressed {
			return nil // nothing was stored under the key's hash to delete
		}
		_, err := deleteSuppression(w.tx, hash)
		return err
	}
	r.Suppression.Hash = clone(hash)
	return putSuppression(w.tx, r.Suppression, w.now)
}

// memberValue encodes a membership entry: state code, confirmation time.
func memberValue(s *list.Subscription) []byte {
	v := make([]byte, 9)
	v[0] = byte(stateIndex(s.State) + 1)
	if s.ConfirmedAt != nil {
		binary.BigEndian.PutUint64(v[1:], timeKey(*s.ConfirmedAt))
	}
	return v
}

var states = [...]list.State{list.StateUnconfirmed, list.StateConfirmed, list.StateUnsubscribed}

// stateIndex is a state's position in the counters, or -1.
func stateIndex(s list.State) int {
	for i, st := range states {
		if st == s {
			return i
		}
	}
	return -1
}

func memberState(v []byte) list.State {
	if len(v) == 0 || v[0] == 0 || int(v[0]) > len(states) {
		return ""
	}
	return states[v[0]-1]
}

func decodeMember(k, v []byte) list.Member {
	return list.Member{
		Subscriber:  list.SubscriberID(readU64(k, 8)),
		State:       memberState(v),
		ConfirmedAt: keyTime(readU64(v, 1)),
	}
}

// syncMembers brings the membership index and the counters in line with the
// new subscriptions: a diff against the entries before fn ran.
func (w *writer) syncMembers(id list.SubscriberID, old map[list.ListID][]byte, subs []list.Subscription) error {
	members := bucket(w.tx, bMembers)
	for i := range subs {
		s := &subs[i]
		val := memberValue(s)
		prev, had := old[s.List]
		delete(old, s.List)
		if had && bytes.Equal(prev, val) {
			continue
		}
		if !had && bucket(w.tx, bLists).Get(u64(uint64(s.List))) == nil {
			return fmt.Errorf("%w: list %d", list.ErrNotFound, s.List)
		}
		if err := members.Put(key2(uint64(s.List), uint64(id)), val); err != nil {
			return err
		}
		if err := moveCount(w.tx, s.List, memberState(prev), s.State); err != nil {
			return err
		}
	}
	for l := range old {
		if err := removeMember(w.tx, l, id); err != nil {
			return err
		}
	}
	return nil
}

// moveCount moves one subscription of list l from state from to state to;
// an empty state means none.
func moveCount(tx *bolt.Tx, l list.ListID, from, to list.State) error {
	if from == to {
		return nil
	}
	if err := addCount(tx, l, from, -1); err != nil {
		return err
	}
	return addCount(tx, l, to, 1)
}

// removeMember deletes a membership entry and uncounts it.
func removeMember(tx *bolt.Tx, l list.ListID, id list.SubscriberID) error {
	members := bucket(tx, bMembers)
	k := key2(uint64(l), uint64(id))
	prev := members.Get(k)
	if prev == nil {
		return nil
	}
	if bucket(tx, bListCounts).Get(u64(uint64(l))) != nil {
		if err := addCount(tx, l, memberState(prev), -1); err != nil {
			return err
		}
	}
	return members.Delete(k)
}

// deleteSubscriberIndexes removes a subscriber's identity and name entries.
func deleteSubscriberIndexes(tx *bolt.Tx, r *list.Record) error {
	if err := bucket(tx, bSubIdentity).Delete([]byte(r.Subscriber.Identity)); err != nil {
		return err
	}
	if r.Subscriber.Name == "" {
		return nil
	}
	if _, err := noteName(tx, r.Subscriber.ID, false); err != nil {
		return err
	}
	return bucket(tx, bSubName).Delete(nameKey(r.Subscriber.Name, r.Subscriber.ID))
}

// addSubscriberCount keeps the number of subscribers, so an unfiltered
// search knows its total without a scan.
func addSubscriberCount(tx *bolt.Tx, delta int64) error {
	meta := bucket(tx, bMeta)
	n := int64(readU64(meta.Get([]byte(metaSubscribers)), 0)) + delta
	return meta.Put([]byte(metaSubscribers), u64(uint64(n)))
}

// writeEffects stores fn's events and queued mails, giving them ids and the
// subscriber's id where they have none (a new subscriber's id is only known
// now).
func (w *writer) writeEffects(id list.SubscriberID, eff *list.Effects) error {
	for i := range eff.Events {
		if eff.Events[i].Subscriber == 0 {
			eff.Events[i].Subscriber = id
		}
		if err := putEvent(w.tx, &eff.Events[i], w.now); err != nil {
			return err
		}
	}
	for i := range eff.Mails {
		if eff.Mails[i].Subscriber == 0 {
			eff.Mails[i].Subscriber = id
		}
		if err := insertMail(w.tx, &eff.Mails[i], w.now); err != nil {
			return err
		}
	}
	return nil
}
