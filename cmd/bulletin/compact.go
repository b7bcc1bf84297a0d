package main

import (
	"context"
	"fmt"
	"io"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// runCompact rewrites a stopped store without its free pages (bbolt files
// never shrink) and renames the new file over the old one.
func runCompact(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("compact", stderr)
	dataFlag(fs, &cfg)
	if err := parse(fs, args, getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() != 0 {
		return usageError("compact takes no arguments")
	}
	if err := existingStore(cfg, "compact"); err != nil {
		return err
	}
	before, after, err := store.CompactFile(cfg.storePath())
	if err != nil {
		return storeOpenError(cfg.storePath(), err)
	}
	fmt.Fprintf(stdout, "Compacted %s: %s → %s (%.1f%% smaller).\n", cfg.storePath(),
		list.FormatBytes(before), list.FormatBytes(after), 100*float64(before-after)/float64(max(before, 1)))
	return nil
}
