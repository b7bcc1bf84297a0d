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

// EraseTraces deletes what an erased subscriber left outside their record,
// in one transaction: the bounce records that name them or one of their
// addresses (with their index entries), and their per-recipient send
// records in every campaign (with the Message-ID and deferral entries). It
// returns how many records it deleted. The campaigns' counters stay.
func (db *DB) EraseTraces(ctx context.Context, id list.SubscriberID, emails []string) (int, error) {
	n := 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if n, err = eraseBounces(tx, id, emails); err != nil {
			return err
		}
		m, err := eraseSends(tx, id)
		n += m
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: erase traces of subscriber %d: %w", id, err)
	}
	return n, nil
}

func eraseBounces(tx *bolt.Tx, id list.SubscriberID, emails []string) (int, error) {
	bounces := bucket(tx, bBounces)
	var doomed []bounceValue
	err := bounces.ForEach(func(k, v []byte) error {
		var bv bounceValue
		if err := decode(k, v, &bv); err != nil {
			return err
		}
		if bv.Subscriber == id && id != 0 || bv.Email != "" && hasIdentity(emails, bv.Email) {
			doomed = append(doomed, bv)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, bv := range doomed {
		if bv.Email != "" {
			// Records indexed before the index took identities are under
			// the address as it came, lower-cased.
			for _, prefix := range [][]byte{bounceEmailPrefix(bv.Email), append([]byte(strings.ToLower(bv.Email)), 0)} {
				if err := bucket(tx, bBounceEmail).Delete(binary.BigEndian.AppendUint64(prefix, uint64(bv.ID))); err != nil {
					return 0, err
				}
			}
		}
		if bv.Campaign != 0 {
			if err := bucket(tx, bBounceCamp).Delete(key2(uint64(bv.Campaign), uint64(bv.ID))); err != nil {
				return 0, err
			}
		}
		if err := bounces.Delete(u64(uint64(bv.ID))); err != nil {
			return 0, err
		}
	}
	return len(doomed), nil
}

// hasIdentity reports whether s is one of the addresses ss, whatever the
// case or the form of its domain (Unicode or IDNA).
func hasIdentity(ss []string, s string) bool {
	id := bounceIdentity(s)
	for _, x := range ss {
		if bounceIdentity(x) == id {
			return true
		}
	}
	return false
}

// eraseSends deletes the subscriber's send record in each campaign.
func eraseSends(tx *bolt.Tx, id list.SubscriberID) (int, error) {
	sends := bucket(tx, bSends)
	n := 0
	c := bucket(tx, bCampaigns).Cursor()
	for ck, _ := c.First(); ck != nil; ck, _ = c.Next() {
		if len(ck) != 8 {
			continue
		}
		k := key2(readU64(ck, 0), uint64(id))
		var r list.SendRecord
		ok, err := getJSON(sends, k, &r)
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		if r.MessageID != "" {
			if err := deleteMsgID(tx, &r); err != nil {
				return n, err
			}
		}
		if r.Outcome == list.OutcomeDeferred {
			if err := bucket(tx, bSendDefer).Delete(deferKey(&r)); err != nil {
				return n, err
			}
		}
		if err := sends.Delete(bytes.Clone(k)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
