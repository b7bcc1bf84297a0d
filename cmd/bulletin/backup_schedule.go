package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulletin/bulletin/list"
)

// opsFlags registers the settings of scheduled backups and store upkeep.
func opsFlags(fs *flag.FlagSet, c *config) {
	c.BackupEvery, c.BackupKeep, c.FoldAfter = 24*time.Hour, 7, 180*24*time.Hour
	fs.StringVar(&c.BackupDir, "backup-dir", "", "folder for scheduled backups (none: no scheduled backups)")
	fs.Var((*dayDuration)(&c.BackupEvery), "backup-every", "time between scheduled backups, e.g. 24h or 1d")
	fs.IntVar(&c.BackupKeep, "backup-keep", 7, "scheduled backups kept; older ones are deleted")
	fs.Var((*dayDuration)(&c.FoldAfter), "fold-after", "age past which per-recipient send records are folded into campaign totals, e.g. 180d (0: never)")
}

// opsErrors checks the ops settings.
func (c *config) opsErrors() []error {
	var errs []error
	if c.BackupDir != "" && c.BackupEvery < time.Minute {
		errs = append(errs, fmt.Errorf("--backup-every must be at least 1m, not %s", c.BackupEvery))
	}
	if c.BackupDir != "" && c.BackupKeep < 1 {
		errs = append(errs, fmt.Errorf("--backup-keep must be at least 1, not %d", c.BackupKeep))
	}
	if c.FoldAfter < 0 {
		errs = append(errs, errors.New("--fold-after must not be negative"))
	}
	return errs
}

// startOps starts the background upkeep of a serving instance: scheduled
// backups (when --backup-dir is set) and the daily fold of old send records.
func (in *instance) startOps(ctx context.Context, wg *sync.WaitGroup) {
	if in.cfg.BackupDir != "" {
		wg.Go(func() { in.runBackups(ctx) })
	}
	fold := in.cfg.FoldAfter
	if fold == 0 {
		fold = -1 // list: negative turns folding off
	}
	wg.Go(func() { in.svc.RunMaintenance(ctx, list.MaintenanceOptions{FoldAfter: fold}) })
}

// backupName is the file name of a scheduled backup taken at t.
func backupName(t time.Time) string {
	return "bulletin-" + t.UTC().Format("20060102T150405Z") + ".db"
}

// runBackups writes a backup into --backup-dir every --backup-every and
// keeps the newest --backup-keep of them. The schedule follows the newest
// backup in the folder, so restarts neither skip nor repeat one.
func (in *instance) runBackups(ctx context.Context) {
	for {
		t := time.NewTimer(nextBackup(in.cfg.BackupDir, in.cfg.BackupEvery, time.Now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
			in.scheduledBackup(ctx)
		}
	}
}

// nextBackup is the wait until the next scheduled backup: one interval
// after the newest one in dir, and at least a minute (after a start, or a
// failed attempt). A backup named after now, written while the clock was
// wrong, is not the newest: it would put every backup off by an interval.
func nextBackup(dir string, every time.Duration, now time.Time) time.Duration {
	names, _ := backupNames(dir)
	wait := time.Duration(0)
	for i := len(names) - 1; i >= 0; i-- {
		at, err := time.Parse("20060102T150405Z", strings.TrimSuffix(strings.TrimPrefix(names[i], "bulletin-"), ".db"))
		if err == nil && !at.After(now) {
			wait = at.Add(every).Sub(now)
			break
		}
	}
	return min(max(wait, time.Minute), every)
}

// scheduledBackup takes one backup and prunes old ones; failures are logged.
func (in *instance) scheduledBackup(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			in.log.Error("scheduled backup panic", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	dir := in.cfg.BackupDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		in.log.Error("scheduled backup", "err", err)
		return
	}
	path := filepath.Join(dir, backupName(time.Now()))
	n, err := writeBackup(ctx, path, nil, func(f *os.File) (int64, error) { return in.svc.Backup(ctx, f) })
	if err != nil {
		if ctx.Err() == nil {
			in.log.Error("scheduled backup", "err", err)
		}
		return
	}
	in.log.Info("scheduled backup written", "path", path, "bytes", n)
	if err := pruneBackups(dir, in.cfg.BackupKeep); err != nil {
		in.log.Error("prune scheduled backups", "err", err)
	}
}

// pruneBackups deletes the oldest scheduled backups beyond keep.
func pruneBackups(dir string, keep int) error {
	names, err := backupNames(dir)
	if err != nil {
		return err
	}
	var errs []error
	for len(names) > keep {
		errs = append(errs, os.Remove(filepath.Join(dir, names[0])))
		names = names[1:]
	}
	return errors.Join(errs...)
}

// backupNames lists the scheduled backups in dir, oldest first: their
// names sort by time.
func backupNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); e.Type().IsRegular() && strings.HasPrefix(n, "bulletin-") && strings.HasSuffix(n, "Z.db") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}
