package smtp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp"
	"github.com/bulletin/bulletin/smtp/tlstest"
	gosmtp "github.com/emersion/go-smtp"
)

// handlerFunc is a test handler with a knob for failures.
type handlerFunc func(ctx context.Context, r list.InboundReport) error

func (f handlerFunc) HandleInbound(ctx context.Context, r list.InboundReport) error { return f(ctx, r) }

// recorder records the reports it gets.
type recorder struct {
	mu      sync.Mutex
	reports []list.InboundReport
}

func (r *recorder) HandleInbound(_ context.Context, rep list.InboundReport) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, rep)
	return nil
}

func (r *recorder) all() []list.InboundReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]list.InboundReport(nil), r.reports...)
}

func startRecorder(t *testing.T, tune func(*smtp.InboundOptions)) (*recorder, string) {
	t.Helper()
	rec := &recorder{}
	opts := smtp.InboundOptions{Domains: []string{testDomain, testBounceDomain + "."}, Handler: rec}
	if tune != nil {
		tune(&opts)
	}
	in := startInbound(t, opts)
	return rec, in.Addr().String()
}

const goodToken = "abcdefghijklmnopqrstuvwxyz234567"

func TestInboundRcpt(t *testing.T) {
	t.Parallel()
	rec, addr := startRecorder(t, nil)
	cases := []struct {
		to   string
		want int // 0 accepted
		kind list.RcptKind
	}{
		{"bounces@example.org", 0, list.RcptBounce},
		{"BOUNCES@Example.ORG", 0, list.RcptBounce},
		{"bounces@bounce.example.org", 0, list.RcptBounce},
		{"bounces+" + goodToken + "@bounce.example.org", 0, list.RcptBounceToken},
		{"Bounces+" + strings.ToUpper(goodToken) + "@BOUNCE.example.org", 0, list.RcptBounceToken},
		{"unsubscribe+" + goodToken + "@example.org", 0, list.RcptUnsubscribe},
		{"feedback@example.org", 0, list.RcptFeedback},
		{"bounces@example.org.", 0, list.RcptBounce},
		// A token mangled on the way: taken as plain bounces@, so that
		// the report is recorded (a bad MAC is the list package's call).
		{"bounces+short@example.org", 0, list.RcptBounce},
		{"bounces+" + goodToken + "1@example.org", 0, list.RcptBounce},
		{"Bounces+SRS0=x-y.Z@bounce.example.org", 0, list.RcptBounce},
		{"bounces+@example.org", 0, list.RcptBounce},
		{"bounces+" + strings.Repeat("a", 128) + "9@example.org", 550, ""},
		// Relay attempts and other locals.
		{"someone@example.com", 550, ""},
		{"bounces@example.com", 550, ""},
		{"bounces@evil.example.org", 550, ""},
		{"bounces@example.org.evil.com", 550, ""},
		// RFC 5321 section 4.5.1: every domain takes postmaster@; what
		// comes there is recorded as a report to bounces@ would be.
		{"postmaster@example.org", 0, list.RcptBounce},
		{"Postmaster@bounce.example.org", 0, list.RcptBounce},
		{"postmaster@example.com", 550, ""},
		// RFC 5321 section 4.1.1.3: <Postmaster> without a domain too.
		{"Postmaster", 0, list.RcptBounce},
		{"postmaster", 0, list.RcptBounce},
		{"webmaster", 501, ""},
		{"news@example.org", 550, ""},
		{"bounces+" + strings.Repeat("a", 200) + "@example.org", 550, ""},
		{"bounces+x%evil.example.com@example.org", 550, ""},
		{"bounces+garbage@example.com", 550, ""},
		{"bounces+garbage@evil.example.org", 550, ""},
		{"bounces+" + goodToken + "@example.org.evil.com", 550, ""},
		{"unsubscribe+short@example.org", 550, ""},
		{"unsubscribe+" + goodToken + "1@example.org", 550, ""},
		{"unsubscribe+@example.org", 550, ""},
		{"feedback+" + goodToken + "@example.org", 550, ""},
		{"unsubscribe@example.org", 550, ""},
		{"bounces%example.com@example.org", 550, ""},
		{"\"bounces@example.com\"@example.org", 550, ""},
		{"bounces@[127.0.0.1]", 550, ""},
		{"@example.org", 501, ""},
	}
	for _, tc := range cases {
		err := deliver(t, addr, tc.to, "Subject: hi\r\n\r\nhello\r\n")
		got := smtpCode(err)
		if got != tc.want {
			t.Errorf("RCPT TO:<%s> = %d (%v), want %d", tc.to, got, err, tc.want)
			continue
		}
		var se *gosmtp.SMTPError
		if tc.want == 550 && (!errors.As(err, &se) || se.EnhancedCode != (gosmtp.EnhancedCode{5, 7, 1}) || strings.Contains(se.Message, tc.to)) {
			t.Errorf("RCPT TO:<%s> = %v, want 550 5.7.1 with generic text", tc.to, err)
		}
	}
	var kinds []list.RcptKind
	for _, r := range rec.all() {
		kinds = append(kinds, r.Rcpt)
		if r.Rcpt == list.RcptBounceToken || r.Rcpt == list.RcptUnsubscribe {
			if r.Token != goodToken {
				t.Errorf("token = %q, want %q (lower-cased)", r.Token, goodToken)
			}
		} else if r.Token != "" {
			t.Errorf("%s report has token %q, want none", r.Rcpt, r.Token)
		}
	}
	var want []list.RcptKind
	for _, tc := range cases {
		if tc.want == 0 {
			want = append(want, tc.kind)
		}
	}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("reports for %v, want %v", kinds, want)
	}
}

func TestInboundOversize(t *testing.T) {
	t.Parallel()
	rec, addr := startRecorder(t, func(o *smtp.InboundOptions) { o.MaxMessageBytes = 4096 })
	big := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 200)
	for _, to := range []string{"bounces@example.org", "bounces+mangled@example.org"} {
		if err := deliver(t, addr, to, big); smtpCode(err) != 552 {
			t.Errorf("oversized DATA to %s = %v, want 552", to, err)
		}
	}
	// SIZE announced at MAIL (RFC 1870).
	c, err := gosmtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("", &gosmtp.MailOptions{Size: 1 << 20}); smtpCode(err) != 552 {
		t.Errorf("MAIL SIZE=1MiB = %v, want 552", err)
	}
	// The session goes on and a small message passes.
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("", []string{"bounces@example.org"}, strings.NewReader("Subject: small\r\n\r\nhi\r\n")); err != nil {
		t.Errorf("small message after a refused one: %v", err)
	}
	if n := len(rec.all()); n != 1 {
		t.Errorf("%d reports, want 1 (the small one)", n)
	}
}

func TestInboundTooManyRecipients(t *testing.T) {
	t.Parallel()
	rec, addr := startRecorder(t, func(o *smtp.InboundOptions) { o.MaxRecipients = 2 })
	c, err := gosmtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	// Mangled-token addresses count like any other.
	for i, to := range []string{"bounces@example.org", "bounces+mangled@example.org", "bounces+other@bounce.example.org"} {
		err := c.Rcpt(to, nil)
		if want := map[bool]int{true: 452, false: 0}[i == 2]; smtpCode(err) != want {
			t.Errorf("RCPT %d = %v, want %d", i+1, err, want)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: x\r\n\r\ny\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.all()); n != 2 {
		t.Errorf("%d reports, want one per accepted recipient (2)", n)
	}
}

func TestInboundIdleTimeout(t *testing.T) {
	t.Parallel()
	_, addr := startRecorder(t, func(o *smtp.InboundOptions) {
		o.ReadTimeout, o.WriteTimeout, o.SessionTimeout = 200*time.Millisecond, time.Second, 10*time.Second
	})
	c := dialRaw(t, addr)
	if r, err := c.reply(time.Second); err != nil || !strings.HasPrefix(r, "220") {
		t.Fatalf("greeting = %q, %v", r, err)
	}
	start := time.Now()
	r, err := c.reply(3 * time.Second) // say nothing
	if err != nil || !strings.HasPrefix(r, "421") {
		t.Errorf("silent client got %q, %v; want 421", r, err)
	}
	if _, err := c.reply(time.Second); err != io.EOF {
		t.Errorf("after idle timeout: %v, want EOF (closed)", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("idle client cut off after %v", d)
	}
}

func TestInboundSessionTimeout(t *testing.T) {
	t.Parallel()
	_, addr := startRecorder(t, func(o *smtp.InboundOptions) {
		o.ReadTimeout, o.WriteTimeout, o.SessionTimeout = 300*time.Millisecond, 300*time.Millisecond, time.Second
	})
	t.Run("commands", func(t *testing.T) {
		t.Parallel()
		// A client that keeps each command within the read timeout but
		// never ends is cut off by the session deadline.
		c := dialRaw(t, addr)
		c.reply(time.Second)
		start := time.Now()
		for time.Since(start) < 5*time.Second {
			if _, err := fmt.Fprintf(c, "NOOP\r\n"); err != nil {
				break
			}
			if _, err := c.reply(time.Second); err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("NOOP loop lasted %v, want cut off near the 1s session limit", d)
		}
	})
	t.Run("data", func(t *testing.T) {
		t.Parallel()
		// Slow-loris DATA: one byte every 100ms.
		c := dialRaw(t, addr)
		c.reply(time.Second)
		c.cmd(t, "EHLO test")
		c.cmd(t, "MAIL FROM:<>")
		c.cmd(t, "RCPT TO:<bounces@example.org>")
		if r := c.cmd(t, "DATA"); !strings.HasPrefix(r, "354") {
			t.Fatalf("DATA = %q", r)
		}
		start := time.Now()
		for time.Since(start) < 5*time.Second {
			if _, err := c.Write([]byte("x")); err != nil {
				break
			}
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := c.r.Peek(1); err != nil && !isTimeout(err) {
				break // closed
			}
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("dribbling DATA lasted %v, want cut off near the 1s session limit", d)
		}
	})
	t.Run("stalled data", func(t *testing.T) {
		t.Parallel()
		// DATA that stops: cut off by the per-read timeout.
		c := dialRaw(t, addr)
		c.reply(time.Second)
		c.cmd(t, "HELO test")
		c.cmd(t, "MAIL FROM:<>")
		c.cmd(t, "RCPT TO:<bounces@example.org>")
		c.cmd(t, "DATA")
		io.WriteString(c, "Subject: x\r\n\r\npart")
		start := time.Now()
		r, err := c.reply(3 * time.Second)
		if err == nil && !strings.HasPrefix(r, "421") {
			t.Errorf("stalled DATA answered %q, want 421 or close", r)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("stalled DATA lasted %v", d)
		}
	})
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

func TestInboundConnectionStorm(t *testing.T) {
	t.Parallel()
	const max, storm = 20, 200
	rec, addr := startRecorder(t, func(o *smtp.InboundOptions) { o.MaxConns = max })
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		greeted  int
		refused  int
		failures []error
	)
	hold := make(chan struct{})
	for range storm {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, addr)
			r, err := c.reply(5 * time.Second)
			mu.Lock()
			switch {
			case err != nil:
				failures = append(failures, err)
			case strings.HasPrefix(r, "220"):
				greeted++
			case strings.HasPrefix(r, "421"):
				refused++
			default:
				failures = append(failures, fmt.Errorf("greeting %q", r))
			}
			mu.Unlock()
			if strings.HasPrefix(r, "220") {
				<-hold // keep the place until every connection has been answered
				fmt.Fprintf(c, "QUIT\r\n")
				c.reply(time.Second)
			}
			c.Close()
		}()
	}
	// Every connection is answered while the greeted ones hold their place.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := greeted + refused + len(failures)
		mu.Unlock()
		if n == storm || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(hold)
	wg.Wait()
	if greeted != max || refused != storm-max || len(failures) > 0 {
		t.Errorf("storm of %d: %d greeted, %d refused with 421, failures %v; want %d greeted", storm, greeted, refused, failures, max)
	}
	// The places are freed: a full session works afterwards.
	var err error
	for range 50 {
		if err = deliver(t, addr, "bounces@example.org", "Subject: after\r\n\r\nhi\r\n"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("delivery after the storm: %v", err)
	}
	if n := len(rec.all()); n != 1 {
		t.Errorf("%d reports, want 1", n)
	}
}

func TestInboundHandlerFailure(t *testing.T) {
	t.Parallel()
	var calls int
	var mu sync.Mutex
	in := startInbound(t, smtp.InboundOptions{Domains: []string{testDomain}, Handler: handlerFunc(func(_ context.Context, r list.InboundReport) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		switch calls {
		case 1:
			return errors.New("store: disk on fire at /var/lib/bulletin")
		case 2:
			panic("handler bug")
		}
		return nil
	})})
	addr := in.Addr().String()
	err := deliver(t, addr, "bounces@example.org", "Subject: x\r\n\r\ny\r\n")
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 || strings.Contains(se.Message, "disk") {
		t.Errorf("store failure answered %v, want 451 with generic text", err)
	}
	if err := deliver(t, addr, "bounces@example.org", "Subject: x\r\n\r\ny\r\n"); smtpCode(err) != 451 {
		t.Errorf("panicking handler answered %v, want 451", err)
	}
	if err := deliver(t, addr, "bounces@example.org", "Subject: x\r\n\r\ny\r\n"); err != nil {
		t.Errorf("after a panic the server answered %v, want 250", err)
	}
}

func TestInboundMalformedSession(t *testing.T) {
	t.Parallel()
	rec, addr := startRecorder(t, nil)
	c := dialRaw(t, addr)
	c.reply(time.Second)
	for _, tc := range []struct{ cmd, want string }{
		{"RCPT TO:<bounces@example.org>", "502"}, // before MAIL
		{"DATA", "502"},
		{"HELO", "501"},
		{"EHLO test", "250"},
		{"AUTH PLAIN AGJvYgBwYXNz", "5"}, // no AUTH: nothing to log in to
		{"MAIL FROM:<>", "250"},
		{"RCPT TO:<bounces@example.com>", "550"},
		{"DATA", "502"}, // no accepted recipient
		{"RCPT TO bounces@example.org", "501"},
		{"RCPT TO:<" + strings.Repeat("a", 1500) + "@example.org>", "550"},
		{"\x00\x01\x02", "50"},
		{"STARTTLS", "502"}, // no certificate configured
		{"RCPT TO:<bounces@example.org>", "250"},
		{"DATA", "354"},
	} {
		if r := c.cmd(t, tc.cmd); !strings.HasPrefix(r, tc.want) {
			t.Errorf("%.40q = %q, want %s", tc.cmd, r, tc.want)
		}
	}
	// Garbage data is taken (250), so the sender stops retrying it.
	io.WriteString(c, "\x00\xff not a message\r\n..dot\r\n.\r\n")
	if r, err := c.reply(5 * time.Second); err != nil || !strings.HasPrefix(r, "250") {
		t.Errorf("garbage DATA = %q, %v; want 250", r, err)
	}
	if r := c.cmd(t, "QUIT"); !strings.HasPrefix(r, "221") {
		t.Errorf("QUIT = %q", r)
	}
	reps := rec.all()
	if len(reps) != 1 || len(reps[0].Bounces) != 0 || !strings.Contains(string(reps[0].Raw), ".dot") {
		t.Errorf("reports = %+v, want one with no recipients and the raw data", reps)
	}
}

func TestNewInboundValidation(t *testing.T) {
	t.Parallel()
	for _, opts := range []smtp.InboundOptions{
		{Domains: []string{testDomain}},
		{Handler: &recorder{}},
		{Handler: &recorder{}, Domains: []string{"a@b"}},
	} {
		if _, err := smtp.NewInbound(opts); err == nil {
			t.Errorf("NewInbound(%+v) = nil error", opts)
		}
	}
}

func TestInboundStartTLS(t *testing.T) {
	t.Parallel()
	cert := tlstest.SelfSigned(t, testDomain).TLS
	rec, addr := startRecorder(t, func(o *smtp.InboundOptions) {
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	c, err := gosmtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true}) // self-signed test certificate
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer c.Close()
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("no TLS after STARTTLS")
	}
	if err := c.SendMail("", []string{"bounces@example.org"}, strings.NewReader("Subject: tls\r\n\r\nhi\r\n")); err != nil {
		t.Fatalf("mail over TLS: %v", err)
	}
	if n := len(rec.all()); n != 1 {
		t.Errorf("%d reports, want 1", n)
	}
}

func TestInboundShutdown(t *testing.T) {
	t.Parallel()
	in, err := smtp.NewInbound(smtp.InboundOptions{Domains: []string{testDomain}, Handler: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- in.Serve(l) }()
	c := dialRaw(t, l.Addr().String())
	if r, _ := c.reply(time.Second); !strings.HasPrefix(r, "220") {
		t.Fatalf("greeting %q", r)
	}
	c.cmd(t, "EHLO test")
	// An idle session does not hold Shutdown for the 60s read timeout.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := in.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v with an idle session", d)
	}
	if r, err := c.reply(time.Second); !strings.HasPrefix(r, "421") {
		t.Errorf("idle session got %q, %v at shutdown; want 421", r, err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve = %v after Shutdown", err)
	}
}
