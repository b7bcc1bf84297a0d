package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// defaultLimit is used when a caller passes a limit of zero or less.
const defaultLimit = 100

func limitOr(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

// bucket returns a bucket that Open guarantees to exist, with its fill
// percent set (bbolt keeps it per transaction, not in the file).
func bucket(tx *bolt.Tx, name string) *bolt.Bucket {
	b := tx.Bucket([]byte(name))
	if f := fillPercent(name); f != 0 {
		b.FillPercent = f
	}
	return b
}

// fillPercent is how full bbolt packs the pages of a bucket keyed by
// increasing ids when it splits them (0: bbolt's default of one half).
// Appends fill the last page, so packing it tight halves the file instead
// of leaving every page half empty. Subscriber records (updated in place)
// and events (a known subscriber's new ones land mid-bucket) keep a tenth
// free; membership values have a fixed size.
func fillPercent(name string) float64 {
	switch name {
	case bSubscribers, bEvents:
		return 0.9
	case bMembers, bEventIP:
		return 1.0
	}
	return 0
}

// u64 encodes v as an 8-byte big-endian key, so key order is numeric order.
func u64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}

// key2 and key3 concatenate big-endian ids into a composite key.
func key2(a, b uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, a)
	binary.BigEndian.PutUint64(k[8:], b)
	return k
}

func key3(a, b, c uint64) []byte {
	k := make([]byte, 24)
	binary.BigEndian.PutUint64(k, a)
	binary.BigEndian.PutUint64(k[8:], b)
	binary.BigEndian.PutUint64(k[16:], c)
	return k
}

// readU64 decodes 8 bytes at off, or 0 when the slice is too short.
func readU64(b []byte, off int) uint64 {
	if len(b) < off+8 {
		return 0
	}
	return binary.BigEndian.Uint64(b[off:])
}

// timeKey maps t to an order-preserving uint64: Unix nanoseconds, clamped to
// 0 for the zero time and anything before 1970.
func timeKey(t time.Time) uint64 {
	if t.IsZero() || t.Unix() < 0 {
		return 0
	}
	if t.Unix() >= math.MaxInt64/int64(time.Second) {
		return math.MaxUint64
	}
	return uint64(t.UnixNano())
}

// keyTime is the inverse of timeKey; 0 is the zero time.
func keyTime(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v)).UTC()
}

// putJSON stores v as JSON under key.
func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// getJSON decodes the value under key into v; decoding copies it out of the
// transaction. It reports whether the key existed.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	return true, decode(key, data, v)
}

// decode decodes a JSON value read under key, copying it out of the tx.
func decode(key, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode value of key %x: %w", key, err)
	}
	return nil
}

// seekPast positions c at the first key greater than k, so that paging
// "after id" works for every id, the largest included.
func seekPast(c *bolt.Cursor, k []byte) ([]byte, []byte) {
	ck, v := c.Seek(k)
	if ck != nil && bytes.Equal(ck, k) {
		return c.Next()
	}
	return ck, v
}

// mustGet is getJSON with a missing key reported as list.ErrNotFound.
func mustGet(b *bolt.Bucket, key []byte, v any, what string, id uint64) error {
	ok, err := getJSON(b, key, v)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s %d", list.ErrNotFound, what, id)
	}
	return nil
}

// next assigns the bucket's next sequence number.
func next(b *bolt.Bucket) (uint64, error) {
	return b.NextSequence()
}

// clone copies b out of a transaction; nil stays nil.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return bytes.Clone(b)
}

// prefixKeys collects up to max keys with prefix starting at from (which must
// itself start with prefix). Collecting before deleting sidesteps bbolt's
// cursor skipping an element after Cursor.Delete.
func prefixKeys(b *bolt.Bucket, prefix, from []byte, max int) [][]byte {
	var keys [][]byte
	c := b.Cursor()
	k, _ := c.First()
	if from != nil {
		k, _ = c.Seek(from)
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(keys) == max {
			break
		}
		keys = append(keys, clone(k))
	}
	return keys
}

// deletePrefix deletes every key starting with prefix and returns them.
func deletePrefix(b *bolt.Bucket, prefix []byte) ([][]byte, error) {
	keys := prefixKeys(b, prefix, prefix, math.MaxInt)
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
