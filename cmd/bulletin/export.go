package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/bulletin/bulletin/list"
)

// runExport writes subscribers as CSV to stdout, from a stopped store or
// through a running server's API.
func runExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	var o opts
	fs := commandFlags("export", stderr, &cfg, &o)
	if err := parse(fs, args, getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() != 0 {
		return usageError("export takes no arguments")
	}
	if cfg.Server != "" {
		token := getenv("BULLETIN_TOKEN")
		if token == "" {
			return needsToken("export")
		}
		q := url.Values{}
		if o.list != "" {
			q.Set("list", o.list)
		}
		if o.state != "" {
			q.Set("state", o.state)
		}
		u := strings.TrimRight(cfg.Server, "/") + "/api/v1/export"
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		_, err := apiDownload(ctx, "export", u, token, stdout, nil)
		return err
	}
	if err := existingStore(cfg, "export"); err != nil {
		return err
	}
	return withInstance(ctx, cfg, stderr, func(in *instance) error {
		return in.svc.ExportCSV(ctx, stdout, o.list, list.State(o.state))
	})
}

// existingStore refuses a subcommand on a data folder without a store:
// only serve makes one. A mistyped or forgotten --data would otherwise
// make a new store that no server uses, and, say, print the DKIM record of
// a key nobody signs with.
func existingStore(cfg config, cmd string) error {
	if _, err := os.Stat(cfg.storePath()); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: no store at %s: check --data (or BULLETIN_DATA); bulletin serve makes the store on its first start", cmd, cfg.storePath())
		}
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
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
