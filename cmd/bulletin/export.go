package main

import (
	"context"
	"io"

	"github.com/bulletin/bulletin/list"
)

// runExport writes subscribers as CSV to stdout from a stopped store.
func runExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	var slug, state string
	fs := newFlagSet("export", stderr)
	dataFlag(fs, &cfg)
	fs.StringVar(&slug, "list", "", "only this list (slug)")
	fs.StringVar(&state, "state", "", "only this state: unconfirmed, confirmed or unsubscribed")
	if err := parse(fs, args, getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() != 0 {
		return usageError("export takes no arguments")
	}
	return withInstance(ctx, cfg, stderr, func(in *instance) error {
		return in.svc.ExportCSV(ctx, stdout, slug, list.State(state))
	})
}

// withInstance opens the store of a stopped server for a subcommand.
func withInstance(ctx context.Context, cfg config, stderr io.Writer, fn func(*instance) error) error {
	if err := cfg.validateOffline(); err != nil {
		return &exitError{code: 2, err: err}
	}
	in, err := openInstance(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	defer in.Close()
	return fn(in)
}
