package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// bounceValue keeps the raw report, which the API type hides.
type bounceValue struct {
	list.Bounce
	Raw []byte `json:"raw,omitempty"`
}

// bounceEmailPrefix is the bounce_email range of an address, by its
// identity: a report may name "hans@bücher.example" where the API is asked
// for "hans@xn--bcher-kva.example", or the other way round.
func bounceEmailPrefix(email string) []byte {
	return append([]byte(bounceIdentity(email)), 0)
}

// bounceIdentity is the identity of an address (lower case, the domain in
// IDNA), or the text lower-cased when it is no address.
func bounceIdentity(email string) string {
	if a, err := list.ParseAddress(email); err == nil {
		return a.Identity
	}
	return strings.ToLower(email)
}

// AddBounce stores b and sets its id (and its time, if zero).
func (db *DB) AddBounce(ctx context.Context, b *list.Bounce) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		bounces := bucket(tx, bBounces)
		id, err := next(bounces)
		if err != nil {
			return err
		}
		v := bounceValue{Bounce: *b, Raw: b.Raw}
		v.ID = list.BounceID(id)
		if v.At.IsZero() {
			v.At = db.now()
		}
		if err := putJSON(bounces, u64(id), &v); err != nil {
			return err
		}
		if err := indexBounce(tx, &v.Bounce); err != nil {
			return err
		}
		b.ID, b.At = v.ID, v.At
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: add bounce: %w", err)
	}
	return nil
}

func indexBounce(tx *bolt.Tx, b *list.Bounce) error {
	if b.Email != "" {
		k := binary.BigEndian.AppendUint64(bounceEmailPrefix(b.Email), uint64(b.ID))
		if err := bucket(tx, bBounceEmail).Put(k, nil); err != nil {
			return err
		}
	}
	if b.Campaign == 0 {
		return nil
	}
	return bucket(tx, bBounceCamp).Put(key2(uint64(b.Campaign), uint64(b.ID)), nil)
}

// Bounces returns bounces matching f after f.After, oldest first. An email
// or campaign filter walks its index; a kind filter alone scans the bounces
// bucket from the cursor on (bounces are few).
func (db *DB) Bounces(ctx context.Context, f list.BounceFilter) ([]list.Bounce, error) {
	f.Limit = limitOr(f.Limit)
	out := []list.Bounce{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		switch {
		case f.Email != "":
			// The index keys bounces by the address's identity: it has
			// selected by address, and only the other filters need the
			// record, as in CountBounces.
			rest := f
			rest.Email = ""
			out, err = bouncesByIndex(tx, bBounceEmail, bounceEmailPrefix(f.Email), &rest)
		case f.Campaign != 0:
			out, err = bouncesByIndex(tx, bBounceCamp, u64(uint64(f.Campaign)), &f)
		default:
			out, err = bouncesScan(tx, &f)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: bounces: %w", err)
	}
	return out, nil
}

// bouncesByIndex walks an index whose keys are prefix | bounceID.
func bouncesByIndex(tx *bolt.Tx, index string, prefix []byte, f *list.BounceFilter) ([]list.Bounce, error) {
	out := []list.Bounce{}
	bounces := bucket(tx, bBounces)
	c := bucket(tx, index).Cursor()
	from := binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(f.After))
	for k, _ := seekPast(c, from); k != nil && bytes.HasPrefix(k, prefix) && len(out) < f.Limit; k, _ = c.Next() {
		if len(k) != len(prefix)+8 {
			continue // only an address holding a 0x00 could make such a key
		}
		id := k[len(prefix):]
		var v bounceValue
		if err := mustGet(bounces, id, &v, "bounce", readU64(id, 0)); err != nil {
			return nil, err
		}
		if bounceMatches(&v, f) {
			out = append(out, v.bounce())
		}
	}
	return out, nil
}

func bouncesScan(tx *bolt.Tx, f *list.BounceFilter) ([]list.Bounce, error) {
	out := []list.Bounce{}
	c := bucket(tx, bBounces).Cursor()
	for k, v := seekPast(c, u64(uint64(f.After))); k != nil && len(out) < f.Limit; k, v = c.Next() {
		var bv bounceValue
		if err := decode(k, v, &bv); err != nil {
			return nil, err
		}
		if bounceMatches(&bv, f) {
			out = append(out, bv.bounce())
		}
	}
	return out, nil
}

// bounceMatches applies the kind and campaign filters of f to v; the
// address is selected by the bounce_email index.
func bounceMatches(v *bounceValue, f *list.BounceFilter) bool {
	return (f.Kind == "" || v.Kind == f.Kind) &&
		(f.Campaign == 0 || v.Campaign == f.Campaign)
}

func (v *bounceValue) bounce() list.Bounce {
	b := v.Bounce
	b.Raw = v.Raw
	return b
}

// bounceFields is what a count needs of a stored bounce: decoding into it
// skips the raw report, the bulk of the value.
type bounceFields struct {
	Email    string          `json:"email"`
	Kind     list.BounceKind `json:"kind"`
	Campaign list.CampaignID `json:"campaign"`
}

// CountBounces counts the bounces f selects (its After and Limit aside).
// An address or a campaign alone is counted from its index without
// reading a record; a kind reads each candidate's fields, not its report.
func (db *DB) CountBounces(ctx context.Context, f list.BounceFilter) (int, error) {
	n := 0
	err := db.view(ctx, func(tx *bolt.Tx) error {
		bounces := bucket(tx, bBounces)
		var c *bolt.Cursor
		var prefix []byte
		switch {
		case f.Email != "":
			c, prefix = bucket(tx, bBounceEmail).Cursor(), bounceEmailPrefix(f.Email)
		case f.Campaign != 0:
			c, prefix = bucket(tx, bBounceCamp).Cursor(), u64(uint64(f.Campaign))
		default:
			c = bounces.Cursor()
		}
		// The index already says what selected it: only the other filters
		// need the record.
		rest := f
		rest.Email, rest.Campaign = "", 0
		if f.Email != "" {
			rest.Campaign = f.Campaign
		}
		k, v := c.First()
		if prefix != nil {
			k, v = c.Seek(prefix)
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if prefix != nil {
				if len(k) != len(prefix)+8 {
					continue // see bouncesByIndex
				}
				v = bounces.Get(k[len(prefix):])
			}
			ok, err := bounceCounts(k, v, &rest)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: count bounces: %w", err)
	}
	return n, nil
}

// bounceCounts applies the kind and campaign filters of f to the stored
// bounce v, decoding it only when one is set.
func bounceCounts(k, v []byte, f *list.BounceFilter) (bool, error) {
	if f.Kind == "" && f.Campaign == 0 {
		return true, nil
	}
	if v == nil {
		return false, fmt.Errorf("bounce index names missing bounce %x", k)
	}
	var b bounceFields
	if err := decode(k, v, &b); err != nil {
		return false, err
	}
	return (f.Kind == "" || b.Kind == f.Kind) && (f.Campaign == 0 || b.Campaign == f.Campaign), nil
}
