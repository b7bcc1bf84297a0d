package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/bulletin/bulletin/list"
)

// TestMain lets the test binary run as "bulletin" for the crash test:
// with BULLETIN_TEST_CHILD set, it runs the command line after "--".
func TestMain(m *testing.M) {
	if os.Getenv("BULLETIN_TEST_CHILD") == "1" {
		args := os.Args[1:]
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, args, os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(exitCode(err, os.Stderr))
	}
	os.Exit(m.Run())
}

// startSeeded seeds a store with n subscribers and a draft campaign (seed)
// and starts a server on it that sends to a new sink at 20 messages a
// second, slow enough to act on a campaign mid-run.
func startSeeded(t *testing.T, n int) (*sink, *server, map[string]bool, list.CampaignID) {
	t.Helper()
	sk := newSink(t)
	data := filepath.Join(t.TempDir(), "data")
	want, id := seed(t, data, n)
	return sk, startServer(t, data, "--relay", "smtp://"+sk.addr, "--rate", "20"), want, id
}

// seed makes lists a, b and c on a stopped store and n confirmed
// subscribers on overlapping lists (i%2 on a, i%3 on b, i%5 on c), and a
// draft campaign to all three; it returns the recipients and the campaign id.
func seed(t *testing.T, data string, n int) (map[string]bool, list.CampaignID) {
	t.Helper()
	cfg := config{Data: data}
	want := map[string]bool{}
	var id list.CampaignID
	err := withInstance(t.Context(), cfg, io.Discard, func(in *instance) error {
		ctx := t.Context()
		for _, slug := range []string{"a", "b", "c"} {
			if _, err := in.svc.CreateList(ctx, list.List{Slug: slug, Name: "List " + slug}, list.Origin{}); err != nil {
				return err
			}
		}
		for i := 1; i <= n; i++ {
			var lists []string
			for _, x := range []struct {
				s string
				m int
			}{{"a", 2}, {"b", 3}, {"c", 5}} {
				if i%x.m == 0 {
					lists = append(lists, x.s)
				}
			}
			email := fmt.Sprintf("r%05d@example.net", i)
			if _, err := in.svc.AddSubscriber(ctx, list.NewSubscriber{Email: email, Name: fmt.Sprint("Reader ", i), Lists: lists,
				State: list.StateConfirmed, Reason: "test seed"}, list.HowImport, list.Origin{}); err != nil {
				return err
			}
			if len(lists) > 0 {
				want[email] = true
			}
		}
		subj, body, lists := "Monthly news", "<h1>News</h1><p>Hello {{.Name}}, here is the news.</p>", []string{"a", "b", "c"}
		c, err := in.svc.CreateCampaign(ctx, list.CampaignInput{Subject: &subj, Body: &body, Lists: &lists}, list.Origin{})
		id = c.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return want, id
}

// received counts campaign messages per envelope recipient.
func received(t *testing.T, sk *sink) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, m := range sk.messages() {
		h, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		if h.Header.Get("List-Unsubscribe-Post") == "" {
			continue // a system mail
		}
		for _, to := range m.To {
			got[to]++
		}
	}
	return got
}

func waitCampaign(t *testing.T, s *server, id list.CampaignID, want list.Status, within time.Duration) list.CampaignView {
	t.Helper()
	deadline := time.Now().Add(within)
	var c list.CampaignView
	for time.Now().Before(deadline) {
		resp := s.api(t, "GET", fmt.Sprintf("/api/v1/campaigns/%d", id), nil)
		json.NewDecoder(resp.Body).Decode(&c)
		resp.Body.Close()
		if c.Status == want {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("campaign %d is %s %+v, want %s", id, c.Status, c.Stats, want)
	return c
}

func TestCampaignEndToEnd(t *testing.T) {
	t.Parallel()
	sk := newSink(t)
	data := filepath.Join(t.TempDir(), "data")
	want, id := seed(t, data, 1200)
	// One address cannot go into an SMTP envelope without SMTPUTF8: it
	// fails alone, and the campaign goes on.
	const eai = "jörg@bücher.example"
	err := withInstance(t.Context(), config{Data: data}, io.Discard, func(in *instance) error {
		_, err := in.svc.AddSubscriber(t.Context(), list.NewSubscriber{Email: eai, Lists: []string{"a"}, State: list.StateConfirmed, Reason: "test seed"},
			list.HowImport, list.Origin{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Two people are refused by the relay for good.
	sk.answer = func(rcpt string) *gosmtp.SMTPError {
		if rcpt == "r00010@example.net" || rcpt == "r00012@example.net" {
			return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}
	s := startServer(t, data, "--relay", "smtp://"+sk.addr, "--rate", "0")
	resp := s.api(t, "POST", fmt.Sprintf("/api/v1/campaigns/%d/send", id), nil)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("send: %d", resp.StatusCode)
	}
	c := waitCampaign(t, s, id, list.StatusFinished, 60*time.Second)
	got := received(t, sk)
	for email := range want {
		if email == "r00010@example.net" || email == "r00012@example.net" {
			continue
		}
		if got[email] != 1 {
			t.Errorf("%s received %d messages, want 1", email, got[email])
		}
	}
	if c.Stats.Total != len(want)+1 || c.Stats.Sent != len(want)-2 || c.Stats.Failed != 3 || c.Stats.Remaining != 0 {
		t.Errorf("stats = %+v, want total %d, sent %d, failed 3", c.Stats, len(want)+1, len(want)-2)
	}
	if sk.conns > 16 {
		t.Errorf("%d SMTP connections for %d messages: connections are not reused", sk.conns, len(want))
	}
	checkCampaignHeaders(t, sk.messages()[len(sk.messages())-1].Data)
	// The refused addresses are blocklisted with a hard bounce.
	var page struct {
		Items []struct {
			Email string `json:"email"`
			Kind  string `json:"kind"`
		} `json:"items"`
	}
	resp = s.api(t, "GET", fmt.Sprintf("/api/v1/subscribers?email=%s", "r00010@example.net"), nil)
	var sp struct {
		Items []apiSubscriber `json:"items"`
	}
	json.NewDecoder(resp.Body).Decode(&sp)
	resp.Body.Close()
	if len(sp.Items) != 1 || !sp.Items[0].Blocklisted {
		t.Errorf("r00010 after a 550 5.1.1: %+v, want blocklisted", sp.Items)
	}
	resp = s.api(t, "GET", "/api/v1/subscribers?email="+url.QueryEscape(eai), nil)
	sp.Items = nil
	json.NewDecoder(resp.Body).Decode(&sp)
	resp.Body.Close()
	if len(sp.Items) != 1 || sp.Items[0].Blocklisted {
		t.Errorf("%s after failing for want of SMTPUTF8: %+v, want found and not blocklisted", eai, sp.Items)
	}
	_ = page
}

// TestCampaignUnsendableFirst: a stored address the sender cannot write to
// (a non-ASCII local part: no SMTPUTF8), as the first recipient, neither
// makes the pre-send check refuse the campaign nor goes unrecorded: it
// fails alone, with a bounce record that counts toward no limit and an
// event in its history.
func TestCampaignUnsendableFirst(t *testing.T) {
	t.Parallel()
	sk := newSink(t)
	data := filepath.Join(t.TempDir(), "data")
	const eai, ok = "renée@example.net", "ok@example.net"
	var id list.CampaignID
	err := withInstance(t.Context(), config{Data: data}, io.Discard, func(in *instance) error {
		ctx := t.Context()
		if _, err := in.svc.CreateList(ctx, list.List{Slug: "a", Name: "List a"}, list.Origin{}); err != nil {
			return err
		}
		for _, email := range []string{eai, ok} {
			if _, err := in.svc.AddSubscriber(ctx, list.NewSubscriber{Email: email, Lists: []string{"a"}, State: list.StateConfirmed, Reason: "test seed"},
				list.HowImport, list.Origin{}); err != nil {
				return err
			}
		}
		subj, body, lists := "News", "<p>Hello {{.Name}}</p>", []string{"a"}
		c, err := in.svc.CreateCampaign(ctx, list.CampaignInput{Subject: &subj, Body: &body, Lists: &lists}, list.Origin{})
		id = c.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, data, "--relay", "smtp://"+sk.addr, "--rate", "0")
	resp := s.api(t, "POST", fmt.Sprintf("/api/v1/campaigns/%d/send", id), nil)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("send: %d %s", resp.StatusCode, msg)
	}
	c := waitCampaign(t, s, id, list.StatusFinished, 30*time.Second)
	if got := received(t, sk); got[ok] != 1 || len(got) != 1 || c.Stats.Sent != 1 || c.Stats.Failed != 1 {
		t.Errorf("received %v, stats %+v; want %s once, 1 sent, 1 failed", got, c.Stats, ok)
	}
	var bs struct {
		Items []struct {
			Email      string `json:"email"`
			Kind       string `json:"kind"`
			Status     string `json:"status"`
			Diagnostic string `json:"diagnostic"`
			Campaign   int64  `json:"campaign"`
			Counted    bool   `json:"counted"`
		} `json:"items"`
	}
	resp = s.api(t, "GET", "/api/v1/bounces?email="+url.QueryEscape(eai), nil)
	json.NewDecoder(resp.Body).Decode(&bs)
	resp.Body.Close()
	if len(bs.Items) != 1 || bs.Items[0].Counted || bs.Items[0].Status != "5.6.7" || bs.Items[0].Campaign != int64(id) || !strings.Contains(bs.Items[0].Diagnostic, "SMTPUTF8") {
		t.Errorf("bounce records of %s: %+v, want one uncounted 5.6.7 naming SMTPUTF8", eai, bs.Items)
	}
	var sp struct {
		Items []struct {
			ID          int64 `json:"id"`
			Blocklisted bool  `json:"blocklisted"`
		} `json:"items"`
	}
	resp = s.api(t, "GET", "/api/v1/subscribers?email="+url.QueryEscape(eai), nil)
	json.NewDecoder(resp.Body).Decode(&sp)
	resp.Body.Close()
	if len(sp.Items) != 1 || sp.Items[0].Blocklisted {
		t.Fatalf("%s: %+v, want found and not blocklisted", eai, sp.Items)
	}
	var sub struct {
		Events []struct {
			Kind     string `json:"kind"`
			Campaign int64  `json:"campaign"`
			Detail   string `json:"detail"`
		} `json:"events"`
	}
	resp = s.api(t, "GET", fmt.Sprintf("/api/v1/subscribers/%d", sp.Items[0].ID), nil)
	json.NewDecoder(resp.Body).Decode(&sub)
	resp.Body.Close()
	found := false
	for _, e := range sub.Events {
		found = found || e.Kind == string(list.EventMailFailed) && e.Campaign == int64(id) && strings.Contains(e.Detail, "SMTPUTF8")
	}
	if !found {
		t.Errorf("%s's events name no failed campaign mail: %+v", eai, sub.Events)
	}
	// A test to such an address is refused before anything goes.
	resp = s.api(t, "POST", fmt.Sprintf("/api/v1/campaigns/%d/test", id), strings.NewReader(`{"emails":["`+ok+`","`+eai+`"]}`))
	msg, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 422 || !strings.Contains(string(msg), "plain ASCII") || received(t, sk)[ok] != 1 {
		t.Errorf("test to %s: %d %s, %s got %d; want 422 naming plain ASCII and nothing sent", eai, resp.StatusCode, msg, ok, received(t, sk)[ok])
	}
}

// checkCampaignHeaders asserts the compliance headers of one campaign message.
func checkCampaignHeaders(t *testing.T, raw []byte) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Header
	if !strings.HasPrefix(h.Get("List-Id"), "List a <a.news.test>") && !strings.Contains(h.Get("List-Id"), ".news.test>") {
		t.Errorf("List-Id = %q", h.Get("List-Id"))
	}
	lu := h.Get("List-Unsubscribe")
	if !strings.Contains(lu, "/unsubscribe/") || !strings.Contains(lu, "mailto:unsubscribe+") {
		t.Errorf("List-Unsubscribe = %q", lu)
	}
	if h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || h.Get("Precedence") != "bulk" || h.Get("Dkim-Signature") == "" {
		t.Errorf("headers: %v", h)
	}
}

// TestCampaignSurvivesKill sends a campaign from a child process, kills it
// with SIGKILL halfway, restarts it, and checks that nobody was skipped and
// duplicates stay within the bound (workers in flight + one commit group).
func TestCampaignSurvivesKill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("crash test starts child processes")
	}
	sk := newSink(t)
	data := filepath.Join(t.TempDir(), "data")
	want, id := seed(t, data, 1500)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(exe, "-test.run=^$", "--", "campaign", "send", "--data", data, "--relay", "smtp://"+sk.addr,
			"--rate", "400", "--postal-address", "1 Crash Road", "--domain", "news.test", "--base-url", "https://news.test", fmt.Sprint(id))
		cmd.Env = append(os.Environ(), "BULLETIN_TEST_CHILD=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	first := start()
	deadline := time.Now().Add(60 * time.Second)
	for len(received(t, sk)) < len(want)/3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	atKill := len(received(t, sk))
	if atKill >= len(want) {
		t.Fatalf("the campaign finished before the kill (%d messages)", atKill)
	}
	second := start()
	waitErr := make(chan error, 1)
	go func() { waitErr <- second.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("second run: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("second run did not finish")
	}
	got := received(t, sk)
	dups := 0
	for email := range want {
		if got[email] == 0 {
			t.Errorf("%s was skipped", email)
		}
		dups += max(got[email]-1, 0)
	}
	t.Logf("killed after %d of %d recipients; %d duplicates after the restart", atKill, len(want), dups)
	if dups > 64 {
		t.Errorf("%d duplicates, want at most 64", dups)
	}
	// A copy sent again is the same message: its Message-ID is the first
	// copy's, so that the receiver can drop it.
	ids := map[string]map[string]bool{}
	for _, m := range sk.messages() {
		h, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		for _, to := range m.To {
			if ids[to] == nil {
				ids[to] = map[string]bool{}
			}
			ids[to][h.Header.Get("Message-ID")] = true
		}
	}
	for to, set := range ids {
		if len(set) != 1 {
			t.Errorf("%s got %d copies with different Message-IDs: %v", to, len(set), set)
		}
	}
}

// dsnFor writes a delivery status notification for a message the sink got.
func dsnFor(rcpt, messageID string) string {
	return strings.ReplaceAll(`From: MAILER-DAEMON@mx.example.net
To: bounces@news.test
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; `+rcpt+`
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <`+rcpt+`>: Recipient address rejected: User unknown

--b1
Content-Type: text/rfc822-headers

Message-ID: <`+messageID+`>
To: `+rcpt+`
Subject: Monthly news

--b1--
`, "\n", "\r\n")
}

// TestBouncesEndToEnd sends a campaign to a relay that refuses some
// recipients and then posts DSNs for others to the inbound port, quoting the
// messages really sent: exactly those subscribers end blocklisted, and a
// later campaign skips them.
func TestBouncesEndToEnd(t *testing.T) {
	t.Parallel()
	sk := newSink(t)
	data := filepath.Join(t.TempDir(), "data")
	want, id := seed(t, data, 60)
	refused := map[string]bool{"r00002@example.net": true, "r00003@example.net": true}
	sk.answer = func(rcpt string) *gosmtp.SMTPError {
		if refused[rcpt] {
			return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}
	s := startServer(t, data, "--relay", "smtp://"+sk.addr, "--rate", "0")
	s.campaignAction(t, id, "send")
	waitCampaign(t, s, id, list.StatusFinished, 30*time.Second)
	// DSNs for two delivered messages come back: one to its VERP address,
	// one to plain bounces@ quoting the Message-ID; a forged one for a third
	// person quotes nothing Bulletin sent.
	bounced := map[string]bool{"r00004@example.net": true, "r00005@example.net": true}
	for _, m := range sk.messages() {
		h, _ := mail.ReadMessage(bytes.NewReader(m.Data))
		rcpt := m.To[0]
		if !bounced[rcpt] {
			continue
		}
		to := m.From // the VERP envelope sender
		if rcpt == "r00005@example.net" {
			to = "bounces@news.test"
		}
		msgID := strings.Trim(h.Header.Get("Message-Id"), "<>")
		if err := sendPlain(s.smtpIn, "", []string{to}, strings.NewReader(dsnFor(rcpt, msgID))); err != nil {
			t.Fatalf("DSN for %s: %v", rcpt, err)
		}
	}
	if err := sendPlain(s.smtpIn, "", []string{"bounces@news.test"}, strings.NewReader(dsnFor("r00006@example.net", "forged@elsewhere"))); err != nil {
		t.Fatalf("forged DSN: %v", err)
	}
	// An open relay attempt is refused.
	if err := sendPlain(s.smtpIn, "spam@evil.test", []string{"victim@example.com"}, strings.NewReader("Subject: hi\r\n\r\nhi\r\n")); err == nil {
		t.Fatal("the inbound server relayed mail for another domain")
	}
	blocked := map[string]bool{}
	for email := range want {
		if subscriberState(t, s, email).Blocklisted {
			blocked[email] = true
		}
	}
	for email := range refused {
		if want[email] && !blocked[email] {
			t.Errorf("%s refused with 550 5.1.1 is not blocklisted", email)
		}
	}
	for email := range bounced {
		if want[email] && !blocked[email] {
			t.Errorf("%s bounced by DSN is not blocklisted", email)
		}
	}
	if blocked["r00006@example.net"] {
		t.Error("a forged DSN blocklisted r00006")
	}
	var bs struct {
		Items []struct {
			Email   string `json:"email"`
			Kind    string `json:"kind"`
			Counted bool   `json:"counted"`
		} `json:"items"`
	}
	resp := s.api(t, "GET", "/api/v1/bounces?email=r00006@example.net", nil)
	json.NewDecoder(resp.Body).Decode(&bs)
	resp.Body.Close()
	if len(bs.Items) != 1 || bs.Items[0].Counted {
		t.Errorf("forged DSN records: %+v, want one uncounted record", bs.Items)
	}
	// A second campaign skips the blocklisted.
	before := len(sk.messages())
	subj, body, lists := "Second", "<p>Again</p>", `["a","b","c"]`
	resp = s.api(t, "POST", "/api/v1/campaigns", strings.NewReader(fmt.Sprintf(`{"subject":%q,"body":%q,"lists":%s}`, subj, body, lists)))
	var c2 list.CampaignView
	json.NewDecoder(resp.Body).Decode(&c2)
	resp.Body.Close()
	s.campaignAction(t, c2.ID, "send")
	waitCampaign(t, s, c2.ID, list.StatusFinished, 30*time.Second)
	for _, m := range sk.messages()[before:] {
		if blocked[m.To[0]] {
			t.Errorf("the second campaign mailed blocklisted %s", m.To[0])
		}
	}
	if len(blocked) != 4 {
		t.Errorf("blocklisted %v, want exactly the 4 bounced", blocked)
	}
}

// sendPlain delivers a message over a plain SMTP session, as an MTA
// returning a bounce to a server without STARTTLS would.
func sendPlain(addr, from string, to []string, r io.Reader) error {
	c, err := gosmtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.SendMail(from, to, r)
}

// sendUntil starts campaign id and waits until the sink has n of its
// messages: the campaign is then under way.
func sendUntil(t *testing.T, s *server, sk *sink, id list.CampaignID, n int) {
	t.Helper()
	s.campaignAction(t, id, "send")
	for len(received(t, sk)) < n {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPauseStopsWaitingMessages pauses a rate-limited campaign: messages
// still waiting their turn are not sent after the pause, only those
// already with the relay finish, and a resume sends everyone once.
func TestPauseStopsWaitingMessages(t *testing.T) {
	t.Parallel()
	sk, s, want, id := startSeeded(t, 240)
	sendUntil(t, s, sk, id, 10)
	s.campaignAction(t, id, "pause")
	atPause := len(received(t, sk))
	time.Sleep(1500 * time.Millisecond) // 30 messages' worth at 20/s
	// What may still arrive: the transactions under way, one a connection.
	if after := len(received(t, sk)); after > atPause+8 {
		t.Errorf("%d messages arrived after the pause (from %d to %d), want at most the 8 under way", after-atPause, atPause, after)
	}
	s.campaignAction(t, id, "resume")
	c := waitCampaign(t, s, id, list.StatusFinished, 60*time.Second)
	got := received(t, sk)
	for email := range want {
		if got[email] != 1 {
			t.Errorf("%s received %d messages across pause and resume, want 1", email, got[email])
		}
	}
	if c.Stats.Sent != len(want) {
		t.Errorf("stats = %+v, want %d sent", c.Stats, len(want))
	}
}

// TestShutdownWithStreamStopsSending stops a server while an editor
// follows a campaign's progress (the stream that `campaign send --server`
// and the campaign page keep open): no message starts after the signal,
// though the stream holds a request open, and the stream is ended.
func TestShutdownWithStreamStopsSending(t *testing.T) {
	t.Parallel()
	sk, s, _, id := startSeeded(t, 400)
	sendUntil(t, s, sk, id, 10)
	stream := s.api(t, "GET", fmt.Sprintf("/api/v1/campaigns/%d/progress", id), nil)
	defer stream.Body.Close()
	if _, err := bufio.NewReader(stream.Body).ReadString('\n'); err != nil {
		t.Fatalf("progress stream: %v", err)
	}
	before := len(received(t, sk))
	s.shutdown(t)
	// What may still arrive: the transactions under way, one a connection.
	// Before, sending went on at the full rate for as long as the stream
	// was open (up to 10 s: some 200 messages at 20/s).
	if after := len(received(t, sk)); after > before+8 {
		t.Errorf("%d messages arrived while the server stopped (from %d to %d), want at most the 8 under way", after-before, before, after)
	}
	// The stream was ended by the shutdown, not left to its own end.
	if _, err := io.Copy(io.Discard, stream.Body); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading the rest of the stream: %v", err)
	}
}

// TestCampaignSendOutboxSaysSo: a local campaign send with no relay says
// that its mail stays in the outbox, as every admin page does.
func TestCampaignSendOutboxSaysSo(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	want, id := seed(t, data, 20)
	var out bytes.Buffer
	err := run(t.Context(), []string{"campaign", "send", "--data", data, "--postal-address", "1 Test Street", "--rate", "0", fmt.Sprint(id)},
		func(string) string { return "" }, &out, io.Discard)
	if err != nil {
		t.Fatalf("campaign send: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "No relay configured") || !strings.Contains(out.String(), "outbox") {
		t.Errorf("output does not say the mail stays in the outbox:\n%s", out.String())
	}
	if n := len(outboxMessages(t, data, len(want))); n != len(want) {
		t.Errorf("%d messages in the outbox, want %d", n, len(want))
	}
	// Sending it again is refused: it is over.
	out.Reset()
	err = run(t.Context(), []string{"campaign", "send", "--data", data, "--postal-address", "1 Test Street", fmt.Sprint(id)},
		func(string) string { return "" }, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "finished already") {
		t.Errorf("second campaign send: %v\n%s", err, out.String())
	}
}
