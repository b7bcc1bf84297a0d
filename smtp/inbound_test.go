package smtp_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp"
	"github.com/bulletin/bulletin/store"
	gosmtp "github.com/emersion/go-smtp"
)

const (
	testDomain       = "example.org"
	testBounceDomain = "bounce.example.org"
)

// inboundMailer records what the list service would send.
type inboundMailer struct {
	mu   sync.Mutex
	sent []*list.Message
}

func (m *inboundMailer) Send(_ context.Context, msg *list.Message) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return fmt.Sprintf("sent%d@%s", len(m.sent), testDomain), nil
}

func (m *inboundMailer) Preview(context.Context, *list.Message) ([]byte, error) { return nil, nil }

func (m *inboundMailer) Lint(context.Context, *list.Message) []list.Finding { return nil }

// inboundEnv is a real list service on a real store behind a real inbound
// server on loopback.
type inboundEnv struct {
	svc   *list.Service
	db    *store.DB
	in    *smtp.Inbound
	addr  string
	lists []list.List
	clock atomic.Int64 // Unix seconds
}

func (e *inboundEnv) now() time.Time { return time.Unix(e.clock.Load(), 0).UTC() }

func (e *inboundEnv) advance(d time.Duration) { e.clock.Add(int64(d / time.Second)) }

func newInboundEnv(t *testing.T, tune func(*smtp.InboundOptions)) *inboundEnv {
	t.Helper()
	e := &inboundEnv{}
	e.clock.Store(time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC).Unix())
	db, err := store.Open(filepath.Join(t.TempDir(), "bulletin.db"), store.Options{Now: e.now})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	svc, err := list.New(list.Options{Store: db, Mailer: &inboundMailer{}, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Config: list.Config{BaseURL: "https://news.example.org", Domain: testDomain, BounceDomain: testBounceDomain}, Now: e.now})
	if err != nil {
		t.Fatalf("list.New: %v", err)
	}
	e.db, e.svc = db, svc
	for _, slug := range []string{"news", "offers"} {
		l, err := svc.CreateList(t.Context(), list.List{Slug: slug, Name: slug, OptIn: list.OptInDouble}, list.Origin{User: "test"})
		if err != nil {
			t.Fatalf("CreateList(%q): %v", slug, err)
		}
		e.lists = append(e.lists, l)
	}
	opts := smtp.InboundOptions{Domains: []string{testDomain, testBounceDomain}, Handler: svc}
	if tune != nil {
		tune(&opts)
	}
	e.in = startInbound(t, opts)
	e.addr = e.in.Addr().String()
	return e
}

// startInbound serves opts on a loopback port until the test ends.
func startInbound(t *testing.T, opts smtp.InboundOptions) *smtp.Inbound {
	t.Helper()
	in, err := smtp.NewInbound(opts)
	if err != nil {
		t.Fatalf("NewInbound: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- in.Serve(l) }()
	for in.Addr() == nil {
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := in.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return in
}

// subscribe adds a confirmed subscriber to the given lists.
func (e *inboundEnv) subscribe(t *testing.T, email string, lists ...string) list.Subscriber {
	t.Helper()
	v, err := e.svc.AddSubscriber(t.Context(), list.NewSubscriber{Email: email, Lists: lists, State: list.StateConfirmed, Reason: "test"}, list.HowAdmin, list.Origin{})
	if err != nil {
		t.Fatalf("AddSubscriber(%q): %v", email, err)
	}
	return v.Subscriber
}

// sent makes a running campaign to the news list whose message to sb has
// the given Message-ID, as the campaign runner records it.
func (e *inboundEnv) sent(t *testing.T, sb list.Subscriber, msgID string) list.CampaignID {
	t.Helper()
	c := list.Campaign{Name: "March", Subject: "News", Lists: []list.ListID{e.lists[0].ID}, Status: list.StatusRunning}
	if err := e.db.CreateCampaign(t.Context(), &c); err != nil {
		t.Fatal(err)
	}
	rec := list.SendRecord{Campaign: c.ID, Subscriber: sb.ID, Outcome: list.OutcomeSent, MessageID: msgID, Attempts: 1, At: e.now()}
	if _, err := e.db.CommitSends(t.Context(), c.ID, list.SendBatch{Records: []list.SendRecord{rec}, Delta: list.Stats{Sent: 1}}); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func (e *inboundEnv) verp(sb list.Subscriber, c list.CampaignID) string {
	return "bounces+" + e.svc.Tokens().Seal(list.Token{Purpose: list.PurposeBounce, Subscriber: sb.ID, Campaign: c}) + "@" + testBounceDomain
}

func (e *inboundEnv) unsubToken(sb list.Subscriber, l list.ListID, c list.CampaignID) string {
	return e.svc.Tokens().Seal(list.Token{Purpose: list.PurposeUnsubscribe, Subscriber: sb.ID, List: l, Campaign: c})
}

// message fills a testdata/inbound template.
func message(t *testing.T, name string, vars map[string]string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "inbound", name))
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]string{"ACTION": "failed", "STATUS": "5.1.1", "MSGID": "unknown-1@example.net",
		"DIAG": "550 5.1.1 Recipient address rejected: User unknown", "RETURN_PATH": "news@example.org", "LIST_UNSUB": "<https://example.org/>"}
	s := string(raw)
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	for k, v := range defaults {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	return s
}

// deliver speaks SMTP to the server and returns the final reply's error.
func deliver(t *testing.T, addr, to, msg string) error {
	t.Helper()
	c, err := gosmtp.Dial(addr)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	return c.SendMail("", []string{to}, strings.NewReader(msg))
}

func mustDeliver(t *testing.T, addr, to, msg string) {
	t.Helper()
	if err := deliver(t, addr, to, msg); err != nil {
		t.Fatalf("delivering to %s: %v", to, err)
	}
}

func smtpCode(err error) int {
	var se *gosmtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func (e *inboundEnv) record(t *testing.T, id list.SubscriberID) list.SubscriberView {
	t.Helper()
	v, err := e.svc.Subscriber(t.Context(), id)
	if err != nil {
		t.Fatalf("Subscriber(%d): %v", id, err)
	}
	return v
}

func (e *inboundEnv) bounces(t *testing.T, email string) []list.Bounce {
	t.Helper()
	bs, err := e.db.Bounces(t.Context(), list.BounceFilter{Email: email})
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// eventKinds lists a subscriber's events as "kind/how".
func (e *inboundEnv) eventKinds(t *testing.T, id list.SubscriberID) []string {
	t.Helper()
	evs, err := e.svc.SubscriberEvents(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, string(ev.Kind)+"/"+string(ev.How))
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// rawConn is a hand-driven SMTP connection for malformed sessions.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (c *rawConn) reply(timeout time.Duration) (string, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return line, err
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n"), nil
		}
	}
}

func (c *rawConn) cmd(t *testing.T, line string) string {
	t.Helper()
	if _, err := fmt.Fprintf(c, "%s\r\n", line); err != nil {
		t.Fatalf("writing %q: %v", line, err)
	}
	r, err := c.reply(5 * time.Second)
	if err != nil {
		t.Fatalf("reply to %q: %v", line, err)
	}
	return r
}
