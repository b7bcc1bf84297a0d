package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// runCompact rewrites a stopped store without its free pages (bbolt files
// never shrink) and renames the new file over the old one.
func runCompact(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	fs := commandFlags("compact", stderr, &cfg, new(opts))
	if err := parse(fs, args, getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() != 0 {
		return usageError("compact takes no arguments")
	}
	if err := existingStore(cfg, "compact"); err != nil {
		return err
	}
	path := cfg.storePath()
	// The banner waits for the first report, which comes once the store is
	// open: a store in use is refused without claiming a start.
	sp, started := &stepProgress{w: stderr, cmd: "compact"}, false
	ctx = list.WithProgressFunc(ctx, func(step string, done, total int64) {
		if !started {
			started = true
			if fi, err := os.Stat(path); err == nil {
				fmt.Fprintf(stderr, "Compacting %s (%s); this may take a while (Ctrl-C stops it; the store is then not replaced).\n", path, list.FormatBytes(fi.Size()))
			}
		}
		sp.report(step, done, total)
	})
	before, after, err := store.CompactFile(ctx, path)
	switch {
	case err != nil && ctx.Err() != nil:
		return interrupted("the store was not compacted: the new file was removed before it replaced the old one, which stays in use")
	case errors.Is(err, list.ErrStoreInUse):
		return &exitError{code: 2, err: fmt.Errorf("compact: %s is in use by a running server: stop it first, compact needs the store to itself", path)}
	case err != nil:
		return storeOpenError(path, err)
	}
	fmt.Fprintf(stdout, "Compacted %s: %s\n", path, compactResult(before, after))
	return nil
}

// compactResult words the sizes before and after a compaction: the new
// file can be no smaller, or even a little larger, when the old one had
// little free space (bbolt lays its pages out afresh).
func compactResult(before, after int64) string {
	sizes := list.FormatBytes(before) + " → " + list.FormatBytes(after)
	switch {
	case after < before:
		return fmt.Sprintf("%s (%s smaller, %.1f%%).", sizes, list.FormatBytes(before-after), 100*float64(before-after)/float64(before))
	case after > before:
		return fmt.Sprintf("%s (%s larger: there was no free space to reclaim).", sizes, list.FormatBytes(after-before))
	}
	return sizes + " (no smaller: there was no free space to reclaim)."
}
