// Command bulletin is a self-hosted newsletter and mailing-list server: one
// binary with an embedded store, double opt-in, DKIM-signed campaign mail,
// bounce handling and an admin UI. Run "bulletin help" for its commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/bulletin/bulletin/list"
)

// exitError carries a process exit code with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// Garbage collector defaults, used when GOGC and GOMEMLIMIT are not set.
// Sending builds and signs a fresh 5-50 KB message per recipient, so the
// collector runs very often at Go's default GOGC=100 on a heap of ~20 MB:
// measured with bench/campaign, GOGC=400 sends a 20 KB campaign about a
// third faster. The memory limit keeps a large live heap from growing
// four-fold: a 300,000-row import peaks at 145 MB of anonymous memory with
// it, 325 MB without.
const (
	defaultGOGC     = 400
	defaultMemLimit = 160 << 20
)

// tuneGC applies the collector defaults unless the operator set GOGC or
// GOMEMLIMIT, which the runtime already read.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemLimit)
	}
}

// exitCode prints err and maps it to an exit status: 2 for usage errors and
// a store held by another process, 1 for everything else.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "bulletin:", err)
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, list.ErrStoreInUse):
		return 2
	}
	return 1
}

// usageError marks a command line mistake (exit code 2).
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// interrupted is the error of a command stopped by Ctrl-C or SIGTERM: it
// says what became of the work (exit code 130, as a shell reports SIGINT).
func interrupted(what string) error {
	return &exitError{code: 130, err: errors.New("interrupted: " + what)}
}

// wantArgs refuses a command line without exactly n arguments after the
// flags. The flag package stops at the first argument, so a flag after it
// (user add ed --role admin) is taken as one more argument: then it says
// that flags go before the arguments.
func wantArgs(fs *flag.FlagSet, n int, what, usage string) error {
	if fs.NArg() == n {
		return nil
	}
	for _, a := range fs.Args() {
		if len(a) > 1 && a[0] == '-' {
			return usageError("%s: %s comes after the arguments: flags go before them (bulletin %s)", fs.Name(), a, usage)
		}
	}
	return usageError("%s: want exactly one %s (bulletin %s)", fs.Name(), what, usage)
}

// run is the whole program behind main, testable without a process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printHelp(stdout)
		return usageError("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "export":
		return runExport(ctx, rest, getenv, stdout, stderr)
	case "user":
		return runUser(ctx, rest, getenv, stdout, stderr)
	case "dkim":
		return runDKIM(ctx, rest, getenv, stdout, stderr)
	case "import":
		return runImport(ctx, rest, getenv, stdout, stderr)
	case "campaign":
		return runCampaign(ctx, rest, getenv, stdout, stderr)
	case "backup":
		return runBackup(ctx, rest, getenv, stdout, stderr)
	case "restore":
		return runRestore(ctx, rest, getenv, stdout, stderr)
	case "compact":
		return runCompact(ctx, rest, getenv, stdout, stderr)
	case "doctor":
		return runDoctor(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-version":
		return runVersion(rest, getenv, stdout, stderr)
	case "help", "-h", "--help", "-help":
		printHelp(stdout)
		return nil
	}
	printHelp(stderr)
	return usageError("unknown command %q", cmd)
}

// runVersion prints the version. It takes --data as every command does,
// and no arguments.
func runVersion(args []string, getenv func(string) string, w, stderr io.Writer) error {
	var cfg config
	fs := commandFlags("version", stderr, &cfg, new(opts))
	if err := parse(fs, args, getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageError("version: takes no arguments, got %q", fs.Args())
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(w, "bulletin (no build info)")
		return nil
	}
	rev, at, dirty := "", "", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	fmt.Fprintln(w, versionLine(bi.Main.Version, rev+dirty, at, bi.GoVersion))
	return nil
}

// versionLine joins the parts of the version that are known: a build
// without VCS information (go build -buildvcs=false, a Docker context
// without .git) has no commit or time, and leaves no gap for them.
func versionLine(parts ...string) string {
	return strings.Join(slices.DeleteFunc(append([]string{"bulletin"}, parts...), func(s string) bool { return s == "" }), " ")
}
