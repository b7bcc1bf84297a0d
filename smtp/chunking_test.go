package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/bulletin/bulletin/list"
)

// TestBDATMatchesDATA sends the same message both ways: the relay receives
// the same bytes, including a line that starts with a dot, which DATA
// stuffs and BDAT must not.
func TestBDATMatchesDATA(t *testing.T) {
	t.Parallel()
	got := map[string][]byte{}
	for _, mode := range transferModes {
		ts := newTestServer(t, nil)
		s := relaySender(t, ts, nil)
		setTransferMode(s, mode)
		m := testMessage()
		m.Campaign.Format = "markdown"
		m.Campaign.Body = "First line\n\n.a line that starts with a dot\n\n..and two\n"
		if _, err := s.Send(t.Context(), m); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		ts.mu.Lock()
		if len(ts.msgs) != 1 {
			t.Fatalf("%s: %d messages", mode, len(ts.msgs))
		}
		got[mode] = ts.msgs[0].data
		ts.mu.Unlock()
	}
	for _, mode := range transferModes {
		if !bytes.Equal(got[mode], got["data"]) {
			t.Fatalf("%s delivered %d bytes, DATA %d, and they differ", mode, len(got[mode]), len(got["data"]))
		}
	}
	if !bytes.Contains(got["bdat"], []byte("\r\n.a line")) && !bytes.Contains(got["bdat"], []byte("\r\n..and")) {
		t.Fatalf("no line starting with a dot in the message; the test proves nothing:\n%s", got["bdat"])
	}
}

// chunkedConn is a connection that answers Read from r a few bytes at a
// time, as a network may.
type chunkedConn struct {
	net.Conn
	r    io.Reader
	step int
}

func (c *chunkedConn) Read(b []byte) (int, error) {
	if len(b) > c.step {
		b = b[:c.step]
	}
	return c.r.Read(b)
}

func TestReadReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, msg, rest string
		code          int
		err           string
	}{
		{in: "250 2.0.0 OK queued\r\n", code: 250, msg: "2.0.0 OK queued"},
		{in: "250-first\r\n250-second\r\n250 last\r\n", code: 250, msg: "first\nsecond\nlast"},
		{in: "250\r\n", code: 250},
		{in: "550 5.1.1 no\n", code: 550, msg: "5.1.1 no"},
		{in: "250 OK\r\n421 4.3.2 going away\r\n", code: 250, msg: "OK", rest: "421 4.3.2 going away\r\n"},
		{in: "250-a\r\n251 b\r\n", err: "codes 250 and 251"},
		{in: "hello\r\n", err: "malformed"},
		{in: "25\r\n", err: "malformed"},
		{in: "250+x\r\n", err: "malformed"},
		{in: "250 no end", err: "unexpected EOF"},
		{in: "250-" + strings.Repeat("x", maxReply) + "\r\n250 x\r\n", err: "too long"},
	}
	for _, tc := range tests {
		for _, step := range []int{1, 7, 4096} {
			rc := &replayConn{Conn: &chunkedConn{r: strings.NewReader(tc.in), step: step}}
			code, msg, err := rc.readReply()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("readReply(%.40q) step %d = %d %q %v, want an error with %q", tc.in, step, code, msg, err, tc.err)
				}
				continue
			}
			if err != nil || code != tc.code || msg != tc.msg {
				t.Errorf("readReply(%.40q) step %d = %d %q %v, want %d %q", tc.in, step, code, msg, err, tc.code, tc.msg)
				continue
			}
			// What followed the reply is read next, by go-smtp.
			rest, _ := io.ReadAll(rc)
			if string(rest) != tc.rest {
				t.Errorf("readReply(%.40q) step %d left %q, want %q", tc.in, step, rest, tc.rest)
			}
		}
	}
}

// FuzzReadReply: any input gives a reply or an error, never a panic, and
// nothing after a reply is lost.
func FuzzReadReply(f *testing.F) {
	f.Add([]byte("250-a\r\n250 b\r\nrest"), 3)
	f.Add([]byte("550 5.1.1 no\r\n"), 1)
	f.Add([]byte("\r\n\n"), 2)
	f.Fuzz(func(t *testing.T, in []byte, step int) {
		step = 1 + step&0xff
		if step < 1 {
			step = 1
		}
		rc := &replayConn{Conn: &chunkedConn{r: bytes.NewReader(in), step: step}}
		code, _, err := rc.readReply()
		if err != nil {
			return
		}
		if code < 200 || code > 599 {
			t.Fatalf("code %d accepted", code)
		}
		rest, _ := io.ReadAll(rc)
		end := bytes.Index(in, rest)
		if len(rest) > 0 && (end < 0 || !bytes.Equal(in[len(in)-len(rest):], rest)) {
			t.Fatalf("left %q, not the tail of %q", rest, in)
		}
	})
}

// FuzzPipelinedReplies: whatever a relay answers to a pipelined
// transaction, the three replies give a success only when MAIL and RCPT
// were accepted and the third reply was the one asked for; a refusal
// names the stage of the first refused command; nothing panics.
func FuzzPipelinedReplies(f *testing.F) {
	f.Add([]byte("250 ok\r\n250 ok\r\n250 queued\r\n"), true)
	f.Add([]byte("250 ok\r\n550 5.1.1 no\r\n554 no rcpt\r\n"), true)
	f.Add([]byte("250 ok\r\n250 ok\r\n354 go\r\n"), false)
	f.Add([]byte("421 4.3.2 bye\r\n"), false)
	f.Fuzz(func(t *testing.T, in []byte, chunking bool) {
		third, accept := stageEnd, 2
		if !chunking {
			third, accept = stageData, 3
		}
		c := &conn{nc: &replayConn{Conn: &chunkedConn{r: bytes.NewReader(in), step: 7}}}
		at := stageConnect
		code, err := c.pipelinedReplies(third, accept, &at)
		var replies []int
		rc := &replayConn{Conn: &chunkedConn{r: bytes.NewReader(in), step: 512}}
		for range 3 {
			c, _, err := rc.readReply()
			if err != nil {
				break
			}
			replies = append(replies, c)
		}
		if err == nil {
			if len(replies) != 3 || replies[0]/100 != 2 || replies[1]/100 != 2 || replies[2]/100 != accept || code != replies[2] || at != third {
				t.Fatalf("success for replies %v (code %d, stage %d)", replies, code, at)
			}
			return
		}
		var se *gosmtp.SMTPError
		if !errors.As(err, &se) {
			return // a malformed or missing reply
		}
		first := -1
		for i, r := range replies {
			if i < 2 && r/100 != 2 || i == 2 && r/100 != accept {
				first = i
				break
			}
		}
		want := [...]stage{stageMail, stageRcpt, third}
		if first < 0 || se.Code != replies[first] || at != want[first] {
			t.Fatalf("refusal %d at stage %d for replies %v", se.Code, at, replies)
		}
	})
}

// TestSendRaw: a prebuilt message goes through the relay sessions
// unchanged, and a refusal of the chunk is the relay's answer.
func TestSendRaw(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	s := relaySender(t, ts, nil)
	raw := []byte("From: a@example.org\r\nSubject: raw\r\n\r\n.starts with a dot\r\nend\r\n")
	if err := s.SendRaw(t.Context(), "bounces@example.org", "ann@example.org", raw); err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	ts.dataErr["bob@example.org"] = smtpError(554, gosmtp.EnhancedCode{5, 6, 0}, "content refused")
	got := ts.msgs[0]
	ts.mu.Unlock()
	if !bytes.Equal(got.data, raw) || got.from != "bounces@example.org" || got.to != "ann@example.org" {
		t.Fatalf("relay received %q from %q to %q", got.data, got.from, got.to)
	}
	err := s.SendRaw(t.Context(), "bounces@example.org", "bob@example.org", raw)
	var de *list.DeliveryError
	if !errors.As(err, &de) || de.Code != 554 || de.Status != "5.6.0" || de.Temporary {
		t.Fatalf("SendRaw = %v, want the relay's 554 5.6.0", err)
	}
	// The session goes on after the refused chunk, without RSET (BDAT LAST
	// ended the transaction).
	if err := s.SendRaw(t.Context(), "bounces@example.org", "ann@example.org", raw); err != nil {
		t.Fatal(err)
	}
	if conns, msgs := ts.stats(); conns != 1 || msgs != 2 {
		t.Errorf("%d connections, %d messages; want 1, 2", conns, msgs)
	}
	if n := ts.count("RSET"); n != 0 {
		t.Errorf("%d RSET after a refused BDAT LAST, want 0", n)
	}
}

// TestPipelinedOneRoundTrip talks to a hand-written relay that offers
// PIPELINING, with CHUNKING or without, and answers a transaction only
// once MAIL, RCPT and the BDAT chunk (or DATA) have arrived: a client that
// waited for the MAIL reply would time out. The first recipient is refused
// at RCPT, so the relay refuses the chunk or DATA too; the error is the
// RCPT refusal, and RSET readies the session for the second message.
func TestPipelinedOneRoundTrip(t *testing.T) {
	t.Parallel()
	for _, chunking := range []bool{true, false} {
		t.Run(fmt.Sprint("chunking=", chunking), func(t *testing.T) {
			t.Parallel()
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			got := make(chan rawTransaction, 2)
			relayErr := make(chan error, 1)
			go func() { relayErr <- rawPipeliningRelay(l, chunking, got) }()
			s := newTestSender(t, func(o *Options) {
				o.Relay, o.OutboxDir, o.MaxConns = "smtp+plain://"+l.Addr().String(), "", 1
				o.Timeouts = Timeouts{Dial: 2 * time.Second, Command: 2 * time.Second, Data: 2 * time.Second, Backoff: 50 * time.Millisecond}
			})
			dotted := func(addr string) *list.Message {
				m := to(addr)
				m.Campaign.Format = "markdown"
				m.Campaign.Body = "First line\n\n.a line that starts with a dot\n"
				return m
			}
			_, err = s.Send(t.Context(), dotted("gone@example.org"))
			var de *list.DeliveryError
			if !errors.As(err, &de) || de.Code != 550 || de.Status != "5.1.1" || de.SenderWide || de.Temporary {
				t.Fatalf("first Send = %v, want the RCPT refusal 550 5.1.1 for this recipient only", err)
			}
			if _, err := s.Send(t.Context(), dotted("ann@example.org")); err != nil {
				t.Fatalf("second Send on the same session: %v", err)
			}
			s.Close()
			if err := <-relayErr; err != nil {
				t.Fatal(err)
			}
			for _, rcpt := range []string{"gone@example.org", "ann@example.org"} {
				tr := <-got
				if tr.rcpt != "RCPT TO:<"+rcpt+">" || !strings.HasSuffix(tr.mail, " SIZE="+strconv.Itoa(tr.size)) {
					t.Errorf("transaction %q / %q / %q, %d bytes announced", tr.mail, tr.rcpt, tr.third, tr.size)
				}
				if strings.Contains(tr.mail, "BODY=8BITMIME") {
					t.Errorf("MAIL %q asks for 8BITMIME, which the relay did not offer", tr.mail)
				}
				if rcpt != "ann@example.org" {
					continue
				}
				// The message arrives whole and unchanged: its size as
				// announced, the dotted line with its one dot.
				if len(tr.body) != tr.size || !bytes.Contains(tr.body, []byte("\r\n.a line that starts with a dot\r\n")) ||
					!bytes.HasSuffix(tr.body, []byte("\r\n")) {
					t.Errorf("the relay got %d bytes, %d announced:\n%s", len(tr.body), tr.size, tr.body)
				}
			}
		})
	}
}

// readDotted reads a dot-stuffed message up to its final dot, undoing the
// stuffing and keeping the line ends as they came.
func readDotted(r *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		l, err := r.ReadSlice('\n')
		if err != nil {
			return out, err
		}
		if string(l) == ".\r\n" {
			return out, nil
		}
		out = append(out, bytes.TrimPrefix(l, []byte("."))...)
	}
}

// rawTransaction is what rawPipeliningRelay received of one transaction:
// the commands, the SIZE announced, and the message (unstuffed).
type rawTransaction struct {
	mail, rcpt, third string
	size              int
	body              []byte
}

// rawPipeliningRelay serves one session on l: two pipelined transactions,
// the first refused at RCPT and followed by RSET, then QUIT. It offers
// PIPELINING, and CHUNKING when chunking is set.
func rawPipeliningRelay(l net.Listener, chunking bool, got chan<- rawTransaction) error {
	c, err := l.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewReader(bufio.NewReader(c))
	line := func() string {
		s, _ := tp.ReadLine()
		return s
	}
	io.WriteString(c, "220 raw.test ESMTP\r\n")
	if l := line(); !strings.HasPrefix(l, "EHLO ") {
		return fmt.Errorf("relay: got %q, want EHLO", l)
	}
	caps := "250-raw.test\r\n250-PIPELINING\r\n250 SIZE 10000000\r\n"
	if chunking {
		caps = "250-raw.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SIZE 10000000\r\n"
	}
	io.WriteString(c, caps)
	for i := range 2 {
		// Everything up to the message is read before anything is answered.
		tr := rawTransaction{mail: line(), rcpt: line(), third: line()}
		_, size, _ := strings.Cut(tr.mail, " SIZE=")
		tr.size, _ = strconv.Atoi(size)
		if !strings.HasPrefix(tr.mail, "MAIL FROM:<") {
			return fmt.Errorf("relay: transaction %d began %q / %q / %q", i, tr.mail, tr.rcpt, tr.third)
		}
		refused := i == 0
		switch {
		case chunking:
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(tr.third, "BDAT "), " LAST"))
			if err != nil {
				return fmt.Errorf("relay: %q, want BDAT n LAST", tr.third)
			}
			tr.body = make([]byte, n)
			if _, err := io.ReadFull(tp.R, tr.body); err != nil {
				return fmt.Errorf("relay: chunk of transaction %d: %w", i, err)
			}
			if refused {
				io.WriteString(c, "250 2.1.0 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n")
			} else {
				io.WriteString(c, "250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 queued\r\n")
			}
		case tr.third != "DATA":
			return fmt.Errorf("relay: %q, want DATA", tr.third)
		case refused:
			io.WriteString(c, "250 2.1.0 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n")
		default:
			io.WriteString(c, "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n")
			if tr.body, err = readDotted(tp.R); err != nil {
				return fmt.Errorf("relay: message of transaction %d: %w", i, err)
			}
			io.WriteString(c, "250 2.0.0 queued\r\n")
		}
		got <- tr
		if refused {
			if l := line(); l != "RSET" {
				return fmt.Errorf("relay: got %q after a refused transaction, want RSET", l)
			}
			io.WriteString(c, "250 2.0.0 reset\r\n")
		}
	}
	if l := line(); l != "QUIT" {
		return fmt.Errorf("relay: got %q, want QUIT", l)
	}
	io.WriteString(c, "221 bye\r\n")
	return nil
}
