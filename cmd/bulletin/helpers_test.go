package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/list/logtest"
	"github.com/bulletin/bulletin/store"
)

// sink is a real go-smtp server on 127.0.0.1 that records what it receives.
type sink struct {
	mu    sync.Mutex
	msgs  []sinkMsg
	conns int
	// answer, when set, decides the reply to each RCPT.
	answer func(rcpt string) *gosmtp.SMTPError
	srv    *gosmtp.Server
	addr   string
}

type sinkMsg struct {
	From string
	To   []string
	Data []byte
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	s.srv = gosmtp.NewServer(s)
	s.srv.Domain = "sink.test"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *sink) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	return &sinkSession{s: s}, nil
}

func (s *sink) messages() []sinkMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMsg(nil), s.msgs...)
}

type sinkSession struct {
	s    *sink
	from string
	to   []string
}

func (ss *sinkSession) Mail(from string, _ *gosmtp.MailOptions) error { ss.from = from; return nil }
func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.s.mu.Lock()
	answer := ss.s.answer
	ss.s.mu.Unlock()
	if answer != nil {
		if e := answer(to); e != nil {
			return e
		}
	}
	ss.to = append(ss.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sinkMsg{From: ss.from, To: ss.to, Data: b})
	ss.s.mu.Unlock()
	return nil
}
func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

// server is a bulletin serve started through run() on loopback ports.
type server struct {
	base   string
	smtpIn string
	data   string
	stop   context.CancelFunc
	done   chan error
	out    *syncBuffer
}

// syncBuffer takes the output of a command and of its goroutines.
type syncBuffer = logtest.Buffer

var listenRE = regexp.MustCompile(`listening on (http://\S+) \(admin UI at /admin/\) and smtp://(\S+)`)

const testPassword = "correct horse battery staple"

// startServer runs "bulletin serve" in-process on free loopback ports.
func startServer(t *testing.T, data string, extra ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{data: data, stop: cancel, done: make(chan error, 1), out: &syncBuffer{}}
	env := map[string]string{"BULLETIN_ADMIN_PASSWORD": testPassword, "BULLETIN_POSTAL_ADDRESS": "1 Test Street, Testville"}
	getenv := func(k string) string { return env[k] }
	// The form's MX check asks a DNS server on loopback: no test query
	// leaves the machine.
	ns := zoneServer(t, "example.org. 300 IN MX 10 mx.example.org.", "example.net. 300 IN MX 10 mx.example.net.")
	args := append([]string{"serve", "--data", data, "--http", "127.0.0.1:0", "--smtp-in", "127.0.0.1:0",
		"--domain", "news.test", "--log-level", "warn", "--resolver", ns}, extra...)
	go func() { s.done <- run(ctx, args, getenv, s.out, s.out) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRE.FindStringSubmatch(s.out.String()); m != nil {
			s.base, s.smtpIn = m[1], m[2]
			t.Cleanup(func() { s.shutdown(t) })
			return s
		}
		select {
		case err := <-s.done:
			t.Fatalf("serve exited: %v\n%s", err, s.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start:\n%s", s.out.String())
	return nil
}

// shutdown stops the server as SIGTERM would and waits for it.
func (s *server) shutdown(t *testing.T) {
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve: %v\n%s", err, s.out.String())
		}
	case <-time.After(20 * time.Second):
		t.Error("serve did not stop within 20 s")
	}
}

// api calls the JSON API as the admin.
func (s *server) api(t *testing.T, method, path string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", testPassword)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// campaignAction posts an action (send, pause, resume, …) of campaign id
// to the JSON API as the admin.
func (s *server) campaignAction(t *testing.T, id list.CampaignID, action string) {
	t.Helper()
	resp := s.api(t, "POST", fmt.Sprintf("/api/v1/campaigns/%d/%s", id, action), nil)
	resp.Body.Close()
}

// postForm posts a form without following redirects.
func postForm(t *testing.T, u string, v url.Values) (*http.Response, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// outboxMessages reads the outbox Maildir, waiting until at least n
// messages are there.
func outboxMessages(t *testing.T, data string, n int) [][]byte {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var out [][]byte
		for _, d := range []string{"new", "cur"} {
			ents, _ := os.ReadDir(filepath.Join(data, "outbox", d))
			for _, e := range ents {
				b, err := os.ReadFile(filepath.Join(data, "outbox", d, e.Name()))
				if err == nil {
					out = append(out, b)
				}
			}
		}
		if len(out) >= n || time.Now().After(deadline) {
			if len(out) < n {
				t.Fatalf("outbox has %d messages, want %d", len(out), n)
			}
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// textPart returns the decoded text/plain part of a raw message.
func textPart(t *testing.T, raw []byte) (mail.Header, string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			t.Fatal("no text/plain part")
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, _ := io.ReadAll(p) // multipart decodes quoted-printable
			return m.Header, string(b)
		}
	}
}

var linkRE = regexp.MustCompile(`https?://\S+/(confirm|unsubscribe|manage)/[a-z2-7]+`)

// link finds the first link of a kind in a text.
func link(t *testing.T, text, kind string) string {
	t.Helper()
	for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
		if m[1] == kind {
			return m[0]
		}
	}
	t.Fatalf("no %s link in:\n%s", kind, text)
	return ""
}

// subject returns a decoded Subject header.
func subject(h mail.Header) string {
	s, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		return h.Get("Subject")
	}
	return s
}

func firstLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	if sc.Scan() {
		return sc.Text()
	}
	return ""
}

func errStoreInUse() error { return list.ErrStoreInUse }

// newStore makes an empty store in data, as a first start of serve does,
// for the subcommands that refuse a data folder without one.
func newStore(t *testing.T, data string) {
	t.Helper()
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(data, "bulletin.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
