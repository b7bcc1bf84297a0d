package smtp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/list/logtest"
)

func relaySender(t *testing.T, ts *testServer, mod func(*Options)) *Sender {
	return newTestSender(t, func(o *Options) {
		o.Relay, o.OutboxDir = ts.relay(), ""
		o.MaxConns = 1
		o.Timeouts = Timeouts{Dial: 5 * time.Second, Command: 5 * time.Second, Data: 5 * time.Second, Backoff: 50 * time.Millisecond}
		if mod != nil {
			mod(o)
		}
	})
}

// transferModes are the ways a message goes to the relay: MAIL, RCPT and
// one BDAT chunk in a single write where PIPELINING and CHUNKING are
// offered (go-smtp's server always offers both); the same commands each
// awaiting its reply; MAIL, RCPT and DATA in one write, then the message
// dot-stuffed; and go-smtp's DATA.
var transferModes = []string{"pipelined", "bdat", "pipelined-data", "data"}

// setTransferMode makes s use the mode even though the relay offers more.
func setTransferMode(s *Sender, mode string) {
	p := s.tr.(*pool)
	p.noPipelining = mode == "bdat" || mode == "data"
	p.noChunking = mode == "data" || mode == "pipelined-data"
}

func to(addr string) *list.Message {
	m := testMessage()
	m.To = addr
	return m
}

func TestDeliveryClassified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		knobs func(*testServer)
		want  *list.DeliveryError // nil: sent
	}{
		{"250", nil, nil},
		{"421", func(ts *testServer) {
			ts.dataErr["ann@example.org"] = smtpError(421, gosmtp.EnhancedCode{4, 3, 2}, "closing")
		}, &list.DeliveryError{Code: 421, Status: "4.3.2", Text: "closing", Temporary: true}},
		{"451", func(ts *testServer) {
			ts.rcptErr["ann@example.org"] = smtpError(451, gosmtp.EnhancedCode{4, 3, 0}, "try later")
		}, &list.DeliveryError{Code: 451, Status: "4.3.0", Text: "try later", Temporary: true}},
		{"550 5.1.1", func(ts *testServer) {
			ts.rcptErr["ann@example.org"] = smtpError(550, gosmtp.EnhancedCode{5, 1, 1}, "no such user")
		}, &list.DeliveryError{Code: 550, Status: "5.1.1", Text: "no such user"}},
		{"554 5.7.1 at MAIL", func(ts *testServer) {
			ts.mailErr = smtpError(554, gosmtp.EnhancedCode{5, 7, 1}, "sender blocked")
		}, &list.DeliveryError{Code: 554, Status: "5.7.1", Text: "sender blocked", Policy: true, SenderWide: true}},
		{"452 at MAIL", func(ts *testServer) {
			ts.mailErr = smtpError(452, gosmtp.EnhancedCode{4, 3, 1}, "queue full")
		}, &list.DeliveryError{Code: 452, Status: "4.3.1", Text: "queue full", Temporary: true}},
		{"550 5.7.1 at RCPT", func(ts *testServer) {
			ts.rcptErr["ann@example.org"] = smtpError(550, gosmtp.EnhancedCode{5, 7, 1}, "policy")
		}, &list.DeliveryError{Code: 550, Status: "5.7.1", Text: "policy", Policy: true}},
		{"552 at end of DATA", func(ts *testServer) {
			ts.dataErr["ann@example.org"] = smtpError(552, gosmtp.EnhancedCode{5, 3, 4}, "too big")
		}, &list.DeliveryError{Code: 552, Status: "5.3.4", Text: "too big"}},
	}
	for _, tc := range tests {
		for _, mode := range transferModes {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				ts := newTestServer(t, nil)
				if tc.knobs != nil {
					tc.knobs(ts)
				}
				s := relaySender(t, ts, nil)
				setTransferMode(s, mode)
				id, err := s.Send(t.Context(), testMessage())
				if tc.want == nil {
					if err != nil || id == "" {
						t.Fatalf("Send = %q, %v", id, err)
					}
					return
				}
				var de *list.DeliveryError
				if !errors.As(err, &de) {
					t.Fatalf("Send error %v is not a DeliveryError", err)
				}
				if *de != *tc.want {
					t.Errorf("Send error = %+v, want %+v", *de, *tc.want)
				}
				// The session goes on for the next message (after RSET, or on a
				// new connection after a 421).
				ts.mu.Lock()
				ts.mailErr, ts.rcptErr, ts.dataErr = nil, map[string]error{}, map[string]error{}
				ts.mu.Unlock()
				if _, err := s.Send(t.Context(), testMessage()); err != nil {
					t.Fatalf("next Send: %v", err)
				}
				conns, _ := ts.stats()
				wantConns := 1
				if tc.want.Code == 421 {
					wantConns = 2
				}
				if conns != wantConns {
					t.Errorf("%d connections, want %d", conns, wantConns)
				}
				if ehlo := ts.count("EHLO"); ehlo != wantConns {
					t.Errorf("%d EHLO for %d connections: RSET must not repeat EHLO", ehlo, wantConns)
				}
			})
		}
	}
}

func TestRsetOnlyAfterFailure(t *testing.T) {
	t.Parallel()
	for _, mode := range transferModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, nil)
			ts.rcptErr["bad@example.org"] = smtpError(550, gosmtp.EnhancedCode{5, 1, 1}, "no")
			s := relaySender(t, ts, nil)
			setTransferMode(s, mode)
			for _, addr := range []string{"a@example.org", "b@example.org", "bad@example.org", "c@example.org"} {
				s.Send(t.Context(), to(addr))
			}
			if n := ts.count("RSET"); n != 1 {
				t.Errorf("%d RSET, want 1 (after the failed transaction only)", n)
			}
			if n := ts.count("EHLO"); n != 1 {
				t.Errorf("%d EHLO, want 1", n)
			}
			if _, msgs := ts.stats(); msgs != 3 {
				t.Errorf("%d messages delivered, want 3", msgs)
			}
			// Pipelined, the refused recipient's chunk went too, and was
			// refused in turn.
			verb, other, want := "BDAT", "DATA", 3
			switch mode {
			case "data":
				verb, other = other, verb
			case "pipelined-data":
				verb, other, want = other, verb, 4
			case "pipelined":
				want = 4
			}
			if n, m := ts.count(verb), ts.count(other); n != want || m != 0 {
				t.Errorf("%d %s and %d %s, want %d and 0", n, verb, m, other, want)
			}
		})
	}
}

func TestDroppedConnectionRetried(t *testing.T) {
	t.Parallel()
	for _, mode := range transferModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, nil)
			s := relaySender(t, ts, nil)
			setTransferMode(s, mode)
			if _, err := s.Send(t.Context(), testMessage()); err != nil {
				t.Fatal(err)
			}
			ts.mu.Lock()
			ts.dropMail = 1
			ts.mu.Unlock()
			if _, err := s.Send(t.Context(), testMessage()); err != nil {
				t.Fatalf("Send after a drop: %v", err)
			}
			conns, msgs := ts.stats()
			if conns != 2 || msgs != 2 {
				t.Errorf("%d connections, %d messages; want 2, 2", conns, msgs)
			}

			// Dropped twice: given up, as a temporary connection failure.
			ts.mu.Lock()
			ts.dropMail = 2
			ts.mu.Unlock()
			_, err := s.Send(t.Context(), testMessage())
			var de *list.DeliveryError
			if !errors.As(err, &de) || !de.Temporary || de.Code != 0 {
				t.Fatalf("Send = %v, want a temporary connection failure", err)
			}
		})
	}
}

func TestConnectionsReused(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	s := relaySender(t, ts, func(o *Options) { o.MaxConns = 2 })
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			if _, err := s.Send(t.Context(), to(fmt.Sprintf("r%d@example.org", i))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	conns, msgs := ts.stats()
	if msgs != 50 || conns < 1 || conns > 2 {
		t.Errorf("%d messages over %d connections; want 50 over at most 2", msgs, conns)
	}
	t.Logf("50 messages over %d connections", conns)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	s := relaySender(t, ts, func(o *Options) { o.Rate, o.MaxConns = 100, 4 })
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := s.Send(t.Context(), to(fmt.Sprintf("r%d@example.org", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d < 185*time.Millisecond {
		t.Errorf("20 messages at 100/s took %v, want at least 190ms", d)
	}
}

func TestAuthPlain(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(ts *testServer, _ *gosmtp.Server) { ts.user, ts.pass = "bulletin", "s3cret" })
	s := relaySender(t, ts, func(o *Options) { o.Relay = "smtp+plain://bulletin:s3cret@" + ts.addr })
	if _, err := s.Send(t.Context(), testMessage()); err != nil {
		t.Fatalf("Send with AUTH: %v", err)
	}
	if ts.count("AUTH") != 1 {
		t.Errorf("%d AUTH commands, want 1", ts.count("AUTH"))
	}

	bad := relaySender(t, ts, func(o *Options) { o.Relay = "smtp+plain://bulletin:wrong@" + ts.addr })
	_, err := bad.Send(t.Context(), testMessage())
	var de *list.DeliveryError
	if !errors.As(err, &de) || !de.SenderWide || !de.Policy || de.Temporary || de.Code != 535 {
		t.Errorf("Send with a wrong password = %+v, want a sender-wide 535 policy error", err)
	}

	none := relaySender(t, ts, nil)
	_, err = none.Send(t.Context(), testMessage())
	if !errors.As(err, &de) || !de.SenderWide {
		t.Errorf("Send without AUTH = %v, want sender-wide refusal at MAIL", err)
	}
}

func TestStartTLSLoopback(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	ts := newTestServer(t, func(_ *testServer, srv *gosmtp.Server) { srv.TLSConfig = serverTLS })
	s := relaySender(t, ts, func(o *Options) { o.TLSConfig, o.Relay = clientTLS, "smtp://"+ts.addr })
	for range 3 {
		if _, err := s.Send(t.Context(), testMessage()); err != nil {
			t.Fatal(err)
		}
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tls != 3 || ts.conns != 1 {
		t.Errorf("%d of 3 messages over TLS, %d connections", ts.tls, ts.conns)
	}
	if ts.traffic["STARTTLS"] != 1 || ts.traffic["EHLO"] != 2 {
		t.Errorf("traffic %v, want one STARTTLS and EHLO before and after it", ts.traffic)
	}
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	ts := newTestServerTLS(t, serverTLS)
	s := relaySender(t, ts, func(o *Options) { o.TLSConfig, o.Relay = clientTLS, "smtps://"+ts.addr })
	if _, err := s.Send(t.Context(), testMessage()); err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tls != 1 {
		t.Errorf("message not received over TLS")
	}
}

func TestRelayPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url        string
		requireTLS bool
		mode       tlsMode
		addr       string
		auth       bool
		bad        bool
	}{
		{url: "smtp://relay.example.com", requireTLS: true, addr: "relay.example.com:587"},
		{url: "smtp://u:p@relay.example.com:2525", requireTLS: true, addr: "relay.example.com:2525", auth: true},
		{url: "smtp://127.0.0.1:25", addr: "127.0.0.1:25"},
		{url: "smtp://[::1]:25", addr: "[::1]:25"},
		{url: "smtp://localhost", addr: "localhost:587"},
		{url: "smtps://relay.example.com", mode: tlsImplicit, addr: "relay.example.com:465"},
		{url: "smtp+plain://relay.example.com", mode: tlsNone, addr: "relay.example.com:25"},
		{url: "smtp+plain://u:p@relay.example.com", bad: true},
		{url: "smtp+plain://u:p@127.0.0.1:25", mode: tlsNone, addr: "127.0.0.1:25", auth: true},
		{url: "http://relay.example.com", bad: true},
		{url: "smtp://", bad: true},
		{url: "smtp://relay.example.com/path", bad: true},
	}
	for _, tc := range tests {
		c, err := parseRelay(tc.url)
		if tc.bad {
			if err == nil {
				t.Errorf("parseRelay(%q) = %+v, want an error", tc.url, c)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseRelay(%q): %v", tc.url, err)
			continue
		}
		if c.requireTLS() != tc.requireTLS || c.mode != tc.mode || c.addr() != tc.addr || c.auth != tc.auth {
			t.Errorf("parseRelay(%q) = %+v (requireTLS %v), want mode %v addr %s requireTLS %v auth %v",
				tc.url, c, c.requireTLS(), tc.mode, tc.addr, tc.requireTLS, tc.auth)
		}
	}
}

func TestStartTLSRequired(t *testing.T) {
	t.Parallel()
	// A relay without STARTTLS, reached under a non-loopback name.
	ts := newTestServer(t, nil)
	p, err := newPool(Options{Relay: "smtp://" + ts.addr, MaxConns: 1, HeloName: "x", Timeouts: Timeouts{Dial: time.Second, Command: time.Second}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.cfg.host = "relay.example.com" // policy name; the dial goes to the test server
	_, port, _ := strings.Cut(ts.addr, ":")
	p.cfg.port = port
	p.dialAddr = ts.addr
	p.log = newTestSender(t, nil).log
	_, err = p.dial(t.Context())
	var de *list.DeliveryError
	if !errors.As(err, &de) || !de.SenderWide || !strings.Contains(de.Text, "STARTTLS") {
		t.Fatalf("dial = %v, want a refusal for missing STARTTLS", err)
	}
}

func TestSendCancelled(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(ts *testServer, _ *gosmtp.Server) { ts.dataDelay = 3 * time.Second })
	s := relaySender(t, ts, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Send(ctx, testMessage())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want the context's error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Send took %v after cancellation", d)
	}
}

// TestUnreachableRelayLogged: a relay that cannot be reached is said in
// the log, by its address and without its password, once however many
// messages fail on it; and its return is said too.
func TestUnreachableRelayLogged(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var logs logtest.Buffer
	s := newTestSender(t, func(o *Options) {
		o.Relay, o.OutboxDir = "smtp+plain://bulletin:s3cret-pw@"+addr, ""
		o.Timeouts = Timeouts{Dial: time.Second, Command: time.Second, Data: time.Second, Backoff: time.Millisecond}
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	for range 5 {
		var de *list.DeliveryError
		if _, err := s.Send(t.Context(), testMessage()); !errors.As(err, &de) || !de.Temporary {
			t.Fatalf("Send to an unreachable relay = %v, want a temporary delivery error", err)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "cannot open a session with the relay"); n != 1 || !strings.Contains(out, "relay="+addr) {
		t.Errorf("%d warnings naming the relay, want 1 naming %s:\n%s", n, addr, out)
	}
	if strings.Contains(out, "s3cret-pw") {
		t.Errorf("the log shows the relay's password:\n%s", out)
	}

	// The relay comes back (at another port: this one may be taken).
	ts := newTestServer(t, func(ts *testServer, _ *gosmtp.Server) { ts.user, ts.pass = "bulletin", "s3cret-pw" })
	s.tr.(*pool).dialAddr = ts.addr
	if _, err := s.Send(t.Context(), testMessage()); err != nil {
		t.Fatalf("Send once the relay is back: %v", err)
	}
	if !strings.Contains(logs.String(), "relay reachable again") {
		t.Errorf("the relay's return is not logged:\n%s", logs.String())
	}
}
