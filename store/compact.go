package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileInfo describes a store file checked by Inspect.
type FileInfo struct {
	// Schema is the file's schema version.
	Schema uint64
	// Known is the newest schema version this code knows.
	Known uint64
	// Size is the file size in bytes.
	Size int64
}

// Inspect checks, without changing it, that the file at path is a Bulletin
// store this code can open: a bbolt file with Bulletin's meta bucket, a
// schema version no newer than this code's (list.ErrSchemaTooNew otherwise),
// and pages that pass bbolt's consistency check. A file shorter than its
// header says, which bbolt would fault reading, fails first with an error
// wrapping list.ErrCorrupt. Restore and backup use it to verify a copy
// before putting it in place.
func Inspect(path string) (FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return FileInfo{}, fmt.Errorf("store: inspect: %w", err)
	}
	b, err := openBolt(path, boltOptions(true))
	if errors.Is(err, list.ErrCorrupt) {
		return FileInfo{Size: fi.Size(), Known: schemaVersion}, fmt.Errorf("store: inspect %s: %w", path, err)
	}
	if errors.Is(err, berrors.ErrTimeout) {
		return FileInfo{}, fmt.Errorf("store: inspect %s: %w", path, list.ErrStoreInUse)
	}
	if err != nil {
		return FileInfo{}, fmt.Errorf("store: inspect %s: not a Bulletin store: %w", path, err)
	}
	defer b.Close()
	info := FileInfo{Known: schemaVersion, Size: fi.Size()}
	err = b.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(bMeta)) == nil {
			return errors.New("not a Bulletin store: no meta bucket")
		}
		if info.Schema = readSchema(tx); info.Schema == 0 {
			return errors.New("not a Bulletin store: no schema version")
		}
		if err := checkSchema(info.Schema); err != nil {
			return err
		}
		var damage error
		for err := range tx.Check() { // drain: the checker runs until done
			if damage == nil {
				damage = fmt.Errorf("damaged: %w", err)
			}
		}
		return damage
	})
	if err != nil {
		return info, fmt.Errorf("store: inspect %s: %w", path, err)
	}
	return info, nil
}

// CompactFile rewrites the stopped store at path into a new file with only
// its live pages (bbolt files never shrink), then atomically renames it over
// the old one. It holds the store's lock throughout, so a server cannot
// start meanwhile; a store in use fails with list.ErrStoreInUse. It returns
// the sizes before and after. Once ctx ends it stops soon and removes the
// new file, leaving the store in place; ctx's list.ProgressFunc is told
// how far the copy is.
func CompactFile(ctx context.Context, path string) (before, after int64, err error) {
	if _, err := os.Stat(path); err != nil {
		return 0, 0, fmt.Errorf("store: compact: %w", err)
	}
	src, err := Open(path, Options{})
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if cerr := src.Close(); err == nil {
			err = cerr
		}
	}()
	before = src.Size()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".compact")
	os.Remove(tmp)
	if err := compactInto(ctx, tmp, src.bolt); err != nil {
		os.Remove(tmp)
		return before, 0, err
	}
	list.ProgressFuncOf(ctx)(list.StepCheck, 0, 0)
	if _, err := Inspect(tmp); err != nil {
		os.Remove(tmp)
		return before, 0, fmt.Errorf("store: compact: check of the new file: %w", err)
	}
	// bbolt's check cannot be stopped midway; a stop asked meanwhile is
	// obeyed once it ends, before the new file replaces the old one.
	if err := ctx.Err(); err != nil {
		os.Remove(tmp)
		return before, 0, fmt.Errorf("store: compact: %w", err)
	}
	fi, err := os.Stat(tmp)
	if err == nil {
		after = fi.Size()
		// Renamed while src still holds the old file's lock: the new file is
		// whole and synced before anyone can open it under path.
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return before, 0, fmt.Errorf("store: compact: %w", err)
	}
	return before, after, syncDir(filepath.Dir(path))
}

// compactInto copies every bucket of src into a new file at dst, in
// write transactions of at most 16 MiB, and syncs it once at the end. It
// stops soon after ctx ends. The transactions skip fsync: the new file is
// of no use until it is whole, synced and checked, and a process killed
// before that leaves only a temporary file. One fsync of 64 MiB took
// seconds here, with neither a look at ctx nor a progress report.
func compactInto(ctx context.Context, dst string, src *bolt.DB) error {
	opts := boltOptions(false)
	opts.NoSync = true
	d, err := openBolt(dst, opts)
	if err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	err = copyBuckets(ctx, d, src, 16<<20)
	if err == nil {
		err = d.Sync()
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	return nil
}
