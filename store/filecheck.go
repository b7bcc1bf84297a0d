package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// bbolt's file header, as laid out by go.etcd.io/bbolt v1.5.0
// internal/common/page.go and meta.go: pages 0 and 1 each hold a page
// header of 16 bytes ({id u64, flags u16, count u16, overflow u32})
// followed by a meta of 64 bytes, written in the host's byte order:
//
//	 0 magic u32      4 version u32     8 pageSize u32   12 flags u32
//	16 root pgid u64 24 root seq u64   32 freelist u64  40 pgid u64
//	48 txid u64      56 checksum u64 (FNV-64a of bytes 0-55)
//
// pgid is the high-water mark: the file holds pgid whole pages.
const (
	boltPageHeader  = 16
	boltMetaSize    = 64
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	boltNoFreelist  = math.MaxUint64
	boltMinPageSize = 1024
	// boltMaxPageSize is the largest page size bbolt looks for when the
	// first meta is unreadable (1 KiB << 14).
	boltMaxPageSize = 1024 << 14
)

// boltMeta is the part of a bbolt meta page the check needs.
type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

// openBolt checks the file at path with checkFile and then opens it with
// bbolt. bbolt maps a file without checking that it holds the pages its
// header names, and faults reading past the end of a truncated one
// (SIGSEGV or SIGBUS, which no recover catches): every bolt.Open in this
// package goes through here.
func openBolt(path string, opts *bolt.Options) (*bolt.DB, error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	return bolt.Open(path, 0o600, opts)
}

// lockWait is how long an Open waits for a lock held elsewhere: long
// enough for a process that is closing the store to let it go.
const lockWait = 500 * time.Millisecond

// boltOptions are the options of every bbolt file this package opens: a
// lock held elsewhere fails after lockWait, so that a command on a served
// store fails within a second, its own start included.
func boltOptions(readOnly bool) *bolt.Options {
	return &bolt.Options{
		Timeout:  lockWait,
		ReadOnly: readOnly,
		// The map freelist keeps commits fast in big, fragmented files.
		FreelistType: bolt.FreelistMapType,
	}
}

// checkFile refuses a file at path that bbolt could not read safely: one
// without a valid meta page, or shorter than the pages its newest valid
// meta says are in use. The error wraps list.ErrCorrupt. A file that does
// not exist passes: bbolt makes a new one (or, read-only, fails itself).
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return checkHeader(f, fi.Size())
}

// checkHeader checks the bbolt header of a file of size bytes read
// through r, as checkFile describes.
func checkHeader(r io.ReaderAt, size int64) error {
	if size == 0 {
		// bbolt would write a new, empty store into it: a store cut to
		// nothing must not come back as a fresh one with new secrets.
		return fmt.Errorf("%w: the file is empty", list.ErrCorrupt)
	}
	m, ok := newestMeta(r)
	if !ok {
		return fmt.Errorf("%w: not a bbolt file, or both of its header pages are damaged (%d bytes)", list.ErrCorrupt, size)
	}
	if m.root >= m.pgid || (m.freelist >= m.pgid && m.freelist != boltNoFreelist) {
		return fmt.Errorf("%w: its header points past its own end (page %d or %d of %d)", list.ErrCorrupt, m.root, m.freelist, m.pgid)
	}
	if m.pgid > uint64(math.MaxInt64)/uint64(m.pageSize) {
		return fmt.Errorf("%w: its header names %d pages of %d bytes", list.ErrCorrupt, m.pgid, m.pageSize)
	}
	if need := int64(m.pgid) * int64(m.pageSize); size < need {
		return fmt.Errorf("%w: has %d bytes, its header needs at least %d", list.ErrCorrupt, size, need)
	}
	return nil
}

// newestMeta reads both meta pages and returns the valid one with the
// higher transaction id, as bbolt picks it. The first meta's page size
// locates the second; when the first is damaged, the second is looked for
// at every page size bbolt itself tries.
func newestMeta(r io.ReaderAt) (boltMeta, bool) {
	m0, ok0 := readMeta(r, 0)
	sizes := []uint32{m0.pageSize}
	if !ok0 {
		sizes = sizes[:0]
		for s := uint32(boltMinPageSize); s <= boltMaxPageSize; s <<= 1 {
			sizes = append(sizes, s)
		}
	}
	for _, s := range sizes {
		m1, ok1 := readMeta(r, int64(s))
		if !ok1 || m1.pageSize != s {
			continue
		}
		if !ok0 || m1.txid > m0.txid {
			return m1, true
		}
		break
	}
	return m0, ok0
}

// readMeta reads and validates the meta of the page at offset off: magic,
// version, checksum, and a page size in the range bbolt looks in.
func readMeta(r io.ReaderAt, off int64) (boltMeta, bool) {
	var b [boltPageHeader + boltMetaSize]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return boltMeta{}, false
	}
	meta := b[boltPageHeader:]
	// bbolt writes the header in the host's byte order.
	ne := binary.NativeEndian
	h := fnv.New64a()
	h.Write(meta[:56])
	if ne.Uint32(meta[0:]) != boltMagic || ne.Uint32(meta[4:]) != boltVersion || ne.Uint64(meta[56:]) != h.Sum64() {
		return boltMeta{}, false
	}
	m := boltMeta{
		pageSize: ne.Uint32(meta[8:]),
		root:     ne.Uint64(meta[16:]),
		freelist: ne.Uint64(meta[32:]),
		pgid:     ne.Uint64(meta[40:]),
		txid:     ne.Uint64(meta[48:]),
	}
	if m.pageSize < boltMinPageSize || m.pageSize > boltMaxPageSize {
		return boltMeta{}, false
	}
	return m, true
}
