package store

import (
	"context"
	"fmt"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// subscriberValue is the stored form of a subscriber: the fields the API
// hides (identity, nonces, reminder bookkeeping) are kept under their own
// names, and the subscriptions live inline so a Record is one read.
type subscriberValue struct {
	list.Subscriber
	Identity      string              `json:"identity"`
	Nonce         uint32              `json:"nonce,omitempty"`
	Subscriptions []subscriptionValue `json:"subscriptions"`
}

type subscriptionValue struct {
	list.Subscription
	Nonce           uint32     `json:"nonce,omitempty"`
	LastConfirmMail time.Time  `json:"last_confirm_mail,omitzero"`
	RemindedAt      *time.Time `json:"reminded_at,omitempty"`
}

func toValue(r *list.Record) subscriberValue {
	v := subscriberValue{Subscriber: r.Subscriber, Identity: r.Subscriber.Identity, Nonce: r.Subscriber.Nonce}
	v.Subscriptions = make([]subscriptionValue, len(r.Subscriptions))
	for i, s := range r.Subscriptions {
		v.Subscriptions[i] = subscriptionValue{Subscription: s, Nonce: s.Nonce, LastConfirmMail: s.LastConfirmMail, RemindedAt: s.RemindedAt}
	}
	return v
}

func (v *subscriberValue) record() list.Record {
	r := list.Record{Subscriber: v.Subscriber}
	r.Subscriber.Identity = v.Identity
	r.Subscriber.Nonce = v.Nonce
	r.Subscriptions = make([]list.Subscription, len(v.Subscriptions))
	for i, s := range v.Subscriptions {
		r.Subscriptions[i] = s.Subscription
		r.Subscriptions[i].Nonce = s.Nonce
		r.Subscriptions[i].LastConfirmMail = s.LastConfirmMail
		r.Subscriptions[i].RemindedAt = s.RemindedAt
	}
	return r
}

// loadSubscriber reads a subscriber by id.
func loadSubscriber(tx *bolt.Tx, id list.SubscriberID) (list.Record, bool, error) {
	var v subscriberValue
	ok, err := getJSON(bucket(tx, bSubscribers), u64(uint64(id)), &v)
	if !ok || err != nil {
		return list.Record{}, false, err
	}
	return v.record(), true, nil
}

// loadRecord finds a subscriber by k.ID, else by k.Identity through the
// identity index, and adds the suppression entry under k.Hash.
func loadRecord(tx *bolt.Tx, k list.Key) (list.Record, bool, error) {
	id := k.ID
	if id == 0 && k.Identity != "" {
		id = list.SubscriberID(readU64(bucket(tx, bSubIdentity).Get([]byte(k.Identity)), 0))
	}
	if id == 0 {
		return list.Record{}, false, nil
	}
	r, ok, err := loadSubscriber(tx, id)
	if !ok || err != nil {
		return r, ok, err
	}
	if len(k.Hash) > 0 {
		r.Suppression, err = loadSuppression(tx, k.Hash)
	}
	return r, true, err
}

// keyName describes k in errors without the address, which is personal data.
func keyName(k list.Key) string {
	if k.ID != 0 {
		return fmt.Sprint(k.ID)
	}
	return "by identity"
}

// Record reads a subscriber with subscriptions, and the suppression entry
// when k.Hash is set.
func (db *DB) Record(ctx context.Context, k list.Key) (list.Record, error) {
	var r list.Record
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var ok bool
		var err error
		r, ok, err = loadRecord(tx, k)
		if err == nil && !ok {
			err = list.ErrNotFound
		}
		return err
	})
	if err != nil {
		return list.Record{}, fmt.Errorf("store: subscriber %s: %w", keyName(k), err)
	}
	return r, nil
}

// recipientValue is the part of a stored subscriber that sending a
// campaign reads. Decoding only it skips the consent proofs and the
// timestamps, which are most of the work of decoding a whole record.
type recipientValue struct {
	ID            list.SubscriberID       `json:"id"`
	Email         string                  `json:"email"`
	Identity      string                  `json:"identity"`
	Name          string                  `json:"name"`
	Attributes    map[string]string       `json:"attributes"`
	Blocklisted   bool                    `json:"blocklisted"`
	NoTracking    bool                    `json:"no_tracking"`
	TrackOpens    bool                    `json:"track_opens"`
	Nonce         uint32                  `json:"nonce"`
	Subscriptions []recipientSubscription `json:"subscriptions"`
}

// recipientSubscription is the part of a stored subscription that sending
// reads.
type recipientSubscription struct {
	List  list.ListID `json:"list_id"`
	State list.State  `json:"state"`
	Nonce uint32      `json:"nonce"`
}

// Recipient reads what sending a campaign needs of a subscriber: the
// subscriber's address, name, attributes, flags and nonce, and each
// subscription's list, state and nonce. The rest of the Record (times,
// consent proofs, pending address) is left zero.
func (db *DB) Recipient(ctx context.Context, id list.SubscriberID) (list.Record, error) {
	var v recipientValue
	err := db.view(ctx, func(tx *bolt.Tx) error {
		k := u64(uint64(id))
		data := bucket(tx, bSubscribers).Get(k)
		if data == nil {
			return list.ErrNotFound
		}
		if err := decodeRecipient(data, &v); err != nil {
			return fmt.Errorf("decode value of key %x: %w", k, err)
		}
		return nil
	})
	if err != nil {
		return list.Record{}, fmt.Errorf("store: recipient %d: %w", id, err)
	}
	r := list.Record{Subscriber: list.Subscriber{ID: v.ID, Email: v.Email, Identity: v.Identity, Name: v.Name, Attributes: v.Attributes,
		Blocklisted: v.Blocklisted, NoTracking: v.NoTracking, TrackOpens: v.TrackOpens, Nonce: v.Nonce}}
	r.Subscriptions = make([]list.Subscription, len(v.Subscriptions))
	for i, s := range v.Subscriptions {
		r.Subscriptions[i] = list.Subscription{List: s.List, State: s.State, Nonce: s.Nonce}
	}
	return r, nil
}

// fnError carries the caller's fn error through bbolt unchanged.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// UpdateSubscriber runs fn on the record in one transaction, then writes the
// record, every index it touches (identity, name, membership, counters,
// suppression) and fn's effects. An error from fn is returned as is and
// nothing is written. When the suppression entry is known (k.Hash set, or
// fn set Record.Suppression with a Hash), it is written or deleted to match
// Record.Suppression and Subscriber.Blocklisted follows it.
func (db *DB) UpdateSubscriber(ctx context.Context, k list.Key, create bool, fn func(*list.Record, *list.Effects) error) (list.Record, error) {
	var out list.Record
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = db.updateSubscriberTx(tx, k, create, fn)
		return err
	})
	if fe, ok := err.(*fnError); ok {
		return list.Record{}, fe.err
	}
	if err != nil {
		return list.Record{}, fmt.Errorf("store: update subscriber %s: %w", keyName(k), err)
	}
	return out, nil
}

func (db *DB) updateSubscriberTx(tx *bolt.Tx, k list.Key, create bool, fn func(*list.Record, *list.Effects) error) (list.Record, error) {
	rec, found, err := loadRecord(tx, k)
	if err != nil {
		return list.Record{}, err
	}
	if !found {
		if !create || k.ID != 0 || k.Identity == "" {
			return list.Record{}, list.ErrNotFound
		}
		rec = list.Record{Subscriber: list.Subscriber{Identity: k.Identity}}
		if len(k.Hash) > 0 {
			if rec.Suppression, err = loadSuppression(tx, k.Hash); err != nil {
				return list.Record{}, err
			}
		}
	}
	old := snapshot(&rec)
	var eff list.Effects
	if err := fn(&rec, &eff); err != nil {
		return list.Record{}, &fnError{err}
	}
	w := writer{tx: tx, now: db.now()}
	if !found {
		w.absent = k.Identity // loadRecord just found no owner in the index
	}
	w.unsuppressed = len(k.Hash) > 0 && old.suppression == nil
	if err := w.writeRecord(&rec, &old, k.Hash); err != nil {
		return list.Record{}, err
	}
	if err := w.writeEffects(rec.Subscriber.ID, &eff); err != nil {
		return list.Record{}, err
	}
	return rec, nil
}

// DeleteSubscriber deletes a subscriber with their subscriptions, index
// entries, events and queued mails. Their suppression entry, if any, stays.
func (db *DB) DeleteSubscriber(ctx context.Context, id list.SubscriberID) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		rec, ok, err := loadSubscriber(tx, id)
		if err != nil {
			return err
		}
		if !ok {
			return list.ErrNotFound
		}
		for _, s := range rec.Subscriptions {
			if err := removeMember(tx, s.List, id); err != nil {
				return err
			}
		}
		if err := deleteSubscriberIndexes(tx, &rec); err != nil {
			return err
		}
		if err := deleteEventsOf(tx, id); err != nil {
			return err
		}
		if err := deleteMailsOf(tx, id); err != nil {
			return err
		}
		if err := addSubscriberCount(tx, -1); err != nil {
			return err
		}
		return bucket(tx, bSubscribers).Delete(u64(uint64(id)))
	})
	if err != nil {
		return fmt.Errorf("store: delete subscriber %d: %w", id, err)
	}
	return nil
}
