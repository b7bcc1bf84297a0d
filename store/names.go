package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"unicode/utf8"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// A large import leaves the name search entries of the subscribers it
// creates out of its transactions and adds them at the end in key order,
// which writes each page of the name index once instead of rewriting most
// of them in every batch. A meta mark says so and makes it crash-safe:
//
//	meta "names_deferred" → from(8) | state(1)
//	meta "names_touched" 0x00 | subID → nil
//
// While the mark is set, subscribers with an id from "from" on may lack a
// name entry, but every entry present is right. In the deferring state (0)
// a new subscriber gets no name entry. When the last import sharing the
// mark finishes, it switches to the building state (1): writes are made as
// usual again, and one that touches a name entry of an id from "from" on
// also marks that id touched. The build reads the subscribers from "from"
// on in chunks, sorts their entries through a spill file and adds them in
// key order, skipping touched ids (their entries were written by the
// touching transaction, perhaps after the build read them), and clears the
// mark. Open finishes a build left by a crash; the next import takes over
// one left by a failed build (a touched id's entry stays right in either
// state, so going back to deferring is safe).
const (
	metaNames        = "names_deferred"
	metaNamesTouched = "names_touched\x00"
)

// Sizes of the build: records read per view transaction, entries per write
// transaction, bytes of entries sorted in memory.
const (
	namesScanChunk  = 50_000
	namesWriteChunk = 50_000 // DB.namesChunk; tests make it small
	namesSortBudget = 32 << 20
)

// namesState is what this process knows of the deferred name entries: the
// imports sharing the mark, and whether one of them is building.
type namesState struct {
	mu       sync.Mutex
	users    int
	building bool
}

type namesMark struct {
	from     uint64
	building bool
}

func readNamesMark(tx *bolt.Tx) (namesMark, bool) {
	v := bucket(tx, bMeta).Get([]byte(metaNames))
	if len(v) < 9 {
		return namesMark{}, false
	}
	return namesMark{from: readU64(v, 0), building: v[8] == 1}, true
}

func putNamesMark(tx *bolt.Tx, m namesMark) error {
	v := make([]byte, 9)
	binary.BigEndian.PutUint64(v, m.from)
	if m.building {
		v[8] = 1
	}
	return bucket(tx, bMeta).Put([]byte(metaNames), v)
}

func touchedKey(id list.SubscriberID) []byte {
	return binary.BigEndian.AppendUint64([]byte(metaNamesTouched), uint64(id))
}

// noteName is called before a name entry of subscriber id is written
// (created: the subscriber is new in this transaction) or deleted. It says
// whether the write is left to a deferred build, and marks the id touched
// while a build runs.
func noteName(tx *bolt.Tx, id list.SubscriberID, created bool) (skip bool, err error) {
	m, ok := readNamesMark(tx)
	if !ok || uint64(id) < m.from {
		return false, nil
	}
	if !m.building {
		return created, nil
	}
	return false, bucket(tx, bMeta).Put(touchedKey(id), nil)
}

// DeferNameIndex starts leaving the name search entries of new subscribers
// out, for an import; FinishNameIndex must follow, and Open finishes after
// a crash. It reports false, and defers nothing, while another import's
// entries are being built.
func (db *DB) DeferNameIndex(ctx context.Context) (bool, error) {
	db.names.mu.Lock()
	defer db.names.mu.Unlock()
	if db.names.building {
		return false, nil
	}
	err := db.update(ctx, func(tx *bolt.Tx) error {
		m, ok := readNamesMark(tx)
		if !ok {
			m.from = bucket(tx, bSubscribers).Sequence() + 1
		}
		m.building = false // a build that failed is taken over by this import's
		return putNamesMark(tx, m)
	})
	if err != nil {
		return false, fmt.Errorf("store: defer name index: %w", err)
	}
	db.names.users++
	return true, nil
}

// FinishNameIndex ends one DeferNameIndex. The last import to finish adds
// the deferred entries, calling progress after each write transaction with
// the entries added and to add, and returns once every subscriber can be
// found by name.
func (db *DB) FinishNameIndex(ctx context.Context, progress func(done, total int)) error {
	db.names.mu.Lock()
	if db.names.users > 0 {
		db.names.users--
	}
	last := db.names.users == 0
	if last {
		db.names.building = true
	}
	db.names.mu.Unlock()
	if !last {
		return nil
	}
	defer func() {
		db.names.mu.Lock()
		db.names.building = false
		db.names.mu.Unlock()
	}()
	if err := db.finishNames(ctx, progress); err != nil {
		return fmt.Errorf("store: finish name index: %w", err)
	}
	return nil
}

// finishNames switches the mark to building and builds; only one call at a
// time, and no deferring meanwhile.
func (db *DB) finishNames(ctx context.Context, progress func(done, total int)) error {
	var m namesMark
	var to uint64
	build := false
	err := db.update(ctx, func(tx *bolt.Tx) error {
		m, build = readNamesMark(tx)
		if !build {
			return nil
		}
		m.building = true
		to = bucket(tx, bSubscribers).Sequence()
		return putNamesMark(tx, m)
	})
	if err != nil || !build {
		return err
	}
	return db.buildNames(ctx, m.from, to, progress)
}

// resumeNames finishes a name build that a crash interrupted.
func (db *DB) resumeNames() error {
	pending := false
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		_, pending = readNamesMark(tx)
		return nil
	}); err != nil || !pending {
		return err
	}
	db.log.Info("store finishing the name index of an interrupted import")
	if err := db.finishNames(context.Background(), nil); err != nil {
		return fmt.Errorf("finish name index: %w", err)
	}
	return nil
}

// buildNames adds the name entries of subscribers from..to in key order
// and clears the mark.
func (db *DB) buildNames(ctx context.Context, from, to uint64, progress func(done, total int)) error {
	sp := list.NewSpill(filepath.Dir(db.path), namesSortBudget, compareNameEntries)
	defer sp.Close()
	if err := db.scanNames(ctx, sp, from, to); err != nil {
		return err
	}
	if err := db.insertNames(ctx, sp, progress); err != nil {
		return err
	}
	return db.update(ctx, clearNamesMark)
}

// insertNames adds the sorted entries of sp in write transactions of
// db.namesChunk entries.
func (db *DB) insertNames(ctx context.Context, sp *list.Spill, progress func(done, total int)) error {
	var batch []byte
	var ends []int
	done, total := 0, sp.Len()
	flush := func() error {
		if err := db.update(ctx, func(tx *bolt.Tx) error { return putNameEntries(tx, batch, ends) }); err != nil {
			return err
		}
		done += len(ends)
		batch, ends = nil, nil // bbolt keeps the values it was given until commit: a new buffer
		if progress != nil {
			progress(done, total)
		}
		return nil
	}
	err := sp.Each(func(rec []byte) error {
		batch = append(batch, rec...)
		ends = append(ends, len(batch))
		if len(ends) == db.namesChunk {
			return flush()
		}
		return nil
	})
	if err == nil && len(ends) > 0 {
		err = flush()
	}
	return err
}

// scanNames reads subscribers from..to in chunks of view transactions and
// adds their name entries to sp.
func (db *DB) scanNames(ctx context.Context, sp *list.Spill, from, to uint64) error {
	next := from
	var rec []byte
	for next <= to {
		err := db.view(ctx, func(tx *bolt.Tx) error {
			c := bucket(tx, bSubscribers).Cursor()
			read := 0
			for k, v := c.Seek(u64(next)); k != nil && readU64(k, 0) <= to; k, v = c.Next() {
				if read == namesScanChunk {
					next = readU64(k, 0)
					return nil
				}
				read++
				name, identity, err := nameAndIdentity(v)
				if err != nil {
					return fmt.Errorf("decode subscriber %d: %w", readU64(k, 0), err)
				}
				if name != "" {
					rec = appendNameEntry(rec[:0], nameKey(name, list.SubscriberID(readU64(k, 0))), identity)
					if err := sp.Add(rec); err != nil {
						return err
					}
				}
			}
			next = to + 1
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// A name entry in the spill: uvarint key length, key, value.
func appendNameEntry(b, key []byte, identity string) []byte {
	b = binary.AppendUvarint(b, uint64(len(key)))
	return append(append(b, key...), identity...)
}

func splitNameEntry(rec []byte) (key, value []byte) {
	n, l := binary.Uvarint(rec)
	return rec[l : l+int(n)], rec[l+int(n):]
}

func compareNameEntries(a, b []byte) int {
	ka, _ := splitNameEntry(a)
	kb, _ := splitNameEntry(b)
	return bytes.Compare(ka, kb)
}

// putNameEntries adds the entries in batch (ends: where each ends), in key
// order, except those of touched subscribers.
func putNameEntries(tx *bolt.Tx, batch []byte, ends []int) error {
	touched := map[uint64]bool{}
	c := bucket(tx, bMeta).Cursor()
	pre := []byte(metaNamesTouched)
	for k, _ := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, _ = c.Next() {
		touched[readU64(k, len(pre))] = true
	}
	b := bucket(tx, bSubName)
	// Sorted inserts fill each page before the next: pack them as full
	// as the id-ordered buckets.
	b.FillPercent = 0.9
	start := 0
	for _, end := range ends {
		k, v := splitNameEntry(batch[start:end])
		start = end
		if touched[readU64(k, len(k)-8)] {
			continue
		}
		if err := b.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

// clearNamesMark ends a build: the mark and the touched ids go.
func clearNamesMark(tx *bolt.Tx) error {
	meta := bucket(tx, bMeta)
	pre := []byte(metaNamesTouched)
	var keys [][]byte
	c := meta.Cursor()
	for k, _ := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, _ = c.Next() {
		keys = append(keys, clone(k))
	}
	for _, k := range keys {
		if err := meta.Delete(k); err != nil {
			return err
		}
	}
	return meta.Delete([]byte(metaNames))
}

// nameAndIdentity reads the name and identity of a stored subscriber. It
// walks the top-level keys of the JSON only, which is several times faster
// than decoding it, and decodes it in full when the walk does not find them.
func nameAndIdentity(v []byte) (name, identity string, err error) {
	var got [2]bool
	s := jsonWalker(v)
	ok := s.byte() == '{'
	for ok && !(got[0] && got[1]) {
		var key, raw []byte
		if key, ok = s.rawString(); !ok || s.byte() != ':' {
			break
		}
		switch string(key) {
		case `"name"`, `"identity"`:
			if raw, ok = s.rawString(); !ok {
				break
			}
			str, err := jsonString(raw)
			if err != nil {
				return "", "", err
			}
			if key[1] == 'n' {
				name, got[0] = str, true
			} else {
				identity, got[1] = str, true
			}
		default:
			ok = s.skipValue()
		}
		ok = ok && s.byte() == ','
	}
	if got[0] && got[1] {
		return name, identity, nil
	}
	var nv struct {
		Name     string `json:"name"`
		Identity string `json:"identity"`
	}
	err = json.Unmarshal(v, &nv)
	return nv.Name, nv.Identity, err
}

// jsonString decodes the JSON string literal raw (quotes included).
func jsonString(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// jsonWalker steps through JSON text it trusts to be valid (a stored
// value); a step that finds something else reports false.
type jsonWalker []byte

// byte returns the next byte that is not white space, or 0 at the end.
func (w *jsonWalker) byte() byte {
	w.space()
	if len(*w) == 0 {
		return 0
	}
	c := (*w)[0]
	*w = (*w)[1:]
	return c
}

// rawString returns the next string literal, quotes included.
func (w *jsonWalker) rawString() ([]byte, bool) {
	w.space()
	b := *w
	if len(b) == 0 || b[0] != '"' {
		return nil, false
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			*w = b[i+1:]
			return b[:i+1], true
		}
	}
	return nil, false
}

// space steps over white space.
func (w *jsonWalker) space() {
	for len(*w) > 0 && isJSONSpace((*w)[0]) {
		*w = (*w)[1:]
	}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipValue steps over the next value.
func (w *jsonWalker) skipValue() bool {
	depth := 0
	for {
		w.space()
		b := *w
		if len(b) == 0 {
			return false
		}
		switch c := b[0]; {
		case c == '"':
			if _, ok := w.rawString(); !ok {
				return false
			}
		case c == '{' || c == '[':
			depth++
			*w = b[1:]
		case c == '}' || c == ']':
			if depth == 0 {
				return false
			}
			depth--
			*w = b[1:]
		case c == ',' || c == ':':
			if depth == 0 {
				return false
			}
			*w = b[1:]
		default: // number, true, false, null
			i := 0
			for i < len(b) && !isJSONSpace(b[i]) && b[i] != ',' && b[i] != ':' && b[i] != ']' && b[i] != '}' {
				i++
			}
			*w = b[i:]
		}
		if depth == 0 {
			return true
		}
	}
}
