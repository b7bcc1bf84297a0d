package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole store to w. The copy is
// first written to a temporary file beside the store (or in the system
// temporary directory), so that a slow w never holds a read transaction
// open, which would keep bbolt from reusing freed pages meanwhile. That
// raw copy is then compacted into a second one, which is what w gets:
// bbolt leaves deleted records' bytes in its free pages, and a backup
// must not carry an erased person there for as long as it is kept.
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	raw, err := db.tempFile()
	if err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	defer os.Remove(raw.Name())
	defer raw.Close()
	err = db.bolt.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(raw)
		return err
	})
	if err == nil {
		err = raw.Close()
	}
	if err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	f, err := compactCopy(raw.Name())
	if err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(w, list.ContextReader(ctx, f))
	if err != nil {
		return n, fmt.Errorf("store: backup: %w", err)
	}
	return n, nil
}

// tempFile makes a temporary file beside the store, or in the system
// temporary directory.
func (db *DB) tempFile() (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(db.path), ".bulletin-backup-*")
	if err != nil {
		f, err = os.CreateTemp("", "bulletin-backup-*")
	}
	return f, err
}

// compactCopy compacts the store file at path into a new temporary file
// beside it and returns that file, open at its start.
func compactCopy(path string) (*os.File, error) {
	src, err := openBolt(path, boltOptions(true))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dst := path + ".compact"
	if err := compactInto(dst, src); err != nil {
		os.Remove(dst)
		return nil, err
	}
	f, err := os.Open(dst)
	if err != nil {
		os.Remove(dst)
		return nil, err
	}
	return f, nil
}
