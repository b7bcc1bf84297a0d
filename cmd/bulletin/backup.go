package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// runBackup writes a consistent copy of the store to FILE: from a stopped
// store, or from a running server through GET /api/v1/backup with --server.
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	fs := commandFlags("backup", stderr, &cfg, new(opts))
	if err := parse(fs, args, getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() != 1 {
		return usageError("backup: want exactly one FILE")
	}
	path := fs.Arg(0)
	progress := (&stepProgress{w: stderr, cmd: "backup"}).report
	ctx = list.WithProgressFunc(ctx, progress)
	var n int64
	var err error
	if cfg.Server != "" {
		n, err = writeBackup(ctx, path, progress, func(f *os.File) (int64, error) {
			return fetchBackup(ctx, cfg.Server, getenv("BULLETIN_TOKEN"), f)
		})
	} else {
		n, err = backupStopped(ctx, cfg, path)
	}
	if err != nil && ctx.Err() != nil {
		return interrupted("no backup was written, and its temporary files were removed")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backup written to %s (%d bytes).\n", path, n)
	return nil
}

// backupStopped copies a stopped store. It opens the store read-only, so a
// running server makes it fail at once with "store in use".
func backupStopped(ctx context.Context, cfg config, path string) (int64, error) {
	if err := existingStore(cfg, "backup"); err != nil {
		return 0, err
	}
	db, err := store.Open(cfg.storePath(), store.Options{ReadOnly: true})
	if err != nil {
		return 0, storeOpenError(cfg.storePath(), err)
	}
	defer db.Close()
	return writeBackup(ctx, path, list.ProgressFuncOf(ctx), func(f *os.File) (int64, error) { return db.Backup(ctx, f) })
}

// writeBackup writes a backup with fn to path+".tmp", checks that the copy
// opens as a Bulletin store, syncs it and renames it to path, so that path
// is either absent or a whole, valid backup. progress, when not nil, is
// told when the check begins. bbolt's check cannot be stopped midway: a
// stop (ctx) asked meanwhile is obeyed once it ends, before the rename.
func writeBackup(ctx context.Context, path string, progress list.ProgressFunc, fn func(*os.File) (int64, error)) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	n, err := fn(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if progress != nil {
			progress(list.StepCheck, 0, 0)
		}
		if _, ierr := store.Inspect(tmp); ierr != nil {
			err = fmt.Errorf("the copy is not a valid store: %w", ierr)
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return n, fmt.Errorf("backup: %w", err)
	}
	syncDir(filepath.Dir(path))
	return n, nil
}

// needsToken is the usage error of a command run with --server but
// without BULLETIN_TOKEN: the server would only answer 401.
func needsToken(cmd string) error {
	return usageError("%s --server needs credentials in BULLETIN_TOKEN (user:password or an API token)", cmd)
}

// fetchBackup streams GET /api/v1/backup of a running server into w. The
// token is "user:password" (HTTP Basic) or an API token (Bearer).
func fetchBackup(ctx context.Context, server, token string, w io.Writer) (int64, error) {
	if token == "" {
		return 0, needsToken("backup")
	}
	// The server answers a refusal (a wrong password) at once, and the
	// copy only once it has made it: the wait is told about only when it
	// is one.
	wait := time.AfterFunc(serverWaitAfter, func() { list.ProgressFuncOf(ctx)(stepServer, 0, 0) })
	defer wait.Stop()
	return apiDownload(ctx, "backup", strings.TrimRight(server, "/")+"/api/v1/backup", token, w, func() { wait.Stop() })
}

// serverWaitAfter is how long a backup waits for the server's answer
// before it says that the server is making the copy.
const serverWaitAfter = 300 * time.Millisecond

// apiDownload streams the answer to a GET of a running server's API into
// w; an answer other than 200 is an error with the server's message.
// answered, when not nil, is called as the answer's header arrives.
func apiDownload(ctx context.Context, cmd, url, token string, w io.Writer, answered func()) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, usageError("%s: --server: %v", cmd, err)
	}
	authorize(req, token)
	resp, err := http.DefaultClient.Do(req)
	if answered != nil {
		answered()
	}
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e)
		if e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return 0, fmt.Errorf("server answered %d: %s", resp.StatusCode, e.Error)
	}
	return io.Copy(&progressWriter{w: w, step: stepReceive, total: resp.ContentLength, report: list.ProgressFuncOf(ctx)}, resp.Body)
}

// syncDir makes a rename in dir durable; errors are ignored (some file
// systems cannot sync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// storeHeld rewords the "store in use" error of a command that has no
// --server: list.ErrStoreInUse's own advice, "stop the server or use
// --server", would send the user to a flag the command does not take.
// advice says what to do instead. The error is still a store in use (exit
// code 2).
func storeHeld(err error, cmd, path, advice string) error {
	if !errors.Is(err, list.ErrStoreInUse) {
		return err
	}
	return heldError(fmt.Sprintf("%s: store in use: another process holds %s (a running server, most likely): %s", cmd, path, advice))
}

// heldError is a store in use, worded for the command that met it.
type heldError string

func (e heldError) Error() string { return string(e) }
func (e heldError) Unwrap() error { return list.ErrStoreInUse }

// storeOpenError explains the store errors a person can act on.
func storeOpenError(path string, err error) error {
	if errors.Is(err, list.ErrCorrupt) {
		// Exit code 1: the command line is right, the file is not.
		return fmt.Errorf("%w.\n%s is cut short or damaged (a full disk, an interrupted copy): "+
			"if it is the store, restore the newest backup into an empty data folder; if it is a backup, use an older one (see docs/backup.md)", err, path)
	}
	if errors.Is(err, list.ErrSchemaTooNew) {
		return fmt.Errorf("%s was written by a newer version of bulletin than this one (%v).\n"+
			"Run the newer bulletin again, or restore a backup made by this version into an empty data folder (see docs/upgrade.md)", path, err)
	}
	return err
}
