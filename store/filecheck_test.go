package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// closedStore makes a store holding a few hundred subscribers, closes it
// and returns its path and its high-water mark in bytes (the pages in use
// times the page size).
func closedStore(t testing.TB) (path string, used int64) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "bulletin.db")
	db, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	l := mustCreateList(t, db, "news")
	fill(t, db, 600, l.ID)
	db.bolt.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path, used
}

// truncatedCopy writes the first n bytes of the file at src to a new file.
func truncatedCopy(t testing.TB, src string, n int64) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "cut.db")
	if err := os.WriteFile(dst, b[:n], 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestTruncatedStore: bbolt maps a file without checking that it holds
// the pages its header names and faults reading past the end (SIGSEGV,
// which kills the process), so Open and Inspect must refuse a store cut
// short anywhere, read-only or not.
func TestTruncatedStore(t *testing.T) {
	t.Parallel()
	path, used := closedStore(t)
	page := int64(os.Getpagesize())
	for _, n := range []int64{0, 100, page, 2 * page, 4 * page, 16 << 10, 2*page + 1, used / 2, used - page, used - 1} {
		cut := truncatedCopy(t, path, n)
		if _, err := Inspect(cut); !errors.Is(err, list.ErrCorrupt) {
			t.Errorf("Inspect(store cut to %d of %d bytes) = %v, want ErrCorrupt", n, used, err)
		}
		for _, ro := range []bool{true, false} {
			db, err := Open(cut, Options{ReadOnly: ro})
			if err == nil {
				db.Close()
			}
			if !errors.Is(err, list.ErrCorrupt) {
				t.Errorf("Open(store cut to %d of %d bytes, read-only %v) = %v, want ErrCorrupt", n, used, ro, err)
			}
		}
		if fi, err := os.Stat(cut); err != nil || fi.Size() != n {
			t.Errorf("the refused file changed: %v, %v", fi, err)
		}
	}
	_, err := Inspect(truncatedCopy(t, path, used/2))
	if want := fmt.Sprintf("has %d bytes, its header needs at least %d", used/2, used); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Inspect(cut store) = %v, want it to say %q", err, want)
	}
	if _, err := Inspect(truncatedCopy(t, path, used)); err != nil {
		t.Errorf("Inspect(store of exactly its pages) = %v", err)
	}
}

// TestCheckFileMetas: like bbolt, the check uses the valid meta page with
// the higher transaction id, and falls back to the other when one is
// damaged; a file with neither is refused.
func TestCheckFileMetas(t *testing.T) {
	t.Parallel()
	path, _ := closedStore(t)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := int64(os.Getpagesize())
	damage := func(b []byte, pages ...int64) []byte {
		b = bytes.Clone(b)
		for _, p := range pages {
			b[p*page+boltPageHeader+48] ^= 0xff // txid: the checksum no longer matches
		}
		return b
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"whole", whole, nil},
		{"meta 0 damaged", damage(whole, 0), nil},
		{"meta 1 damaged", damage(whole, 1), nil},
		{"both metas damaged", damage(whole, 0, 1), list.ErrCorrupt},
		{"meta 0 damaged, cut", damage(whole[:2*page+1], 0), list.ErrCorrupt},
		{"meta 1 damaged, cut", damage(whole[:2*page+1], 1), list.ErrCorrupt},
		{"text", []byte("email,name\nann@example.org,Ann\n"), list.ErrCorrupt},
		{"zeros", make([]byte, 64<<10), list.ErrCorrupt},
	}
	for _, tt := range tests {
		err := checkHeader(bytes.NewReader(tt.data), int64(len(tt.data)))
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("checkHeader(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// FuzzCheckHeader: any bytes at all are refused or accepted without a
// panic, and a file accepted stays accepted with more bytes after it
// (bbolt files may be longer than their pages).
func FuzzCheckHeader(f *testing.F) {
	path, used := closedStore(f)
	whole, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	page := os.Getpagesize()
	for _, n := range []int{0, 80, page, page + 80, 2 * page, int(used / 2), int(used)} {
		f.Add(whole[:n])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkHeader(bytes.NewReader(data), int64(len(data)))
		if err != nil && !errors.Is(err, list.ErrCorrupt) {
			t.Errorf("checkHeader = %v, want nil or ErrCorrupt", err)
		}
		if err == nil {
			longer := append(bytes.Clone(data), make([]byte, 4096)...)
			if err := checkHeader(bytes.NewReader(longer), int64(len(longer))); err != nil {
				t.Errorf("checkHeader accepts %d bytes but refuses them padded: %v", len(data), err)
			}
		}
	})
}
