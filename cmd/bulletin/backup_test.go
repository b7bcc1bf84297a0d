package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	bolt "go.etcd.io/bbolt"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// runCmd runs a bulletin command line in-process and returns its exit code
// and output.
func runCmd(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	err := run(t.Context(), args, func(k string) string { return env[k] }, &out, &out)
	code := exitCode(err, &out)
	return code, out.String()
}

// TestBackupWhileSending takes a backup while a campaign runs and people
// keep signing up, and checks that the copy is a valid store holding every
// subscriber committed before the backup began.
func TestBackupWhileSending(t *testing.T) {
	t.Parallel()
	sk := newSink(t)
	sk.answer = func(string) *gosmtp.SMTPError { time.Sleep(2 * time.Millisecond); return nil }
	data := filepath.Join(t.TempDir(), "data")
	_, id := seed(t, data, 400)
	cfg := config{Data: data, Relay: "smtp://" + sk.addr, PostalAddress: "1 Test Street"}
	if err := cfg.validateOffline(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	in, err := openInstance(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { in.svc.RunCampaigns(runCtx, list.RunnerOptions{Workers: 2, Poll: 20 * time.Millisecond}) })
	defer func() { stop(); wg.Wait() }()
	if _, err := in.svc.CampaignAction(ctx, id, "send", list.Origin{User: "test"}); err != nil {
		t.Fatal(err)
	}
	waitSent(t, in, id, 20)

	// People keep signing up while the backup is taken.
	var committed atomic.Int64
	wg.Go(func() {
		for i := 0; runCtx.Err() == nil && i < 2000; i++ {
			_, err := in.svc.AddSubscriber(runCtx, list.NewSubscriber{Email: fmt.Sprintf("late%05d@example.net", i),
				Lists: []string{"a"}, State: list.StateConfirmed, Reason: "test"}, list.HowAPI, list.Origin{})
			if err != nil {
				return
			}
			committed.Store(int64(i + 1))
		}
	})
	for deadline := time.Now().Add(20 * time.Second); committed.Load() < 5 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	before := committed.Load()
	path := filepath.Join(t.TempDir(), "running.db")
	if _, err := writeBackup(ctx, path, nil, func(f *os.File) (int64, error) { return in.svc.Backup(ctx, f) }); err != nil {
		t.Fatal(err)
	}
	running, err := in.svc.GetCampaign(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	stop()

	db, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("backup does not open: %v", err)
	}
	defer db.Close()
	for i := 1; i <= 400; i++ {
		if _, err := db.Record(ctx, list.Key{Identity: fmt.Sprintf("r%05d@example.net", i)}); err != nil {
			t.Fatalf("seeded subscriber %d missing from the backup: %v", i, err)
		}
	}
	for i := range before {
		if _, err := db.Record(ctx, list.Key{Identity: fmt.Sprintf("late%05d@example.net", i)}); err != nil {
			t.Fatalf("subscriber late%05d, committed before the backup, is missing: %v", i, err)
		}
	}
	c, err := db.Campaign(ctx, id)
	if err != nil || c.Status != list.StatusRunning || c.Stats.Sent == 0 || c.Stats.Sent > running.Stats.Sent {
		t.Errorf("campaign in the backup = %s %+v (%v), want running with 0 < sent ≤ %d", c.Status, c.Stats, err, running.Stats.Sent)
	}
	if before < 5 {
		t.Errorf("only %d sign-ups committed before the backup began", before)
	}
}

func waitSent(t *testing.T, in *instance, id list.CampaignID, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := in.svc.GetCampaign(t.Context(), id)
		if err == nil && c.Stats.Sent >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("campaign %d did not send %d messages", id, n)
}

// TestBackupRestoreRoundTrip backs up a stopped store, restores it into an
// empty folder, serves it and finds the data, the admin password included.
func TestBackupRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s := startServer(t, data)
	resp := s.api(t, "POST", "/api/v1/subscribers", strings.NewReader(
		`{"email":"kept@example.org","name":"Kept","lists":["newsletter"],"state":"confirmed","reason":"paper form"}`))
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST subscriber: %d", resp.StatusCode)
	}
	backup := filepath.Join(dir, "b.db")
	if code, out := runCmd(t, nil, "backup", "--data", data, backup); code != 2 || !strings.Contains(out, "store in use") {
		t.Errorf("backup of a running store: exit %d, %q; want 2 and store in use", code, out)
	}
	s.shutdown(t)

	code, out := runCmd(t, nil, "backup", "--data", data, backup)
	if code != 0 || !strings.Contains(out, "Backup written to "+backup) {
		t.Fatalf("backup: exit %d\n%s", code, out)
	}
	// A line as each step begins: a large store takes a minute.
	for _, step := range []string{"backup: copying the store 0% (", "backup: compacting: counting the records first", "backup: writing the copy 0% (", "backup: checking the copy"} {
		if !strings.Contains(out, step) {
			t.Errorf("backup does not say %q:\n%s", step, out)
		}
	}
	if _, err := os.Stat(backup + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("backup left %s.tmp behind", backup)
	}
	restored := filepath.Join(dir, "restored")
	code, out = runCmd(t, nil, "restore", "--data", restored, backup)
	if code != 0 || !strings.Contains(out, "Restored") || !strings.Contains(out, `--relay ""`) {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	for _, d := range []string{"tmp", "new", "cur"} {
		if fi, err := os.Stat(filepath.Join(restored, "outbox", d)); err != nil || !fi.IsDir() {
			t.Errorf("restore did not make outbox/%s: %v", d, err)
		}
	}
	code, out = runCmd(t, nil, "restore", "--data", restored, backup)
	if code != 2 || !strings.Contains(out, "is not empty") {
		t.Errorf("restore into a non-empty folder: exit %d, %q", code, out)
	}

	s2 := startServer(t, restored)
	if got := subscriberState(t, s2, "kept@example.org"); got.Name != "Kept" || len(got.Subscriptions) != 1 || got.Subscriptions[0].State != "confirmed" {
		t.Errorf("restored subscriber = %+v", got)
	}
}

func TestRestoreRefusesBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, bytes.Repeat([]byte("not a store "), 1000), 0o600)
	plain := filepath.Join(dir, "plain.db")
	b, err := bolt.Open(plain, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	b.Close()
	for _, f := range []string{junk, plain, filepath.Join(dir, "missing.db")} {
		target := filepath.Join(dir, "target-"+filepath.Base(f))
		code, out := runCmd(t, nil, "restore", "--data", target, f)
		if code != 1 || !strings.Contains(out, "restore") {
			t.Errorf("restore %s: exit %d, %q; want a refusal", filepath.Base(f), code, out)
		}
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("restore %s left %s behind", filepath.Base(f), target)
		}
	}
	if code, out := runCmd(t, nil, "restore", "--data", dir); code != 2 {
		t.Errorf("restore without FILE: exit %d, %q", code, out)
	}
}

// TestSchemaTooNew refuses a store written by a newer Bulletin, whether to
// serve it or to restore it, with a message that says what to do.
func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	newStore(t, data)
	path := filepath.Join(data, "bulletin.db")
	setSchema(t, path, 999)
	code, out := runCmd(t, map[string]string{"BULLETIN_ADMIN_PASSWORD": testPassword},
		"serve", "--data", data, "--http", "127.0.0.1:0", "--smtp-in", "127.0.0.1:0")
	if code != 1 || !strings.Contains(out, "written by a newer version of bulletin") || !strings.Contains(out, "schema version 999") ||
		!strings.Contains(out, "docs/upgrade.md") {
		t.Errorf("serve on a newer store: exit %d\n%s", code, out)
	}
	code, out = runCmd(t, nil, "restore", "--data", filepath.Join(dir, "new"), path)
	if code != 1 || !strings.Contains(out, "newer version of bulletin") {
		t.Errorf("restore of a newer store: exit %d\n%s", code, out)
	}
	code, out = runCmd(t, nil, "backup", "--data", data, filepath.Join(dir, "b.db"))
	if code != 1 || !strings.Contains(out, "newer version of bulletin") {
		t.Errorf("backup of a newer store: exit %d\n%s", code, out)
	}
}

// setSchema overwrites a store's schema version.
func setSchema(t *testing.T, path string, v uint64) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint64(nil, v))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBackupThroughServer backs up through GET /api/v1/backup with Basic
// and Bearer credentials, against a stand-in for the route.
func TestBackupThroughServer(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	newStore(t, data)
	db, err := store.Open(filepath.Join(data, "bulletin.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, basic := r.BasicAuth()
		switch {
		case r.URL.Path != "/api/v1/backup":
			http.NotFound(w, r)
		case basic && user == "admin" && pass == "pw:with:colons", r.Header.Get("Authorization") == "Bearer tok3n":
			db.Backup(r.Context(), w)
		case r.Header.Get("Authorization") == "Bearer slow":
			time.Sleep(2 * serverWaitAfter) // a server making a big copy
			db.Backup(r.Context(), w)
		case r.Header.Get("Authorization") == "Bearer junk":
			io.WriteString(w, "this is not a store")
		default:
			w.Header().Set("WWW-Authenticate", `Basic realm="bulletin"`)
			w.WriteHeader(401)
			io.WriteString(w, `{"error": "unauthorized"}`)
		}
	}))
	defer api.Close()
	dir := t.TempDir()
	for _, tc := range []struct {
		token, want string
		code        int
	}{
		{"admin:pw:with:colons", "Backup written", 0},
		{"tok3n", "Backup written", 0},
		{"slow", "backup: waiting for the server to copy and compact the store", 0},
		{"admin:wrong", "server answered 401: unauthorized", 1},
		{"junk", "not a valid store", 1},
		{"", "BULLETIN_TOKEN", 2},
	} {
		path := filepath.Join(dir, "b-"+tc.token+".db")
		code, out := runCmd(t, map[string]string{"BULLETIN_TOKEN": tc.token}, "backup", "--server", api.URL+"/", path)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("backup --server with %q: exit %d, %q; want %d, %q", tc.token, code, out, tc.code, tc.want)
			continue
		}
		// A refusal comes at once: no wait for a copy to tell about.
		if tc.code == 1 && strings.Contains(out, "waiting for the server") {
			t.Errorf("backup --server with %q says it waits for a copy before the refusal:\n%s", tc.token, out)
		}
		_, err := store.Inspect(path)
		if (err == nil) != (tc.code == 0) {
			t.Errorf("backup with %q: Inspect = %v", tc.token, err)
		}
	}
}

// TestBackupAPI backs up a running server through its API, once admin
// serves GET /api/v1/backup.
func TestBackupAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, filepath.Join(dir, "data"))
	resp := s.api(t, "GET", "/api/v1/backup", nil)
	resp.Body.Close()
	if resp.StatusCode == 404 || resp.StatusCode == 405 {
		t.Skip("admin does not serve GET /api/v1/backup yet")
	}
	path := filepath.Join(dir, "api.db")
	code, out := runCmd(t, map[string]string{"BULLETIN_TOKEN": "admin:" + testPassword}, "backup", "--server", s.base, path)
	if code != 0 {
		t.Fatalf("backup --server: exit %d\n%s", code, out)
	}
	// The server announces the copy's length, so the download's progress
	// has a total.
	if !strings.Contains(out, "backup: receiving the copy ") || !strings.Contains(out, " of ") {
		t.Errorf("backup --server shows no progress with a total:\n%s", out)
	}
	if _, err := store.Inspect(path); err != nil {
		t.Error(err)
	}
}

func TestScheduledBackups(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	backups := filepath.Join(dir, "backups")
	cfg := config{Data: filepath.Join(dir, "data"), BackupDir: backups, BackupKeep: 3, BackupEvery: time.Hour}
	err := withInstance(t.Context(), cfg, io.Discard, func(in *instance) error {
		in.scheduledBackup(t.Context())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(backups)
	if len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), "bulletin-") || !strings.HasSuffix(ents[0].Name(), "Z.db") {
		t.Fatalf("backup folder holds %v, want one bulletin-YYYYMMDDTHHMMSSZ.db", ents)
	}
	if _, err := store.Inspect(filepath.Join(backups, ents[0].Name())); err != nil {
		t.Error(err)
	}
	for i := range 5 {
		os.WriteFile(filepath.Join(backups, backupName(time.Date(2020, 1, 1+i, 0, 0, 0, 0, time.UTC))), nil, 0o600)
	}
	os.WriteFile(filepath.Join(backups, "notes.txt"), nil, 0o600)
	if err := pruneBackups(backups, 3); err != nil {
		t.Fatal(err)
	}
	var names []string
	ents, _ = os.ReadDir(backups)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"bulletin-20200104T000000Z.db", "bulletin-20200105T000000Z.db", ents[2].Name(), "notes.txt"}
	if strings.Join(names, " ") != strings.Join(want, " ") || !strings.HasPrefix(names[2], "bulletin-20") || names[2] < "bulletin-2026" {
		t.Errorf("after pruning to 3: %v", names)
	}
	if backupName(time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("X", 3600))) != "bulletin-20260304T040607Z.db" {
		t.Errorf("backupName is not UTC: %s", backupName(time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("X", 3600))))
	}
}

func TestNextBackup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	if got := nextBackup(dir, 24*time.Hour, now); got != time.Minute {
		t.Errorf("nextBackup(empty) = %s, want 1m", got)
	}
	os.WriteFile(filepath.Join(dir, backupName(now.Add(-30*time.Hour))), nil, 0o600)
	if got := nextBackup(dir, 24*time.Hour, now); got != time.Minute {
		t.Errorf("nextBackup(overdue) = %s, want 1m", got)
	}
	os.WriteFile(filepath.Join(dir, backupName(now.Add(-4*time.Hour))), nil, 0o600)
	if got := nextBackup(dir, 24*time.Hour, now); got != 20*time.Hour {
		t.Errorf("nextBackup(4h ago) = %s, want 20h", got)
	}
	// A backup named in the future (written while the clock was wrong)
	// does not put the schedule off: the newest one before now leads it.
	os.WriteFile(filepath.Join(dir, backupName(now.Add(48*time.Hour))), nil, 0o600)
	if got := nextBackup(dir, 24*time.Hour, now); got != 20*time.Hour {
		t.Errorf("nextBackup(4h ago and one in the future) = %s, want 20h", got)
	}
	only := t.TempDir()
	os.WriteFile(filepath.Join(only, backupName(now.AddDate(73, 0, 0))), nil, 0o600)
	if got := nextBackup(only, 24*time.Hour, now); got != time.Minute {
		t.Errorf("nextBackup(only one in the future) = %s, want 1m", got)
	}
}

func TestOpsFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		ok   bool
		fold time.Duration
	}{
		{nil, true, 180 * 24 * time.Hour},
		{[]string{"--fold-after", "30d"}, true, 30 * 24 * time.Hour},
		{[]string{"--fold-after", "0"}, true, 0},
		{[]string{"--backup-dir", "/tmp/x", "--backup-every", "1s"}, false, 0},
		{[]string{"--backup-dir", "/tmp/x", "--backup-keep", "0"}, false, 0},
		{[]string{"--fold-after", "-1h"}, false, 0},
		{[]string{"--fold-after", "xd"}, false, 0},
	} {
		var cfg config
		fs := newFlagSet("serve", io.Discard)
		serveFlags(fs, &cfg)
		err := parse(fs, tc.args, func(string) string { return "" }, &cfg)
		if err == nil {
			err = cfg.validate()
		}
		if (err == nil) != tc.ok || (tc.ok && cfg.FoldAfter != tc.fold) {
			t.Errorf("serve %v: %v, fold-after %s", tc.args, err, cfg.FoldAfter)
		}
	}
}

// TestEmptyRelayFlagKeepsMailInTheOutbox: a test restore started with
// --relay "" sends nothing, even though the restored store carries a relay
// saved on the settings page.
func TestEmptyRelayFlagKeepsMailInTheOutbox(t *testing.T) {
	t.Parallel()
	saved := list.Settings{Relay: "smtp://relay.example:587"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, saved.Relay},
		{[]string{"--relay", ""}, ""},
		{[]string{"--relay="}, ""},
	} {
		var cfg config
		fs := newFlagSet("serve", io.Discard)
		serveFlags(fs, &cfg)
		if err := parse(fs, tc.args, func(string) string { return "" }, &cfg); err != nil {
			t.Fatal(err)
		}
		if got := cfg.withStored(saved).Relay; got != tc.want {
			t.Errorf("serve %q with a saved relay: relay %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestSubcommandsNeedAStore: a subcommand pointed at a folder without a
// store (a mistyped --data) says so and makes none, instead of working on
// a new store no server uses.
func TestSubcommandsNeedAStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	csv := filepath.Join(dir, "people.csv")
	if err := os.WriteFile(csv, []byte("email\na@example.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BULLETIN_PASSWORD": "long enough password"}
	for i, args := range []func(data string) []string{
		func(d string) []string { return []string{"dkim", "dns", "--data", d} },
		func(d string) []string { return []string{"dkim", "keygen", "--data", d} },
		func(d string) []string { return []string{"user", "add", "--data", d, "--role", "admin", "zed"} },
		func(d string) []string { return []string{"import", "--data", d, "--list", "newsletter", csv} },
		func(d string) []string { return []string{"export", "--data", d} },
		func(d string) []string { return []string{"campaign", "send", "--data", d, "1"} },
		func(d string) []string { return []string{"backup", "--data", d, filepath.Join(dir, "b.db")} },
		func(d string) []string { return []string{"compact", "--data", d} },
	} {
		data := filepath.Join(dir, fmt.Sprint("data", i))
		code, out := runCmd(t, env, args(data)...)
		if code != 1 || !strings.Contains(out, "no store at") {
			t.Errorf("%q: exit %d, want 1 and \"no store at\":\n%s", args(data), code, out)
		}
		if _, err := os.Stat(filepath.Join(data, "bulletin.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%q made a store: %v", args(data), err)
		}
	}
}

// TestTrustedProxyForms: --trusted-proxy takes networks and bare
// addresses, and names the flag, not Go's parser, when refusing.
func TestTrustedProxyForms(t *testing.T) {
	t.Parallel()
	c := config{TrustedProxy: "127.0.0.1, 10.0.0.0/8,::1"}
	got, err := c.proxies()
	if err != nil || len(got) != 3 || got[0].String() != "127.0.0.1/32" || got[1].String() != "10.0.0.0/8" || got[2].String() != "::1/128" {
		t.Fatalf("proxies() = %v, %v", got, err)
	}
	c.TrustedProxy = "proxy.example"
	if _, err := c.proxies(); err == nil || strings.Contains(err.Error(), "netip") || !strings.Contains(err.Error(), "--trusted-proxy") {
		t.Errorf("proxies(%q) error = %v", c.TrustedProxy, err)
	}
}

// TestWriteBackupStoppedWhileChecking: a stop asked while the copy is
// checked, which cannot be cut short, leaves no FILE once the check ends.
func TestWriteBackupStoppedWhileChecking(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	seed(t, data, 50)
	db, err := store.Open(filepath.Join(data, "bulletin.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	atCheck := func(step string, _, _ int64) {
		if step == list.StepCheck {
			cancel()
		}
	}
	path := filepath.Join(t.TempDir(), "b.db")
	if _, err := writeBackup(ctx, path, atCheck, func(f *os.File) (int64, error) { return db.Backup(t.Context(), f) }); !errors.Is(err, context.Canceled) {
		t.Errorf("writeBackup stopped while checking = %v, want context.Canceled", err)
	}
	for _, p := range []string{path, path + ".tmp"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left: %v", filepath.Base(p), err)
		}
	}
}
