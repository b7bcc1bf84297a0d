package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

// TestCampaignSendOnlyThatCampaign: an offline send of one campaign sends
// that one only; another running campaign of the store is left as it was
// for the server. With default links and no relay it warns on stderr.
func TestCampaignSendOnlyThatCampaign(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	_, other := seed(t, data, 20)
	var mine list.CampaignID
	err := withInstance(t.Context(), config{Data: data, PostalAddress: "1 Test Street"}, io.Discard, func(in *instance) error {
		if _, err := in.svc.CampaignAction(t.Context(), other, list.ActionSend, list.Origin{}); err != nil {
			return err
		}
		subj, body, lists := "Only c", "<p>Hi</p>", []string{"c"}
		c, err := in.svc.CreateCampaign(t.Context(), list.CampaignInput{Subject: &subj, Body: &body, Lists: &lists}, list.Origin{})
		mine = c.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err = run(t.Context(), []string{"campaign", "send", "--data", data, "--postal-address", "1 Test Street", "--rate", "0", fmt.Sprint(mine)},
		envOf(), &out, &errb)
	if err != nil {
		t.Fatalf("campaign send: %v\n%s%s", err, out.String(), errb.String())
	}
	if n := len(outboxMessages(t, data, 4)); n != 4 { // 5, 10, 15, 20 are on c
		t.Errorf("%d messages in the outbox, want the 4 of campaign %d only", n, mine)
	}
	err = withInstance(t.Context(), config{Data: data}, io.Discard, func(in *instance) error {
		c, err := in.svc.GetCampaign(t.Context(), other)
		if err == nil && (c.Status != list.StatusRunning || c.Stats.Sent != 0) {
			err = fmt.Errorf("the other campaign is %s with %d sent, want running with none", c.Status, c.Stats.Sent)
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
	if !strings.Contains(errb.String(), "Warning: links would point at http://127.0.0.1:8080") ||
		!strings.Contains(errb.String(), "signed for localhost") {
		t.Errorf("no warning about the default links and domain on stderr:\n%s", errb.String())
	}
}

// TestCampaignSendRefusesDefaultsThroughRelay: an offline send through a
// relay with the default base URL and domain is refused before anything
// changes; given them, the same send goes.
func TestCampaignSendWarnsOfDefaultsThroughRelay(t *testing.T) {
	t.Parallel()
	sk := newSink(t)
	data := filepath.Join(t.TempDir(), "data")
	want, id := seed(t, data, 10)
	args := []string{"campaign", "send", "--data", data, "--relay", "smtp://" + sk.addr, "--postal-address", "1 Test Street", fmt.Sprint(id)}
	code, out := runUntil(t, nil, "", time.Minute, args...)
	if code != 0 || !strings.Contains(out, "Warning: links would point at http://127.0.0.1:8080") || !strings.Contains(out, "--domain") {
		t.Fatalf("send through a relay with default links = exit %d, want 0 with a warning:\n%s", code, out)
	}
	if got := received(t, sk); len(got) != len(want) {
		t.Errorf("%d recipients got the campaign, want %d", len(got), len(want))
	}
}

func TestCampaignSendNoWarningWhenSet(t *testing.T) {
	t.Parallel()
	sk := newSink(t)
	data := filepath.Join(t.TempDir(), "data")
	_, id := seed(t, data, 5)
	env := map[string]string{"BULLETIN_BASE_URL": "https://news.example.org", "BULLETIN_DOMAIN": "news.example.org"}
	args := []string{"campaign", "send", "--data", data, "--relay", "smtp://" + sk.addr, "--postal-address", "1 Test Street", fmt.Sprint(id)}
	if code, out := runUntil(t, env, "", time.Minute, args...); code != 0 || strings.Contains(out, "Warning:") {
		t.Fatalf("send with the base URL and domain from the environment = exit %d:\n%s", code, out)
	}
}

// runUntil runs a command line in-process and cancels it, as Ctrl-C does,
// once its output holds mark (if not "") or after d; it returns the exit
// code and the output. Unlike runCmd's, its output takes the writes of
// goroutines (the runner's log) beside the command's own.
func runUntil(t *testing.T, env map[string]string, mark string, d time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, out, out) }()
	for {
		select {
		case err := <-done:
			return exitCode(err, out), out.String()
		case <-time.After(20 * time.Millisecond):
			if mark != "" && strings.Contains(out.String(), mark) {
				cancel()
			}
		}
	}
}

// TestCampaignSendRemoteInterrupted: Ctrl-C on a remote send says that the
// campaign goes on on the server and exits 130, as a local send does.
func TestCampaignSendRemoteInterrupted(t *testing.T) {
	t.Parallel()
	_, s, _, id := startSeeded(t, 240)
	env := map[string]string{"BULLETIN_TOKEN": "admin:" + testPassword}
	code, out := runUntil(t, env, "running [", 30*time.Second, "campaign", "send", "--server", s.base, fmt.Sprint(id))
	if code != 130 || !strings.Contains(out, "keeps running on the server") {
		t.Errorf("interrupted remote send = exit %d:\n%s", code, out)
	}
	waitCampaign(t, s, id, list.StatusRunning, time.Second)
}

// TestCampaignSendRemoteScheduled: following a campaign scheduled for
// later prints one waiting line, not one every half second.
func TestCampaignSendRemoteScheduled(t *testing.T) {
	t.Parallel()
	_, s, _, id := startSeeded(t, 10)
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	s.api(t, "PUT", fmt.Sprintf("/api/v1/campaigns/%d", id), strings.NewReader(`{"send_at":"`+at+`"}`)).Body.Close()
	env := map[string]string{"BULLETIN_TOKEN": "admin:" + testPassword}
	code, out := runUntil(t, env, "", 2500*time.Millisecond, "campaign", "send", "--server", s.base, fmt.Sprint(id))
	if n := strings.Count(out, "scheduled for "); n != 1 || strings.Contains(out, "scheduled [") {
		t.Errorf("%d waiting lines, want 1 and no progress bar:\n%s", n, out)
	}
	if code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
}

// TestProgressRemainingUnknown: before the recipients are counted, the
// progress line shows no "remaining 0".
func TestProgressRemainingUnknown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    list.Progress
		want bool
	}{
		{list.Progress{ID: 1, Status: list.StatusRunning}, false},
		{list.Progress{ID: 1, Status: list.StatusRunning, Stats: list.Stats{Total: 10, Sent: 4, Remaining: 6}}, true},
		{list.Progress{ID: 1, Status: list.StatusFinished}, true},
	} {
		var b bytes.Buffer
		printProgress(&b, tc.p)
		if got := strings.Contains(b.String(), "remaining"); got != tc.want {
			t.Errorf("printProgress(%+v) = %q, want remaining shown %v", tc.p, b.String(), tc.want)
		}
	}
}

// TestCampaignSendRemoteServerStops: when the server being followed stops,
// a remote send says so, and that the campaign resumes with the server,
// instead of a bare dial error.
func TestCampaignSendRemoteServerStops(t *testing.T) {
	t.Parallel()
	_, s, _, id := startSeeded(t, 240)
	env := map[string]string{"BULLETIN_TOKEN": "admin:" + testPassword}
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(t.Context(), []string{"campaign", "send", "--server", s.base, fmt.Sprint(id)}, func(k string) string { return env[k] }, out, out)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "running [") {
		if time.Now().After(deadline) {
			t.Fatalf("never followed:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.shutdown(t)
	select {
	case err := <-done:
		code := exitCode(err, out)
		if code != 1 || !strings.Contains(out.String(), "stopped answering") || !strings.Contains(out.String(), "resumes when it starts again") {
			t.Errorf("remote send after the server stopped = exit %d:\n%s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the remote send did not end when the server stopped")
	}
}

// TestDoneRateWhileFollowed: the summary of a send that followed a campaign
// already under way gives the rate of what was sent while it followed, not
// of everything the campaign had sent.
func TestDoneRateWhileFollowed(t *testing.T) {
	var out bytes.Buffer
	pp := &progressPrinter{w: &out, sendAt: func() *time.Time { return nil }}
	pp.print(list.Progress{ID: 1, Status: list.StatusRunning, Stats: list.Stats{Total: 500, Sent: 300}})
	pp.print(list.Progress{ID: 1, Status: list.StatusFinished, Stats: list.Stats{Total: 500, Sent: 400}})
	pp.done(10*time.Second, 400, "")
	if !strings.HasSuffix(out.String(), "done in 10s: 400 sent (10 msg/s)\n") {
		t.Errorf("summary:\n%s", out.String())
	}
}
