package smtp

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulletin/bulletin/smtp/tlstest"
	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// testServer is a go-smtp server on 127.0.0.1 with a recording backend and
// knobs to answer 4xx/5xx per recipient or at MAIL, and to drop connections.
type testServer struct {
	addr string
	srv  *gosmtp.Server

	mu    sync.Mutex
	conns int
	tls   int
	msgs  []received
	// rcptErr answers RCPT for a recipient; mailErr answers every MAIL;
	// dataErr answers the end of DATA for a recipient.
	rcptErr map[string]error
	mailErr error
	dataErr map[string]error
	// dropMail drops the connection at the next dropMail MAIL commands.
	dropMail int
	// dataDelay stalls before answering the end of DATA.
	dataDelay time.Duration
	// user and pass, when set, are required before MAIL.
	user, pass string
	// traffic counts client commands by verb.
	traffic map[string]int
}

type received struct {
	from, to string
	data     []byte
}

func newTestServer(t testing.TB, mod func(*testServer, *gosmtp.Server)) *testServer {
	t.Helper()
	return startTestServer(t, mod, nil)
}

// newTestServerTLS is a test server speaking TLS from the first byte.
func newTestServerTLS(t *testing.T, cfg *tls.Config) *testServer {
	t.Helper()
	return startTestServer(t, nil, cfg)
}

func startTestServer(t testing.TB, mod func(*testServer, *gosmtp.Server), implicitTLS *tls.Config) *testServer {
	t.Helper()
	ts := &testServer{rcptErr: map[string]error{}, dataErr: map[string]error{}, traffic: map[string]int{}}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(ts.newSession))
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = discardLogger{}
	srv.Debug = &trafficCounter{ts: ts}
	if mod != nil {
		mod(ts, srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = &countingListener{Listener: l, ts: ts}
	if implicitTLS != nil {
		l = tls.NewListener(l, implicitTLS)
	}
	ts.addr, ts.srv = l.Addr().String(), srv
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ts
}

// relay is the server's URL without TLS, so that each connection has
// exactly one EHLO.
func (ts *testServer) relay() string { return "smtp+plain://" + ts.addr }

func (ts *testServer) count(verb string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.traffic[verb]
}

func (ts *testServer) stats() (conns, msgs int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.conns, len(ts.msgs)
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

// trafficCounter counts the commands clients send, from go-smtp's debug
// stream (client lines are written as they are read).
type trafficCounter struct {
	ts *testServer
}

func (c *trafficCounter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(string(b), "\n") {
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "EHLO", "HELO", "RSET", "MAIL", "RCPT", "DATA", "BDAT", "QUIT", "AUTH", "STARTTLS":
			c.ts.mu.Lock()
			c.ts.traffic[verb]++
			c.ts.mu.Unlock()
		}
	}
	return len(b), nil
}

// countingListener counts TCP connections (go-smtp makes a new session at
// every EHLO, so sessions are not connections).
type countingListener struct {
	net.Listener
	ts *testServer
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.ts.mu.Lock()
		l.ts.conns++
		l.ts.mu.Unlock()
	}
	return c, err
}

func (ts *testServer) newSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	return &session{ts: ts, c: c}, nil
}

type session struct {
	ts       *testServer
	c        *gosmtp.Conn
	authed   bool
	from, to string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.ts.user || pass != s.ts.pass {
			return gosmtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	ts := s.ts
	ts.mu.Lock()
	drop := ts.dropMail > 0
	if drop {
		ts.dropMail--
	}
	mailErr, needAuth := ts.mailErr, ts.user != ""
	if _, ok := s.c.TLSConnectionState(); ok {
		ts.tls++
	}
	ts.mu.Unlock()
	if drop {
		s.c.Conn().Close()
		return errors.New("dropped")
	}
	if needAuth && !s.authed {
		return gosmtp.ErrAuthRequired
	}
	if mailErr != nil {
		return mailErr
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.ts.mu.Lock()
	err := s.ts.rcptErr[to]
	s.ts.mu.Unlock()
	if err != nil {
		return err
	}
	s.to = to
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.ts.mu.Lock()
	err, delay := s.ts.dataErr[s.to], s.ts.dataDelay
	s.ts.mu.Unlock()
	time.Sleep(delay)
	if err != nil {
		return err
	}
	s.ts.mu.Lock()
	s.ts.msgs = append(s.ts.msgs, received{s.from, s.to, b})
	s.ts.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", "" }
func (s *session) Logout() error { return nil }

func smtpError(code int, ec gosmtp.EnhancedCode, msg string) *gosmtp.SMTPError {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: ec, Message: msg}
}

// selfSigned makes a TLS certificate for 127.0.0.1 and a client
// configuration trusting it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	c := tlstest.SelfSigned(t, "relay.test")
	return &tls.Config{Certificates: []tls.Certificate{c.TLS}}, &tls.Config{RootCAs: c.Pool}
}
