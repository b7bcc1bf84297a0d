package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// backupTempPrefix starts the names of a backup's temporary files in the
// store's folder: the raw copy is backupTempPrefix + the digits
// os.CreateTemp puts for "*", and its compacted copy that name +
// compactSuffix. removeStaleTemps deletes exactly these names.
const (
	backupTempPrefix = ".bulletin-backup-"
	compactSuffix    = ".compact"
)

// Backup writes a consistent copy of the whole store to w. The copy is
// first written to a temporary file beside the store (or in the system
// temporary directory), so that a slow w never holds a read transaction
// open, which would keep bbolt from reusing freed pages meanwhile. That
// raw copy is then compacted into a second one, which is what w gets:
// bbolt leaves deleted records' bytes in its free pages, and a backup
// must not carry an erased person there for as long as it is kept.
//
// Every step stops soon after ctx ends, and both temporary files are
// removed however Backup returns; files left by a crash are removed by
// the next Open that may write.
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	f, err := db.compactedCopy(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	list.ProgressFuncOf(ctx)(list.StepWrite, 0, size)
	n, err := io.Copy(newStepWriter(ctx, w, list.StepWrite, size), f)
	if err != nil {
		return n, fmt.Errorf("store: backup: %w", err)
	}
	return n, nil
}

// compactedCopy copies the store in one read transaction to a raw
// temporary file, compacts that into a second one, removes the raw copy
// (it holds the deleted records' bytes) and returns the compacted copy
// open at its start.
func (db *DB) compactedCopy(ctx context.Context) (*os.File, error) {
	raw, err := db.tempFile()
	if err != nil {
		return nil, err
	}
	defer os.Remove(raw.Name())
	err = db.bolt.View(func(tx *bolt.Tx) error {
		list.ProgressFuncOf(ctx)(list.StepCopy, 0, tx.Size())
		_, err := tx.WriteTo(newStepWriter(ctx, raw, list.StepCopy, tx.Size()))
		return err
	})
	if cerr := raw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return compactCopy(ctx, raw.Name())
}

// tempFile makes a temporary file beside the store, or in the system
// temporary directory.
func (db *DB) tempFile() (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(db.path), backupTempPrefix+"*")
	if err != nil {
		f, err = os.CreateTemp("", "bulletin-backup-*")
	}
	return f, err
}

// compactCopy compacts the store file at path into a new temporary file
// beside it and returns that file, open at its start.
func compactCopy(ctx context.Context, path string) (*os.File, error) {
	src, err := openBolt(path, boltOptions(true))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dst := path + compactSuffix
	if err := compactInto(ctx, dst, src); err != nil {
		os.Remove(dst)
		return nil, err
	}
	f, err := os.Open(dst)
	// Unlinked once open, the copy is read through f and leaves nothing
	// behind even if the process dies while it streams. Where an open
	// file cannot be removed (Windows), Backup removes it after closing.
	os.Remove(dst)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// removeStaleTemps deletes the backup temporary files in the store's
// folder. Backup removes its own when it returns, so any found by an Open
// that holds the store's write lock were left by a process that died
// meanwhile (SIGKILL, power loss): full copies of the store, the raw one
// with the bytes of erased people in it. Failures are logged: a stale
// file must not keep the store from opening.
func (db *DB) removeStaleTemps() {
	dir := filepath.Dir(db.path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		db.log.Warn("look for stale backup files", "dir", dir, "err", err)
		return
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !isBackupTemp(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		var size int64
		if fi, err := e.Info(); err == nil {
			size = fi.Size()
		}
		if err := os.Remove(p); err != nil {
			db.log.Warn("remove stale backup file", "path", p, "err", err)
			continue
		}
		db.log.Info("removed a stale backup file left by an interrupted backup", "path", p, "bytes", size)
	}
}

// isBackupTemp reports whether name is one tempFile or compactCopy gives
// a file in the store's folder.
func isBackupTemp(name string) bool {
	rest, ok := strings.CutPrefix(name, backupTempPrefix)
	if !ok {
		return false
	}
	rest = strings.TrimSuffix(rest, compactSuffix)
	if rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
