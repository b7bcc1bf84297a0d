package smtp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp"
	gosmtp "github.com/emersion/go-smtp"
)

// gate is a handler that holds every report until it is opened, so that a
// test can keep messages' memory taken.
type gate struct {
	entered chan struct{}
	open    chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 100), open: make(chan struct{})} }

func (g *gate) HandleInbound(ctx context.Context, _ list.InboundReport) error {
	g.entered <- struct{}{}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestInboundMemoryBudget(t *testing.T) {
	t.Parallel()
	const size, senders = 20 << 10, 8
	g := newGate()
	// Room for a few messages of this size, never for all of them.
	in := startInbound(t, smtp.InboundOptions{Domains: []string{testDomain}, Handler: g,
		MaxMessageBytes: size + 1024, MaxMemoryBytes: 200 << 10, HandlerTimeout: time.Minute})
	addr := in.Addr().String()
	msg := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 98)+"\r\n", size/100)
	replies := make(chan error, senders)
	for range senders {
		go func() { replies <- deliver(t, addr, "bounces@example.org", msg) }()
	}
	// Every sender is either being handled (holding its memory) or refused.
	var entered, refused int
	for entered+refused < senders {
		select {
		case <-g.entered:
			entered++
		case err := <-replies:
			var se *gosmtp.SMTPError
			if !errors.As(err, &se) || se.Code != 452 || se.EnhancedCode != (gosmtp.EnhancedCode{4, 3, 1}) {
				t.Fatalf("sender over the budget got %v, want 452 4.3.1", err)
			}
			refused++
		case <-time.After(30 * time.Second):
			t.Fatalf("stuck with %d handled and %d refused of %d", entered, refused, senders)
		}
	}
	if entered == 0 || refused == 0 {
		t.Errorf("%d handled at once and %d refused, want some of each", entered, refused)
	}
	// A sender that declares its size (RFC 1870) is refused at MAIL, before
	// it sends its data, while the budget has no room for it.
	mailSized := func() error {
		c, err := gosmtp.Dial(addr)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		defer c.Close()
		return c.Mail("", &gosmtp.MailOptions{Size: int64(len(msg))})
	}
	var se *gosmtp.SMTPError
	if err := mailSized(); !errors.As(err, &se) || se.Code != 452 || se.EnhancedCode != (gosmtp.EnhancedCode{4, 3, 1}) {
		t.Errorf("MAIL with SIZE=%d over the budget: %v, want 452 4.3.1", len(msg), err)
	}
	close(g.open)
	for range entered {
		if err := <-replies; err != nil {
			t.Errorf("message within the budget: %v", err)
		}
	}
	// The budget is given back: as many messages as before fit again.
	if err := mailSized(); err != nil {
		t.Errorf("MAIL with SIZE=%d once the budget is back: %v", len(msg), err)
	}
	for range senders {
		if err := deliver(t, addr, "bounces@example.org", msg); err != nil {
			t.Fatalf("message after the others were handled: %v", err)
		}
	}
}

func TestInboundSteadyTrickle(t *testing.T) {
	t.Parallel()
	rec, addr := startRecorder(t, func(o *smtp.InboundOptions) { o.ReadTimeout = time.Second })
	c := dialRaw(t, addr)
	c.reply(5 * time.Second)
	c.cmd(t, "EHLO test")
	c.cmd(t, "MAIL FROM:<>")
	c.cmd(t, "RCPT TO:<bounces@example.org>")
	c.cmd(t, "DATA")
	// A line every tenth of the read timeout, for three times the read
	// timeout: never idle, so never cut off.
	io.WriteString(c, "Subject: slow\r\n\r\n")
	for i := range 30 {
		if _, err := fmt.Fprintf(c, "line %d\r\n", i); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	io.WriteString(c, ".\r\n")
	if r, err := c.reply(5 * time.Second); err != nil || !strings.HasPrefix(r, "250") {
		t.Fatalf("steady sender got %q, %v; want 250", r, err)
	}
	if reps := rec.all(); len(reps) != 1 || !strings.Contains(string(reps[0].Raw), "line 29\r\n") {
		t.Errorf("reports = %d, want the whole message", len(reps))
	}
}

func TestInboundLongLines(t *testing.T) {
	t.Parallel()
	rec, addr := startRecorder(t, nil)
	long := strings.Repeat("h", 10000)
	mustDeliver(t, addr, "bounces@example.org", "Subject: long\r\n\r\n<p>"+long+"</p>\r\n")
	if reps := rec.all(); len(reps) != 1 || !strings.Contains(string(reps[0].Raw), long) {
		t.Errorf("a 10 kB line: %d reports, want 1 with the line", len(reps))
	}
	// Past the limit: a reply, not a dropped connection.
	err := deliver(t, addr, "bounces@example.org", "Subject: too long\r\n\r\n"+strings.Repeat("h", 70000)+"\r\n")
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) || se.Code != 554 {
		t.Errorf("a 70 kB line = %v, want 554", err)
	}
}

func TestInboundHandlerTimeoutPerReport(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	var mu sync.Mutex
	var left []time.Duration
	in := startInbound(t, smtp.InboundOptions{Domains: []string{testDomain}, HandlerTimeout: timeout,
		Handler: handlerFunc(func(ctx context.Context, _ list.InboundReport) error {
			d, _ := ctx.Deadline()
			mu.Lock()
			left = append(left, time.Until(d))
			mu.Unlock()
			time.Sleep(timeout / 2) // a busy store
			return ctx.Err()
		})})
	c, err := gosmtp.Dial(in.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("", []string{"bounces@example.org", "feedback@example.org"}, strings.NewReader("Subject: x\r\n\r\ny\r\n")); err != nil {
		t.Errorf("two slow reports = %v, want 250", err)
	}
	for i, d := range left {
		if d < timeout*3/4 {
			t.Errorf("report %d had %v left at its start, want about %v", i+1, d, timeout)
		}
	}
}
