package store

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// metaBounceRawPruned is the meta key of the raw-message pruning watermark:
// no bounce record with an id at or below it keeps its raw message. It
// saves every prune from walking the whole bounces bucket. An absent key
// reads as 0.
const metaBounceRawPruned = "bounce_raw_pruned"

// rawField marks a stored bounce that keeps its raw message: the JSON key of
// bounceValue.Raw. A quote inside a string value is always escaped, so the
// bytes cannot occur inside another field.
var rawField = []byte(`"raw":"`)

// PruneBounceRaw drops the raw messages of the oldest bounce records until
// the stored bounce records newer than the watermark, newest first, fit in
// maxBytes (their JSON size, raw message included). It returns how many raw
// messages it dropped. The work is proportional to the records within the
// cap plus the ones it prunes.
func (db *DB) PruneBounceRaw(ctx context.Context, maxBytes int64) (int, error) {
	n := 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		meta, bounces := bucket(tx, bMeta), bucket(tx, bBounces)
		mark := readU64(meta.Get([]byte(metaBounceRawPruned)), 0)
		var total int64
		var newMark uint64
		var drop [][]byte
		c := bounces.Cursor()
		for k, v := c.Last(); k != nil && readU64(k, 0) > mark; k, v = c.Prev() {
			total += int64(len(v))
			if total <= maxBytes {
				continue
			}
			if newMark == 0 {
				newMark = readU64(k, 0)
			}
			if bytes.Contains(v, rawField) {
				drop = append(drop, bytes.Clone(k))
			}
		}
		for _, k := range drop {
			var v bounceValue
			if _, err := getJSON(bounces, k, &v); err != nil {
				return err
			}
			v.Raw = nil
			if err := putJSON(bounces, k, &v); err != nil {
				return err
			}
		}
		n = len(drop)
		if newMark > mark {
			return meta.Put([]byte(metaBounceRawPruned), u64(newMark))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune bounce raw messages: %w", err)
	}
	return n, nil
}
