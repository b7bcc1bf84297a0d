package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// basicStatus answers the status of a GET with Basic credentials.
func basicStatus(t *testing.T, url, user, pass string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestUserCommands(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	newStore(t, data)
	var out bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"user", "add", "--data", data, "--role", "editor", "ed"}, envOf("BULLETIN_PASSWORD", "editor password 1"), &out, io.Discard); err != nil {
		t.Fatalf("user add: %v", err)
	}
	if err := run(ctx, []string{"user", "add", "--data", data, "--role", "admin", "admin"}, envOf("BULLETIN_PASSWORD", testPassword), &out, io.Discard); err != nil {
		t.Fatalf("user add admin: %v", err)
	}
	if err := run(ctx, []string{"user", "add", "--data", data, "--role", "boss", "x"}, envOf("BULLETIN_PASSWORD", "long enough pw"), &out, io.Discard); err == nil {
		t.Fatal("user add with an unknown role succeeded")
	}
	s := startServer(t, data)
	if code := basicStatus(t, s.base+"/api/v1/lists", "ed", "editor password 1"); code != 200 {
		t.Fatalf("editor added offline: %d", code)
	}
	// Through the running server's API, as the first admin.
	token := "admin:" + testPassword
	err := run(ctx, []string{"user", "passwd", "--server", s.base, "ed"}, envOf("BULLETIN_PASSWORD", "editor password 2", "BULLETIN_TOKEN", token), &out, io.Discard)
	if err != nil {
		t.Fatalf("user passwd --server: %v", err)
	}
	if code := basicStatus(t, s.base+"/api/v1/lists", "ed", "editor password 2"); code != 200 {
		t.Fatalf("new password: %d", code)
	}
	// An editor may not manage users.
	err = run(ctx, []string{"user", "add", "--server", s.base, "--role", "admin", "mallory"}, envOf("BULLETIN_PASSWORD", "mallory password", "BULLETIN_TOKEN", "ed:editor password 2"), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), `{"error"`) {
		t.Fatalf("editor adding a user: %v, want 403 with the message, not the JSON", err)
	}
}

// TestUserPasswordAfterStoreCheck: on a store held by a server, user add
// says so before asking for a password nobody could then use.
func TestUserPasswordAfterStoreCheck(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	startServer(t, data)
	code, out := runCmd(t, nil, "user", "add", "--data", data, "ed")
	if code != 2 || !strings.Contains(out, "store in use") || strings.Contains(out, "Password:") {
		t.Errorf("user add on a running store = exit %d, want 2 without a prompt:\n%s", code, out)
	}
}

// TestUserRoleFromEnvironment: a role taken from BULLETIN_ROLE is named
// in the output, so that a leftover variable does not quietly make admins.
func TestUserRoleFromEnvironment(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	newStore(t, data)
	env := map[string]string{"BULLETIN_PASSWORD": "long enough password", "BULLETIN_ROLE": "admin"}
	if code, out := runCmd(t, env, "user", "add", "--data", data, "ed"); code != 0 || !strings.Contains(out, "user ed added (admin, from BULLETIN_ROLE)") {
		t.Errorf("user add with BULLETIN_ROLE = exit %d:\n%s", code, out)
	}
	if code, out := runCmd(t, env, "user", "add", "--data", data, "--role", "editor", "ed2"); code != 0 || !strings.Contains(out, "user ed2 added (editor)\n") {
		t.Errorf("user add --role editor = exit %d:\n%s", code, out)
	}
}

// TestUserThroughServerAnswers: user add and user passwd with --server
// answer as they do on a stopped store, with the server named: the user,
// the role the server stored, and BULLETIN_ROLE when the role came from it
// (a leftover variable would otherwise make admins on a server without a
// word).
func TestUserThroughServerAnswers(t *testing.T) {
	t.Parallel()
	s := startServer(t, filepath.Join(t.TempDir(), "data"))
	env := map[string]string{"BULLETIN_TOKEN": "admin:" + testPassword, "BULLETIN_PASSWORD": "long enough password", "BULLETIN_ROLE": "admin"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "add", "--server", s.base, "cliadmin2"}, "user cliadmin2 added (admin, from BULLETIN_ROLE) on " + s.base + "\n"},
		{[]string{"user", "add", "--server", s.base, "--role", "editor", "ed"}, "user ed added (editor) on " + s.base + "\n"},
		{[]string{"user", "passwd", "--server", s.base, "ed"}, "password of ed changed on " + s.base + "\n"},
	} {
		if code, out := runCmd(t, env, c.args...); code != 0 || out != c.want {
			t.Errorf("%s = exit %d, %q; want 0, %q", strings.Join(c.args, " "), code, out, c.want)
		}
	}
	if code := basicStatus(t, s.base+"/api/v1/users", "cliadmin2", "long enough password"); code != 200 {
		t.Errorf("the user added with BULLETIN_ROLE=admin lists the users: %d, want 200", code)
	}
}

// TestSubcommandHelpAndFlagOrder: "user -h", "campaign -h" and "dkim -h" show help
// and exit 0 as the other commands do, and a flag after the arguments is
// refused saying that flags go first.
func TestSubcommandHelpAndFlagOrder(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"user", "-h"}, {"user", "--help"}, {"campaign", "-h"}, {"campaign", "send", "-h"}, {"user", "add", "-h"}, {"dkim", "-h"}, {"dkim", "dns", "-h"}} {
		if code, out := runCmd(t, nil, args...); code != 0 || !strings.Contains(out, "Usage") {
			t.Errorf("%s = exit %d, want 0 with the usage:\n%s", strings.Join(args, " "), code, out)
		}
	}
	env := map[string]string{"BULLETIN_PASSWORD": "long enough password"}
	for _, args := range [][]string{
		{"user", "add", "ed", "--role", "editor"},
		{"campaign", "send", "3", "--server", "http://127.0.0.1:1"},
		{"import", "--list", "newsletter", "subs.csv", "--mode", "confirmed"},
	} {
		code, out := runCmd(t, env, args...)
		if code != 2 || !strings.Contains(out, "flags go before them") {
			t.Errorf("%s = exit %d, want 2 saying flags go first:\n%s", strings.Join(args, " "), code, out)
		}
	}
}

func TestCampaignSendThroughServer(t *testing.T) {
	t.Parallel()
	_, s, want, id := startSeeded(t, 40)
	var out bytes.Buffer
	err := run(context.Background(), []string{"campaign", "send", "--server", s.base, fmt.Sprint(id)}, envOf("BULLETIN_TOKEN", "admin:"+testPassword), &out, io.Discard)
	if err != nil {
		t.Fatalf("campaign send --server: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[len(lines)-1], "done in ") ||
		!strings.Contains(lines[len(lines)-1], fmt.Sprintf(": %d sent (", len(want))) {
		t.Fatalf("no summary line, as the local send prints:\n%s", out.String())
	}
	last := lines[len(lines)-2]
	if !strings.Contains(last, "finished") || !strings.Contains(last, "100.0%") || !strings.Contains(last, fmt.Sprintf("sent %d", len(want))) {
		t.Fatalf("progress lines:\n%s", out.String())
	}
	if got := waitCampaign(t, s, id, list.StatusFinished, 5*time.Second); got.Stats.Sent != len(want) {
		t.Fatalf("stats %+v", got.Stats)
	}
}

// TestCampaignSendThroughServerResumesOrRefuses: a remote campaign send of
// a paused campaign resumes it, as a local one does, and one of a finished
// campaign is refused instead of printing a summary of nothing.
func TestCampaignSendThroughServerResumesOrRefuses(t *testing.T) {
	t.Parallel()
	_, s, want, id := startSeeded(t, 40)
	s.campaignAction(t, id, "send")
	s.campaignAction(t, id, "pause")
	waitCampaign(t, s, id, list.StatusPaused, 5*time.Second)
	env := envOf("BULLETIN_TOKEN", "admin:"+testPassword)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"campaign", "send", "--server", s.base, fmt.Sprint(id)}, env, &out, io.Discard); err != nil {
		t.Fatalf("campaign send --server of a paused campaign: %v\n%s", err, out.String())
	}
	if got := waitCampaign(t, s, id, list.StatusFinished, 5*time.Second); got.Stats.Sent != len(want) {
		t.Fatalf("stats %+v, want %d sent", got.Stats, len(want))
	}
	out.Reset()
	err := run(t.Context(), []string{"campaign", "send", "--server", s.base, fmt.Sprint(id)}, env, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "finished already") || strings.Contains(out.String(), "done in") {
		t.Fatalf("campaign send --server of a finished campaign: %v\n%s", err, out.String())
	}
}

// TestUserCommandLineMistakes checks that a bad subcommand or role is a
// usage error found before the password is read or the store made.
func TestUserCommandLineMistakes(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"user", "bogus", "NAME"},
		{"user", "add", "--role", "boss", "NAME"},
	} {
		data := filepath.Join(t.TempDir(), "data")
		args = append(append(args[:2:2], "--data", data), args[2:]...)
		code, out := runCmd(t, map[string]string{"BULLETIN_PASSWORD": "long enough password"}, args...)
		if code != 2 {
			t.Errorf("%s = exit %d, want 2:\n%s", strings.Join(args, " "), code, out)
		}
		if _, err := os.Stat(data); err == nil {
			t.Errorf("%s made the store", strings.Join(args, " "))
		}
	}
	var help bytes.Buffer
	if err := run(t.Context(), []string{"help"}, envOf(), &help, io.Discard); err != nil || !strings.Contains(help.String(), "an editor unless --role admin") {
		t.Errorf("help does not say the default role:\n%s", help.String())
	}
}

// TestServerWithoutToken checks that every command run with --server says
// that BULLETIN_TOKEN is missing, with exit code 2, before any request.
func TestServerWithoutToken(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}))
	defer api.Close()
	csv := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(csv, []byte("email\na@example.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"user", "add", "--server", api.URL, "NAME"},
		{"user", "passwd", "--server", api.URL, "NAME"},
		{"import", "--server", api.URL, "--list", "news", csv},
		{"campaign", "send", "--server", api.URL, "1"},
		{"backup", "--server", api.URL, filepath.Join(t.TempDir(), "b.db")},
	} {
		code, out := runCmd(t, map[string]string{"BULLETIN_PASSWORD": "long enough password"}, args...)
		if code != 2 || !strings.Contains(out, "needs credentials in BULLETIN_TOKEN") {
			t.Errorf("%s = exit %d, want 2 asking for BULLETIN_TOKEN:\n%s", strings.Join(args, " "), code, out)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests without credentials", n)
	}
}
