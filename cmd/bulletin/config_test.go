package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// serveFlagSet returns serve's flags, writing to nowhere, and the config
// they fill.
func serveFlagSet() (*flag.FlagSet, *config) {
	c := &config{}
	fs := newFlagSet("serve", io.Discard)
	serveFlags(fs, c)
	return fs, c
}

// runServeOnce runs a command line that must not start a server: a bad
// value accepted would serve until the deadline and fail the test there.
func runServeOnce(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, args, func(k string) string { return env[k] }, &out, &out)
	return exitCode(err, &out), out.String()
}

// TestServeRefusesBadValues checks that every bad serve value is refused
// with exit code 2, all of them in one report, before the data folder or
// the first admin's password exists.
func TestServeRefusesBadValues(t *testing.T) {
	t.Parallel()
	base := []string{"serve", "--http", "127.0.0.1:0", "--smtp-in", "127.0.0.1:0"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-level", "bogus"}, "--log-level"},
		{[]string{"--from", "garbage"}, "--from"},
		{[]string{"--privacy-url", "not a url"}, "--privacy-url"},
		{[]string{"--base-url", "https://"}, "--base-url"},
		{[]string{"--relay", "ftp://x"}, "--relay"},
		{[]string{"--relay", "smtp://h:notaport"}, "--relay"},
		{[]string{"--base-url", "https://news.example.com/letters"}, "--base-url"},
		{[]string{"--base-url", "http://:8080"}, "--base-url"},
		{[]string{"--domain", "bad domain"}, "--domain"},
		{[]string{"--domain", "-x-"}, "--domain"},
		{[]string{"--domain", "news_letter.example.com"}, "--domain"},
		{[]string{"--dkim-selector", "bad selector"}, "--dkim-selector"},
		{[]string{"--dkim-selector", "sel;x=y"}, "--dkim-selector"},
		{[]string{"--bounce-domain", "bad domain"}, "--bounce-domain"},
		{[]string{"--soft-bounce-window", "30s"}, "--soft-bounce-window"},
		{[]string{"--hard-bounce-limit", "0"}, "--hard-bounce-limit"},
		{[]string{"--soft-bounce-limit", "0"}, "--soft-bounce-limit"},
		{[]string{"--smtp-in-timeout", "0"}, "--smtp-in-max-size"},
		{[]string{"--smtp-in-max-conns", "0"}, "--smtp-in-max-size"},
		{[]string{"--smtp-in-tls-cert", "/nonexistent/cert.pem", "--smtp-in-tls-key", "/nonexistent/key.pem"}, "--smtp-in-tls-cert"},
	} {
		data := filepath.Join(t.TempDir(), "data")
		args := append(append(append([]string(nil), base...), "--data", data), tc.args...)
		code, out := runServeOnce(t, nil, args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("serve %s = exit %d, want 2 naming %s:\n%s", strings.Join(tc.args, " "), code, tc.want, out)
		}
		if strings.Contains(out, "password") {
			t.Errorf("serve %s printed a password before refusing:\n%s", strings.Join(tc.args, " "), out)
		}
		if _, err := os.Stat(data); err == nil {
			t.Errorf("serve %s made the data folder before refusing", strings.Join(tc.args, " "))
		}
	}

	// A first admin password too short is refused before the store is
	// made, not after.
	data0 := filepath.Join(t.TempDir(), "data")
	code, out := runServeOnce(t, map[string]string{"BULLETIN_ADMIN_PASSWORD": "abc"}, append(append([]string(nil), base...), "--data", data0)...)
	if _, err := os.Stat(data0); code != 2 || !strings.Contains(out, "BULLETIN_ADMIN_PASSWORD must be at least") || err == nil {
		t.Errorf("serve with a short BULLETIN_ADMIN_PASSWORD = exit %d, data folder made: %v:\n%s", code, err == nil, out)
	}

	// All at once, the environment's bad values with the flags'.
	data := filepath.Join(t.TempDir(), "data")
	code, out = runServeOnce(t, map[string]string{"BULLETIN_RATE": "fast", "BULLETIN_MAX_CONNS": "many"},
		append(append([]string(nil), base...), "--data", data, "--log-level", "bogus", "--from", "garbage",
			"--relay", "ftp://x", "--domain", "bad domain", "--hard-bounce-limit", "0")...)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	// The variable's own error, not a second one about the zero that
	// flag's parser leaves behind.
	if strings.Contains(out, "--max-conns ≥ 1") {
		t.Errorf("a bad BULLETIN_MAX_CONNS is also reported as --max-conns 0:\n%s", out)
	}
	for _, want := range []string{`BULLETIN_RATE "fast"`, `BULLETIN_MAX_CONNS "many"`, "want a number", "want a whole number",
		"--log-level", "--from", "--relay", "--domain", "--hard-bounce-limit"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report does not say %q:\n%s", want, out)
		}
	}
}

// TestBaseURLFollowsListenAddress: without --base-url, links point at the
// HTTP listen address, and one without a host, or on every interface,
// as localhost: "http://:8080" in a confirmation mail leads nowhere.
func TestBaseURLFollowsListenAddress(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		":8080":               "http://localhost:8080",
		"0.0.0.0:8080":        "http://localhost:8080",
		"[::]:8080":           "http://localhost:8080",
		"127.0.0.1:8080":      "http://127.0.0.1:8080",
		"[::1]:8080":          "http://[::1]:8080",
		"news.example.com:80": "http://news.example.com:80",
	} {
		if got := baseURLOf(addr); got != want {
			t.Errorf("baseURLOf(%q) = %q, want %q", addr, got, want)
		}
		if err := checkBaseURL(baseURLOf(addr)); err != nil {
			t.Errorf("the base URL of --http %s is refused: %v", addr, err)
		}
	}
}

// TestDurationFlagsTakeDays checks that every duration flag takes whole
// days, as configure.md says.
func TestDurationFlagsTakeDays(t *testing.T) {
	t.Parallel()
	fs, c := serveFlagSet()
	err := parse(fs, []string{"--soft-bounce-window", "30d", "--smtp-in-timeout", "1d", "--reminder-after", "2d"},
		envOf("BULLETIN_SMTP_IN_SESSION_TIMEOUT", "2d"), c)
	if err == nil {
		err = c.validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	if in := c.Inbound; in.SoftWindow != 30*day || in.Timeout != day || in.SessionTimeout != 2*day {
		t.Errorf("window %s, timeout %s, session timeout %s", in.SoftWindow, in.Timeout, in.SessionTimeout)
	}
	// The defaults are unchanged.
	fs, c = serveFlagSet()
	if err := parse(fs, nil, envOf(), c); err != nil {
		t.Fatal(err)
	}
	if in := c.Inbound; in.SoftWindow != 30*day || in.Timeout != time.Minute || in.SessionTimeout != 10*time.Minute {
		t.Errorf("defaults: window %s, timeout %s, session timeout %s", in.SoftWindow, in.Timeout, in.SessionTimeout)
	}
}

// TestExtraArguments checks that commands without arguments refuse extra
// ones as a usage error rather than ignoring them.
// TestFlagMistakeSaidOnce: an unknown or malformed flag is said once, with
// a pointer to -h, not printed, buried under every flag, and printed again;
// -h itself still lists the flags, and exits 0.
func TestFlagMistakeSaidOnce(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve", "--bogus"},
		{"serve", "--rate", "fast"},
		{"user", "add", "--bogus", "ann"},
		{"campaign", "send", "--bogus", "1"},
	} {
		data := filepath.Join(t.TempDir(), "data")
		code, out := runServeOnce(t, nil, append(args, "--data", data)...)
		mistake := "flag provided but not defined: -bogus"
		if args[1] == "--rate" {
			mistake = `invalid value "fast" for flag -rate`
		}
		if code != 2 || strings.Count(out, mistake) != 1 || !strings.Contains(out, "-h lists the flags") || strings.Contains(out, "Usage of") {
			t.Errorf("%s = exit %d, want 2 and the mistake said once:\n%s", strings.Join(args, " "), code, out)
		}
	}
	code, out := runServeOnce(t, nil, "serve", "-h")
	if code != 0 || !strings.HasPrefix(out, "Usage of serve:") || !strings.Contains(out, "-postal-address") {
		t.Errorf("serve -h = exit %d:\n%s", code, out)
	}
}

// TestUnknownEnvWarned: serve names each BULLETIN_ variable that no setting
// reads, with the closest one that does, instead of quietly keeping the
// default; the settings' own variables and the passwords and token pass.
func TestUnknownEnvWarned(t *testing.T) {
	t.Parallel()
	fs, _ := serveFlagSet()
	got := unknownEnv(fs, []string{"BULLETIN_POSTAL_ADRESS=1 Main St", "BULLETIN_RELAY_URL=smtp://x:25", "BULLETIN_RELAY=smtp://x:25",
		"BULLETIN_ADMIN_PASSWORD=secret-secret", "BULLETIN_TOKEN=t", "BULLETIN_SMTP_IN_TIMEOUT=1m", "HOME=/root", "BULLETIN=1"})
	want := []envWarning{{"BULLETIN_POSTAL_ADRESS", "BULLETIN_POSTAL_ADDRESS"}, {"BULLETIN_RELAY_URL", "BULLETIN_RELAY"}}
	if !slices.Equal(got, want) {
		t.Errorf("unknownEnv = %+v, want %+v", got, want)
	}
}

func TestExtraArguments(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve", "--http", "127.0.0.1:0", "--smtp-in", "127.0.0.1:0", "extra"},
		{"dkim", "dns", "extra"},
		{"dkim", "keygen", "--type", "ed25519", "extra"},
		{"version", "extra"},
	} {
		data := filepath.Join(t.TempDir(), "data")
		args = append(append([]string{args[0]}, "--data", data), args[1:]...)
		if args[0] == "dkim" {
			args[1], args[2], args[3] = args[3], args[1], args[2] // dkim SUB --data D
		}
		code, out := runServeOnce(t, nil, args...)
		if code != 2 || !strings.Contains(out, "extra") {
			t.Errorf("%s = exit %d, want 2:\n%s", strings.Join(args, " "), code, out)
		}
		if _, err := os.Stat(data); err == nil {
			t.Errorf("%s made the data folder", strings.Join(args, " "))
		}
	}
	if code, out := runServeOnce(t, nil, "version", "--data", t.TempDir()); code != 0 || !strings.HasPrefix(out, "bulletin ") {
		t.Errorf("version --data = exit %d:\n%s", code, out)
	}
}

// TestEnvOfSubcommandsNotWarned: serve does not call the variables of the
// other subcommands (BULLETIN_SERVER for campaign send, say) unknown: every
// flag of every command is known.
func TestEnvOfSubcommandsNotWarned(t *testing.T) {
	t.Parallel()
	fs, _ := serveFlagSet()
	for _, args := range [][]string{{"user", "add"}, {"user", "passwd"}, {"campaign", "send"}, {"import"}, {"export"},
		{"backup"}, {"restore"}, {"compact"}, {"doctor"}, {"dkim", "keygen"}, {"dkim", "dns"}, {"version"}} {
		_, out := runCmd(t, nil, append(args, "-h")...)
		for _, line := range strings.Split(out, "\n") {
			name, ok := strings.CutPrefix(strings.TrimSpace(line), "-")
			if !ok {
				continue
			}
			name, _, _ = strings.Cut(name, " ")
			if got := unknownEnv(fs, []string{envName(name) + "=x"}); len(got) != 0 {
				t.Errorf("serve warns about %s, the variable of %s --%s", envName(name), strings.Join(args, " "), name)
			}
		}
	}
}

// TestUnknownEnvNoEmptySuggestion: a variable like no other is logged
// without an empty did_you_mean.
func TestUnknownEnvNoEmptySuggestion(t *testing.T) {
	t.Parallel()
	fs, _ := serveFlagSet()
	var b bytes.Buffer
	log := slog.New(slog.NewTextHandler(&b, nil))
	for _, w := range unknownEnv(fs, []string{"BULLETIN_QUUXFROBNICATE=1", "BULLETIN_RELAY_URL=x"}) {
		log.Warn("environment variable ignored: no such setting", "name", w.name, "did_you_mean", w.like)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || strings.Contains(lines[0], "did_you_mean") || !strings.Contains(lines[1], "did_you_mean=BULLETIN_RELAY") {
		t.Errorf("warnings:\n%s", b.String())
	}
}

func TestVersionLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		parts []string
		want  string
	}{
		{[]string{"(devel)", "", "", "go1.26.8"}, "bulletin (devel) go1.26.8"},
		{[]string{"v1.2.0", "abc123+dirty", "2026-01-02T03:04:05Z", "go1.26.8"}, "bulletin v1.2.0 abc123+dirty 2026-01-02T03:04:05Z go1.26.8"},
	} {
		if got := versionLine(tc.parts...); got != tc.want {
			t.Errorf("versionLine(%q) = %q, want %q", tc.parts, got, tc.want)
		}
	}
	if code, out := runCmd(t, nil, "version"); code != 0 || strings.Contains(out, "  ") {
		t.Errorf("version = exit %d, %q: gaps", code, out)
	}
}

// TestInternationalDomainFlags: an international domain is taken as typed,
// in --domain, --bounce-domain and --from alike, and used in its xn-- form.
func TestInternationalDomainFlags(t *testing.T) {
	t.Parallel()
	fs, c := serveFlagSet()
	err := parse(fs, []string{"--http", "127.0.0.1:0", "--smtp-in", "127.0.0.1:0", "--domain", "Bücher.Example",
		"--bounce-domain", "bounces.bücher.example", "--from", "Bücher <news@bücher.example>"}, envOf(), c)
	if err == nil {
		err = c.validate()
	}
	if err != nil {
		t.Fatalf("international domains refused: %v", err)
	}
	if c.Domain != "xn--bcher-kva.example" || c.BounceDomain != "bounces.xn--bcher-kva.example" || c.From != "Bücher <news@xn--bcher-kva.example>" {
		t.Errorf("domain %q, bounce domain %q, sender %q; want their xn-- forms", c.Domain, c.BounceDomain, c.From)
	}
}
