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
// open, which would keep bbolt from reusing freed pages meanwhile.
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(db.path), ".bulletin-backup-*")
	if err != nil {
		f, err = os.CreateTemp("", "bulletin-backup-*")
	}
	if err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	err = db.bolt.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(f)
		return err
	})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	n, err := io.Copy(w, list.ContextReader(ctx, f))
	if err != nil {
		return n, fmt.Errorf("store: backup: %w", err)
	}
	return n, nil
}
