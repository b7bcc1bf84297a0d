package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// runRestore puts a backup in place as the store of an empty data folder,
// after checking that it is a Bulletin store this version can open.
func runRestore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	fs := commandFlags("restore", stderr, &cfg, new(opts))
	if err := parse(fs, args, getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() != 1 {
		return usageError("restore: want exactly one backup FILE")
	}
	src := fs.Arg(0)
	if err := checkEmptyDir(cfg.Data); err != nil {
		return err
	}
	info, err := store.Inspect(src)
	if err != nil {
		return storeOpenError(src, fmt.Errorf("restore: %w", err))
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := installStore(ctx, src, cfg.storePath()); err != nil {
		return err
	}
	if err := cfg.ensureData(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Restored %s (%d bytes, schema version %d) into %s.\nStart the server with --data %s.\n",
		src, info.Size, info.Schema, cfg.storePath(), cfg.Data)
	// The relay saved on the settings page is in the backup: a server
	// started only to try the restore would send through it.
	fmt.Fprintf(stdout, "To try it out without sending mail, add --relay \"\": a relay saved on the settings page came with the backup, and running campaigns resume.\n")
	return nil
}

// checkEmptyDir refuses a data folder that exists and holds anything:
// restore never overwrites a store.
func checkEmptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("restore: %w", err)
	case len(ents) > 0:
		// A command line mistake, not a failure: exit code 2.
		return usageError("restore: %s is not empty: restore only into a new or empty data folder (move the old one away first)", dir)
	}
	return nil
}

// installStore copies src beside dst, syncs and checks the copy, and
// renames it to dst.
func installStore(ctx context.Context, src, dst string) error {
	tmp := filepath.Join(filepath.Dir(dst), ".restore-"+filepath.Base(dst))
	err := copyFile(ctx, src, tmp)
	if err == nil {
		_, err = store.Inspect(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: %w", err)
	}
	syncDir(filepath.Dir(dst))
	return nil
}

func copyFile(ctx context.Context, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, list.ContextReader(ctx, in))
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
