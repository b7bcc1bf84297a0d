package smtp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/bulletin/bulletin/list"
)

// pool is the relay transport: at most MaxConns SMTP sessions, each reused
// for many messages. After a completed DATA the next MAIL follows directly;
// after a failed transaction the pool sends RSET itself, because go-smtp's
// Client.Reset (v0.25.1, v0.26.0) forgets the EHLO and repeats it before the next
// MAIL, costing a second round trip.
type pool struct {
	cfg relayConfig
	// dialAddr is where to connect: cfg.addr() but in tests.
	dialAddr string
	opts     Options
	t        Timeouts
	log      *slog.Logger
	slots    chan struct{}
	// noChunking makes the pool use DATA even where BDAT is offered (tests
	// of the DATA path against go-smtp's server, which always offers it).
	noChunking bool
	// noPipelining makes the pool wait for each reply even where
	// PIPELINING is offered (tests of the unpipelined paths).
	noPipelining bool

	mu           sync.Mutex
	idle         []*conn
	closed       bool
	backoffUntil time.Time
	// failLogged is when a failure to open a session was last logged, and
	// zero while sessions open: see noteDial.
	failLogged time.Time
}

// dialLogEvery spaces the warnings about a relay that cannot be reached:
// every worker fails on every message then, and one line a minute says
// as much as thousands.
const dialLogEvery = time.Minute

// conn is one SMTP session. nc is the connection go-smtp talks over (the
// TLS one when encrypted), wrapped so that the pool can hand back bytes it
// read past a reply of its own commands.
type conn struct {
	nc   *replayConn
	cl   *gosmtp.Client
	used time.Time
	// chunking says the relay offered CHUNKING (RFC 3030): messages go as
	// one BDAT chunk (chunking.go) instead of go-smtp's dot-stuffed DATA.
	chunking bool
	// pipelined says the relay offered PIPELINING (RFC 2920): MAIL, RCPT
	// and the BDAT chunk (or DATA) go in one write (chunking.go).
	pipelined bool
	// dataBuf gathers a dot-stuffed message into large writes
	// (pipelineData); made on first use and kept with the session.
	dataBuf *bufio.Writer
	// eightBit and sized say the relay offered 8BITMIME and SIZE, whose
	// MAIL parameters the pipelined path adds as go-smtp's Mail does.
	eightBit, sized bool
}

func newPool(opts Options, log *slog.Logger) (*pool, error) {
	cfg, err := parseRelay(opts.Relay)
	if err != nil {
		return nil, err
	}
	return &pool{cfg: cfg, dialAddr: cfg.addr(), opts: opts, t: opts.Timeouts, log: log, slots: make(chan struct{}, opts.MaxConns)}, nil
}

// deliver sends one message. A message whose connection broke before its
// DATA was answered is tried once more on a fresh connection.
func (p *pool) deliver(ctx context.Context, from, to string, parts ...[]byte) error {
	// Until a session is ours, nothing is with a relay: a stop (see
	// list.WithStop) ends the wait; after, only ctx ends the transaction.
	stop := list.StopOf(ctx)
	select {
	case p.slots <- struct{}{}:
	case <-stop.Done():
		return stop.Err()
	}
	defer func() { <-p.slots }()
	for attempt := 0; ; attempt++ {
		// The retry dials: after a relay restart the idle sessions are as
		// dead as the one that broke.
		c, err := p.get(stop, attempt > 0)
		if err != nil {
			if stop.Err() != nil {
				return stop.Err()
			}
			return err
		}
		err, keep, retry := c.send(ctx, p, from, to, parts)
		if keep {
			p.put(c)
		} else {
			c.close()
		}
		if err == nil || !retry || attempt > 0 || ctx.Err() != nil {
			if err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		p.log.WarnContext(ctx, "smtp: relay connection broke, trying once more", "err", err)
	}
}

// get returns an idle session, or opens a new one (always when fresh).
func (p *pool) get(ctx context.Context, fresh bool) (*conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("smtp: sender closed")
	}
	for !fresh && len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if time.Since(c.used) < p.t.Idle {
			p.mu.Unlock()
			return c, nil
		}
		go c.quit(p.t.Command)
	}
	wait := time.Until(p.backoffUntil)
	p.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	c, err := p.dial(ctx)
	if ctx.Err() == nil {
		p.noteDial(err)
	}
	return c, err
}

// noteDial logs a failure to open a session with the relay, at most once
// every dialLogEvery, and the first success after it. The message is
// deferred and retried either way; without the log, an unreachable relay
// or a wrong password would show only as a campaign that does not move.
// The relay is named by its address, never with its credentials.
func (p *pool) noteDial(err error) {
	p.mu.Lock()
	now, last := time.Now(), p.failLogged
	switch {
	case err == nil:
		p.failLogged = time.Time{}
	case now.Sub(last) >= dialLogEvery:
		p.failLogged = now
	}
	p.mu.Unlock()
	switch {
	case err == nil && !last.IsZero():
		p.log.Info("smtp: relay reachable again", "relay", p.dialAddr)
	case err != nil && now.Sub(last) >= dialLogEvery:
		p.log.Warn("smtp: cannot open a session with the relay; messages are deferred and retried", "relay", p.dialAddr, "err", err)
	}
}

func (p *pool) put(c *conn) {
	c.used = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		go c.quit(p.t.Command)
		return
	}
	p.idle = append(p.idle, c)
}

// backoff keeps new connections away for a while after a 421.
func (p *pool) backoff() {
	p.mu.Lock()
	p.backoffUntil = time.Now().Add(p.t.Backoff)
	p.mu.Unlock()
}

func (p *pool) close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range idle {
		wg.Go(func() { c.quit(5 * time.Second) })
	}
	wg.Wait()
	return nil
}

func (p *pool) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if p.opts.TLSConfig != nil {
		cfg = p.opts.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = p.cfg.host
	}
	return cfg
}

// dial opens, encrypts, greets and authenticates a new session.
func (p *pool) dial(ctx context.Context) (_ *conn, err error) {
	d := net.Dialer{Timeout: p.t.Dial}
	nc, err := d.DialContext(ctx, "tcp", p.dialAddr)
	if err != nil {
		return nil, classify(err, stageConnect)
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer func() {
		if !stop() && err == nil {
			err = ctx.Err()
		}
		if err != nil {
			nc.Close()
		}
	}()
	nc.SetDeadline(time.Now().Add(p.t.Dial))
	var sc net.Conn = nc
	switch p.cfg.mode {
	case tlsImplicit:
		tc := tls.Client(nc, p.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, classify(fmt.Errorf("smtp: TLS handshake: %w", err), stageConnect)
		}
		sc = tc
	case tlsStartTLS:
		if sc, err = p.startTLS(nc); err != nil {
			return nil, classify(err, stageConnect)
		}
	}
	nc.SetDeadline(time.Time{})
	rc, ok := sc.(*replayConn)
	if !ok {
		rc = &replayConn{Conn: sc}
	}
	cl := gosmtp.NewClient(rc)
	cl.CommandTimeout, cl.SubmissionTimeout = p.t.Command, p.t.Data
	if err := cl.Hello(p.opts.HeloName); err != nil {
		var se *gosmtp.SMTPError
		if errors.As(err, &se) && se.Code == 421 {
			p.backoff()
		}
		return nil, classify(err, stageConnect)
	}
	if p.cfg.auth {
		if err := p.auth(cl); err != nil {
			return nil, classify(err, stageAuth)
		}
	}
	c := &conn{nc: rc, cl: cl, used: time.Now()}
	c.chunking, _ = cl.Extension("CHUNKING")
	c.chunking = c.chunking && !p.noChunking
	c.pipelined, _ = cl.Extension("PIPELINING")
	c.pipelined = c.pipelined && !p.noPipelining
	c.eightBit, _ = cl.Extension("8BITMIME")
	c.sized, _ = cl.Extension("SIZE")
	p.log.DebugContext(ctx, "smtp: relay connection opened", "chunking", c.chunking, "pipelining", c.pipelined)
	return c, nil
}

// startTLS greets the relay and upgrades the session (RFC 3207) before
// go-smtp sees it, so that the pool owns the connection go-smtp talks over
// (see rset). It returns the connection to hand to go-smtp, replaying a
// greeting so that go-smtp's client starts with a fresh EHLO as RFC 3207
// section 4.2 requires.
func (p *pool) startTLS(nc net.Conn) (net.Conn, error) {
	br := bufio.NewReader(nc)
	tp := textproto.NewReader(br)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, classify(smtpErr(err), stageConnect)
	}
	if _, err := fmt.Fprintf(nc, "EHLO %s\r\n", p.opts.HeloName); err != nil {
		return nil, classify(err, stageConnect)
	}
	_, msg, err := tp.ReadResponse(250)
	if err != nil {
		return nil, classify(smtpErr(err), stageConnect)
	}
	offered := false
	for _, l := range strings.Split(msg, "\n")[1:] {
		if strings.EqualFold(strings.Fields(l + " x")[0], "STARTTLS") {
			offered = true
		}
	}
	if !offered {
		if p.cfg.requireTLS() {
			return nil, &deliveryErr{text: "relay " + p.cfg.host + " does not offer STARTTLS, which is required (use smtps:// or, on a trusted network, smtp+plain://)"}
		}
		return &replayConn{Conn: nc, pre: []byte("220 " + p.cfg.host + "\r\n")}, nil
	}
	if _, err := io.WriteString(nc, "STARTTLS\r\n"); err != nil {
		return nil, classify(err, stageConnect)
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, classify(smtpErr(err), stageConnect)
	}
	if br.Buffered() > 0 {
		// Anything sent before the handshake could be an injected command.
		return nil, &deliveryErr{text: "relay sent data after its STARTTLS reply"}
	}
	tc := tls.Client(nc, p.tlsConfig())
	if err := tc.Handshake(); err != nil {
		return nil, classify(fmt.Errorf("smtp: TLS handshake: %w", err), stageConnect)
	}
	return &replayConn{Conn: tc, pre: []byte("220 " + p.cfg.host + "\r\n")}, nil
}

// deliveryErr is a sender-wide failure to establish a session.
type deliveryErr struct{ text string }

func (e *deliveryErr) Error() string { return e.text }

// smtpErr converts a textproto error into a go-smtp one.
func smtpErr(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return toSMTPError(te.Code, te.Msg)
	}
	return err
}

// toSMTPError parses an enhanced status code at the start of msg.
func toSMTPError(code int, msg string) *gosmtp.SMTPError {
	se := &gosmtp.SMTPError{Code: code, Message: msg}
	first, rest, ok := strings.Cut(msg, " ")
	parts := strings.Split(first, ".")
	if !ok || len(parts) != 3 {
		return se
	}
	for i, s := range parts {
		n, err := strconv.Atoi(s)
		if err != nil {
			return se
		}
		se.EnhancedCode[i] = n
	}
	se.Message = rest
	return se
}

// auth authenticates with PLAIN, or LOGIN when PLAIN is not offered.
func (p *pool) auth(cl *gosmtp.Client) error {
	var a sasl.Client
	switch {
	case cl.SupportsAuth(sasl.Plain):
		a = sasl.NewPlainClient("", p.cfg.user, p.cfg.pass)
	case cl.SupportsAuth(sasl.Login):
		a = sasl.NewLoginClient(p.cfg.user, p.cfg.pass)
	default:
		return &deliveryErr{text: "relay offers neither AUTH PLAIN nor AUTH LOGIN"}
	}
	return cl.Auth(a)
}

// send runs one transaction. keep says whether the session can be reused;
// retry whether the connection broke before the message's DATA was
// answered.
func (c *conn) send(ctx context.Context, p *pool, from, to string, parts [][]byte) (err error, keep, retry bool) {
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	defer func() {
		if !stop() {
			err, keep, retry = ctx.Err(), false, false
		}
	}()
	at := stageMail
	size := 0
	for _, part := range parts {
		size += len(part)
	}
	switch {
	case c.pipelined && c.chunking:
		err = c.pipeline(from, to, parts, size, p.t.Data, &at)
	case c.pipelined:
		err = c.pipelineData(from, to, parts, size, p.t.Data, &at)
	default:
		err = c.stepwise(from, to, parts, size, p.t.Data, &at)
	}
	if err == nil {
		return nil, true, false
	}
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) {
		// The connection broke.
		return classify(err, at), false, at != stageEnd
	}
	if se.Code == 421 {
		// The relay is closing the session (RFC 5321 section 3.8).
		p.backoff()
		return classify(err, at), false, false
	}
	keep = true
	if at != stageEnd {
		keep = c.rset(p.t.Command) == nil
	}
	return classify(err, at), keep, false
}

// stepwise sends MAIL and RCPT through go-smtp, each awaiting its reply,
// then the message as one BDAT chunk or as DATA. at follows the stage
// reached.
func (c *conn) stepwise(from, to string, parts [][]byte, size int, timeout time.Duration, at *stage) error {
	if err := c.cl.Mail(from, &gosmtp.MailOptions{Size: int64(size)}); err != nil {
		return err
	}
	*at = stageRcpt
	if err := c.cl.Rcpt(to, nil); err != nil {
		return err
	}
	*at = stageData
	if c.chunking {
		return c.bdat(parts, size, timeout, at)
	}
	w, err := c.cl.Data()
	if err != nil {
		return err
	}
	for _, part := range parts {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	*at = stageEnd
	return w.Close()
}

// rset aborts a failed transaction (RFC 5321 section 4.1.1.5). It writes
// to and reads from the connection under go-smtp directly: go-smtp sends no
// command of its own meanwhile and has consumed every reply, and whatever
// is read past the reply is handed back to go-smtp (replayConn).
func (c *conn) rset(timeout time.Duration) error {
	c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	if _, err := io.WriteString(c.nc, "RSET\r\n"); err != nil {
		return err
	}
	code, msg, err := c.nc.readReply()
	if err != nil {
		return err
	}
	if code != 250 {
		return fmt.Errorf("smtp: RSET answered %d %s", code, msg)
	}
	return nil
}

// quit ends a session politely, within timeout. It runs as a goroutine
// root, hence the recover.
func (c *conn) quit(timeout time.Duration) {
	defer func() {
		if recover() != nil {
			c.nc.Close()
		}
	}()
	c.nc.SetDeadline(time.Now().Add(timeout))
	if err := c.cl.Quit(); err != nil {
		c.cl.Close()
	}
}

func (c *conn) close() { c.cl.Close() }
