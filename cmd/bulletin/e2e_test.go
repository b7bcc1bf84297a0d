package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type apiSubscriber struct {
	ID            uint64 `json:"id"`
	Email         string `json:"email"`
	Name          string `json:"name"`
	Blocklisted   bool   `json:"blocklisted"`
	Subscriptions []struct {
		List        string  `json:"list"`
		State       string  `json:"state"`
		ConfirmedAt *string `json:"confirmed_at"`
		Consent     *struct {
			Source      string `json:"source"`
			Text        string `json:"text"`
			IP          string `json:"ip"`
			ConfirmedAt string `json:"confirmed_at"`
		} `json:"consent"`
	} `json:"subscriptions"`
}

// subscriberState looks a subscriber up through the API.
func subscriberState(t *testing.T, s *server, email string) apiSubscriber {
	t.Helper()
	resp := s.api(t, "GET", "/api/v1/subscribers?email="+url.QueryEscape(email), nil)
	defer resp.Body.Close()
	var page struct {
		Items []apiSubscriber `json:"items"`
		Total int             `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET subscribers: %d %v", resp.StatusCode, err)
	}
	if len(page.Items) != 1 {
		t.Fatalf("subscribers with %s: %d", email, len(page.Items))
	}
	resp = s.api(t, "GET", "/api/v1/subscribers/"+itoa(page.Items[0].ID), nil)
	defer resp.Body.Close()
	var one apiSubscriber
	if err := json.NewDecoder(resp.Body).Decode(&one); err != nil {
		t.Fatal(err)
	}
	return one
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// subscribeAndConfirm walks the double opt-in through the public pages and
// the mail the server sent, and returns the confirmation mail's text.
func confirmByLink(t *testing.T, confirmURL string) {
	t.Helper()
	before, err := http.Get(confirmURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(before.Body)
	before.Body.Close()
	if before.StatusCode != 200 || !strings.Contains(string(page), "<form") {
		t.Fatalf("GET confirm page: %d\n%s", before.StatusCode, page)
	}
	resp, body := postForm(t, confirmURL, url.Values{})
	if resp.StatusCode >= 400 {
		t.Fatalf("POST confirm: %d\n%s", resp.StatusCode, body)
	}
}

func TestDoubleOptInThroughOutbox(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	resp, body := postForm(t, s.base+"/subscribe/newsletter", url.Values{"email": {"Reader@Example.org"}, "name": {"Rita Reader"}, "website": {""}})
	if resp.StatusCode != 200 {
		t.Fatalf("subscribe: %d\n%s", resp.StatusCode, body)
	}
	msgs := outboxMessages(t, data, 1)
	h, text := textPart(t, msgs[0])
	for _, k := range []string{"From", "To", "Subject", "Date", "Message-Id", "Dkim-Signature"} {
		if h.Get(k) == "" {
			t.Errorf("confirmation mail lacks %s", k)
		}
	}
	confirm := link(t, text, "confirm")
	if got := subscriberState(t, s, "reader@example.org"); got.Subscriptions[0].State != "unconfirmed" {
		t.Fatalf("before confirming: %+v", got)
	}
	// Fetching the link (as a mail scanner would) changes nothing.
	if r, err := http.Get(confirm); err == nil {
		r.Body.Close()
	}
	if got := subscriberState(t, s, "reader@example.org"); got.Subscriptions[0].State != "unconfirmed" {
		t.Fatalf("a GET confirmed the subscription: %+v", got)
	}
	confirmByLink(t, confirm)
	got := subscriberState(t, s, "reader@example.org")
	sub := got.Subscriptions[0]
	if sub.State != "confirmed" || sub.Consent == nil || sub.Consent.Text == "" || sub.Consent.ConfirmedAt == "" || sub.Consent.IP == "" {
		t.Fatalf("after confirming: %+v consent %+v", sub, sub.Consent)
	}
	// The welcome mail carries the manage and unsubscribe links.
	msgs = outboxMessages(t, data, 2)
	var welcome string
	for _, m := range msgs {
		h, text := textPart(t, m)
		if strings.Contains(strings.ToLower(subject(h)), "welcome") {
			welcome = text
		}
	}
	if welcome == "" {
		t.Fatal("no welcome mail in the outbox")
	}
	link(t, welcome, "manage")
	unsub := link(t, welcome, "unsubscribe")
	// RFC 8058 one-click: no cookie, no CSRF token, 200 and no redirect.
	resp, body = postForm(t, unsub, url.Values{"List-Unsubscribe": {"One-Click"}})
	if resp.StatusCode != 200 {
		t.Fatalf("one-click: %d\n%s", resp.StatusCode, body)
	}
	if got := subscriberState(t, s, "reader@example.org"); got.Subscriptions[0].State != "unsubscribed" {
		t.Fatalf("after one-click: %+v", got)
	}
	// The old confirmation link cannot undo the unsubscribe.
	resp, _ = postForm(t, confirm, url.Values{})
	if resp.StatusCode != 400 {
		t.Fatalf("old confirm link after unsubscribe: %d, want 400", resp.StatusCode)
	}
	if got := subscriberState(t, s, "reader@example.org"); got.Subscriptions[0].State != "unsubscribed" {
		t.Fatalf("the old confirm link changed state: %+v", got)
	}
}

func TestUnsubscribeByPageAndRestart(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	postForm(t, s.base+"/subscribe/newsletter", url.Values{"email": {"pat@example.org"}})
	_, text := textPart(t, outboxMessages(t, data, 1)[0])
	confirmByLink(t, link(t, text, "confirm"))
	var welcome string
	for _, m := range outboxMessages(t, data, 2) {
		if _, tx := textPart(t, m); strings.Contains(tx, "/unsubscribe/") {
			welcome = tx
		}
	}
	unsub := link(t, welcome, "unsubscribe")
	r, err := http.Get(unsub)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(page), `name="all"`) {
		t.Fatalf("unsubscribe page lacks the all-lists choice:\n%s", page)
	}
	if got := subscriberState(t, s, "pat@example.org"); got.Subscriptions[0].State != "confirmed" {
		t.Fatalf("GET of the unsubscribe page changed state: %+v", got)
	}
	resp, body := postForm(t, unsub, url.Values{"all": {"1"}})
	if resp.StatusCode >= 400 {
		t.Fatalf("unsubscribe POST: %d\n%s", resp.StatusCode, body)
	}
	// Restart: everything is still there.
	s.shutdown(t)
	s2 := startServer(t, data)
	got := subscriberState(t, s2, "pat@example.org")
	if got.Subscriptions[0].State != "unsubscribed" || !got.Blocklisted {
		t.Fatalf("after restart: %+v", got)
	}
}

func TestConfirmationThroughRelay(t *testing.T) {
	t.Parallel()
	sk := newSink(t)
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data, "--relay", "smtp://"+sk.addr)
	// A CRLF in the name is refused with the form re-rendered: it never reaches a header.
	resp, body := postForm(t, s.base+"/subscribe/newsletter", url.Values{"email": {"relay@example.org"}, "name": {"Evil\r\nBcc: victim@example.com"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "relay@example.org") {
		t.Fatalf("CRLF in the name: %d, want 422 with the typed address kept\n%s", resp.StatusCode, body)
	}
	postForm(t, s.base+"/subscribe/newsletter", url.Values{"email": {"relay@example.org"}, "name": {"Ray Lay"}})
	deadline := time.Now().Add(15 * time.Second)
	for len(sk.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	msgs := sk.messages()
	if len(msgs) == 0 {
		t.Fatalf("the relay received nothing\n%s", s.out.String())
	}
	m := msgs[0]
	if len(m.To) != 1 || m.To[0] != "relay@example.org" || !strings.HasPrefix(m.From, "bounces+") {
		t.Fatalf("envelope: from %q to %q", m.From, m.To)
	}
	if bytes.Contains(m.Data, []byte("\nBcc:")) {
		t.Fatal("a CRLF in the name reached the headers")
	}
	_, text := textPart(t, m.Data)
	confirmByLink(t, link(t, text, "confirm"))
	if got := subscriberState(t, s, "relay@example.org"); got.Subscriptions[0].State != "confirmed" {
		t.Fatalf("after confirming: %+v", got)
	}
}

// TestStoreInUseWithoutServerFlag: the commands that have no --server and
// meet a store a running server holds still say "store in use" (exit code
// 2), with advice they can follow instead of the store's own "or use
// --server"; the settings page that dkim dns points to does show the
// records.
func TestStoreInUseWithoutServerFlag(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	env := map[string]string{"BULLETIN_ADMIN_PASSWORD": testPassword}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dkim", "dns", "--data", data}, "settings page (/admin/settings"},
		{[]string{"dkim", "keygen", "--data", data}, "stop the server first (dkim keygen has no --server)"},
		{[]string{"serve", "--data", data, "--http", "127.0.0.1:0", "--smtp-in", "127.0.0.1:0"}, "give this server a data folder of its own"},
	} {
		code, out := runCmd(t, env, c.args...)
		if code != 2 || !strings.Contains(out, "store in use") || !strings.Contains(out, c.want) || strings.Contains(out, "or use --server") {
			t.Errorf("%s on a running store = exit %d:\n%s\nwant 2, store in use and %q, not \"or use --server\"", strings.Join(c.args, " "), code, out, c.want)
		}
	}
	ns := zoneServer(t)
	if _, out := runCmd(t, nil, "doctor", "--data", data, "--resolver", ns); !strings.Contains(out, "cannot read the stored keys: the running server holds the store") || strings.Contains(out, "--server") {
		t.Errorf("doctor on a running store:\n%s", out)
	}
	if _, page := loginUI(t, s.base).get("/admin/settings"); !strings.Contains(page, "bulletin._domainkey.news.test. IN TXT") {
		t.Errorf("the settings page dkim dns points to lacks the DKIM record:\n%s", page)
	}
}

func TestExportAndStoreInUse(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	postForm(t, s.base+"/subscribe/newsletter", url.Values{"email": {"exp@example.org"}, "name": {"Ex Port"}})
	outboxMessages(t, data, 1)
	start := time.Now()
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"export", "--data", data}, func(string) string { return "" }, &out, &errb)
	if !errors.Is(err, errStoreInUse()) || exitCode(err, io.Discard) != 2 {
		t.Fatalf("export on a running store: %v (exit %d), want store in use, exit 2", err, exitCode(err, io.Discard))
	}
	if !strings.Contains(err.Error(), "store in use: stop the server or use --server") {
		t.Fatalf("message %q", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("store in use took %v to say so", d)
	}
	// What the message suggests: the same export through the server.
	out.Reset()
	env := func(k string) string { return map[string]string{"BULLETIN_TOKEN": "admin:" + testPassword}[k] }
	if err := run(context.Background(), []string{"export", "--server", s.base, "--list", "newsletter", "--state", "unconfirmed"}, env, &out, &errb); err != nil {
		t.Fatalf("export --server: %v\n%s", err, errb.String())
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "exp@example.org,Ex Port,newsletter,unconfirmed") {
		t.Fatalf("export --server:\n%s", out.String())
	}
	if err := run(context.Background(), []string{"export", "--server", s.base}, func(string) string { return "" }, &out, &errb); exitCode(err, io.Discard) != 2 {
		t.Errorf("export --server without BULLETIN_TOKEN: %v, want a usage error", err)
	}
	s.shutdown(t)
	out.Reset()
	if err := run(context.Background(), []string{"export", "--data", data, "--list", "newsletter"}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatalf("export: %v\n%s", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "email,name,list,state") || !strings.HasPrefix(lines[1], "exp@example.org,Ex Port,newsletter,unconfirmed") {
		t.Fatalf("export:\n%s", out.String())
	}
}

func TestSuppressionAPI(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	resp := s.api(t, "POST", "/api/v1/suppression", strings.NewReader(`{"email":"Blocked@Example.org","reason":"asked by phone"}`))
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST suppression: %d", resp.StatusCode)
	}
	resp = s.api(t, "POST", "/api/v1/suppression", strings.NewReader(`{"email":"not an address"}`))
	resp.Body.Close()
	if resp.StatusCode != 422 {
		t.Fatalf("POST bad suppression: %d, want 422", resp.StatusCode)
	}
	resp = s.api(t, "GET", "/api/v1/suppression", nil)
	var page struct {
		Items []struct{ Email, Reason string } `json:"items"`
		Next  *string                          `json:"next"`
	}
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if len(page.Items) != 1 || page.Items[0].Email != "Blocked@Example.org" || page.Items[0].Reason != "asked by phone" {
		t.Fatalf("suppression list: %+v", page.Items)
	}
	// An editor's addition of a suppressed address mails nothing.
	resp = s.api(t, "POST", "/api/v1/subscribers", strings.NewReader(`{"email":"blocked@example.org","lists":["newsletter"],"state":"unconfirmed"}`))
	resp.Body.Close()
	if got := subscriberState(t, s, "blocked@example.org"); !got.Blocklisted {
		t.Fatalf("subscriber of a suppressed address: %+v, want blocklisted", got)
	}
	time.Sleep(300 * time.Millisecond)
	if msgs := outboxMessages(t, data, 0); len(msgs) != 0 {
		t.Fatalf("a suppressed address was mailed: %d messages", len(msgs))
	}
	resp = s.api(t, "DELETE", "/api/v1/suppression?email=blocked@example.org", nil)
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("DELETE suppression: %d", resp.StatusCode)
	}
	if got := subscriberState(t, s, "blocked@example.org"); got.Blocklisted {
		t.Fatalf("after lifting: %+v", got)
	}
	resp = s.api(t, "DELETE", "/api/v1/suppression?email=blocked@example.org", nil)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("second DELETE: %d, want 404", resp.StatusCode)
	}
}
