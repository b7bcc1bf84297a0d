package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bulletin/bulletin/list"
	gosmtp "github.com/emersion/go-smtp"
)

// InboundHandler applies an inbound report. *list.Service implements it.
type InboundHandler interface {
	HandleInbound(ctx context.Context, r list.InboundReport) error
}

// UnsubscribeChecker is implemented by an InboundHandler that can tell at
// RCPT whether an unsubscribe token is genuine (*list.Service does): a
// mailto unsubscribe to a forged, mangled or expired one is then refused,
// so that its sender learns it did nothing, instead of being accepted and
// ignored.
type UnsubscribeChecker interface {
	CheckUnsubscribeToken(token string) error
}

// InboundOptions configure an Inbound server.
type InboundOptions struct {
	// Addr is the address ListenAndServe listens on (127.0.0.1:2525).
	Addr string
	// Domains are the domains whose Bulletin addresses are accepted: the
	// sending domain and the bounce domain. At least one is required.
	Domains []string
	// Hostname is the name in the greeting (the first domain).
	Hostname string
	// Handler applies the reports. Required.
	Handler InboundHandler
	// MaxMessageBytes is the largest message accepted (10 MiB); larger
	// ones get 552 (RFC 1870).
	MaxMessageBytes int64
	// MaxMemoryBytes bounds the message data held by all sessions at once
	// (64 MiB or four times MaxMessageBytes, whichever is larger; never less
	// than twice MaxMessageBytes, so that a message of the largest size
	// fits). A message that would go over it is answered 452 4.3.1 and
	// retried by its sender. Handling a message briefly takes about twice
	// its size again (the store encodes it), so the process may hold up to
	// about three times this.
	MaxMemoryBytes int64
	// MaxRecipients is the most recipients of one message (10); more get 452.
	MaxRecipients int
	// MaxConns is the most concurrent connections (100); excess ones are
	// answered "421 too many connections" and closed.
	MaxConns int
	// ReadTimeout and WriteTimeout bound each command, each reply, and
	// each pause in message data (60 seconds each): the read deadline is
	// moved on by every read that brings data.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// SessionTimeout bounds a whole connection (10 minutes).
	SessionTimeout time.Duration
	// HandlerTimeout bounds the handling of one report (30 seconds): a
	// message to several recipients is one report for each.
	HandlerTimeout time.Duration
	// TLSConfig, when set, offers STARTTLS (RFC 3207).
	TLSConfig *tls.Config
	Logger    *slog.Logger
}

func (o *InboundOptions) defaults() {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:2525"
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 10 << 20
	}
	if o.MaxMemoryBytes <= 0 {
		o.MaxMemoryBytes = max(64<<20, 4*o.MaxMessageBytes)
	}
	o.MaxMemoryBytes = max(o.MaxMemoryBytes, 2*o.MaxMessageBytes+budgetStep)
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = 10
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 100
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = time.Minute
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = time.Minute
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 10 * time.Minute
	}
	if o.HandlerTimeout <= 0 {
		o.HandlerTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Inbound is Bulletin's inbound SMTP server: it takes bounces, complaints
// and mailto unsubscribes for Bulletin's own addresses, and nothing else.
type Inbound struct {
	opts    InboundOptions
	domains map[string]bool
	srv     *gosmtp.Server
	log     *slog.Logger
	sem     chan struct{}
	budget  *memoryBudget

	mu        sync.Mutex
	listeners []*inboundListener
}

// NewInbound returns an inbound server; it does not listen yet.
func NewInbound(opts InboundOptions) (*Inbound, error) {
	opts.defaults()
	var errs []error
	if opts.Handler == nil {
		errs = append(errs, errors.New("smtp: inbound: a handler is required"))
	}
	domains := map[string]bool{}
	for _, d := range opts.Domains {
		d = normalizeDomain(d)
		if d == "" || strings.ContainsAny(d, "@ \t[]") {
			errs = append(errs, fmt.Errorf("smtp: inbound: bad domain %q", d))
			continue
		}
		domains[d] = true
	}
	if len(domains) == 0 {
		errs = append(errs, errors.New("smtp: inbound: at least one domain is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Hostname == "" {
		opts.Hostname = normalizeDomain(opts.Domains[0])
	}
	in := &Inbound{opts: opts, domains: domains, log: opts.Logger, sem: make(chan struct{}, opts.MaxConns),
		budget: &memoryBudget{max: opts.MaxMemoryBytes}}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(in.newSession))
	srv.Addr = opts.Addr
	srv.Domain = opts.Hostname
	srv.MaxMessageBytes = opts.MaxMessageBytes
	srv.MaxRecipients = opts.MaxRecipients
	srv.MaxLineLength = maxLineLength
	srv.ReadTimeout = opts.ReadTimeout
	srv.WriteTimeout = opts.WriteTimeout
	srv.TLSConfig = opts.TLSConfig
	srv.ErrorLog = slogPrinter{opts.Logger}
	in.srv = srv
	return in, nil
}

// Serve accepts connections on l until Shutdown. It returns nil after
// Shutdown.
func (in *Inbound) Serve(l net.Listener) error {
	il := &inboundListener{Listener: l, sem: in.sem, session: in.opts.SessionTimeout, idle: in.opts.ReadTimeout,
		grace: min(in.opts.WriteTimeout, 5*time.Second), log: in.log, conns: map[*inboundConn]struct{}{}}
	in.mu.Lock()
	in.listeners = append(in.listeners, il)
	in.mu.Unlock()
	in.log.Info("inbound smtp listening", "addr", l.Addr().String())
	return in.srv.Serve(il)
}

// ListenAndServe listens on the configured address and serves.
func (in *Inbound) ListenAndServe() error {
	l, err := net.Listen("tcp", in.opts.Addr)
	if err != nil {
		return fmt.Errorf("smtp: inbound: %w", err)
	}
	return in.Serve(l)
}

// Addr is the address the server listens on, or nil before Serve.
func (in *Inbound) Addr() net.Addr {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.listeners) == 0 {
		return nil
	}
	return in.listeners[0].Addr()
}

// Shutdown stops accepting connections, ends idle sessions with 421 and
// waits for the messages being handled to be answered; when ctx ends first,
// it closes every connection and returns ctx's error.
func (in *Inbound) Shutdown(ctx context.Context) error {
	in.mu.Lock()
	ls := append([]*inboundListener(nil), in.listeners...)
	in.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		for _, l := range ls {
			l.closeAll()
		}
	})
	defer stop()
	for _, l := range ls {
		l.drain()
	}
	err := in.srv.Shutdown(ctx)
	if errors.Is(err, gosmtp.ErrServerClosed) {
		return nil
	}
	return err
}

// maxLineLength is the longest line taken, in commands and in DATA alike
// (go-smtp has one limit for both). RFC 5321 section 4.5.3.1.6 allows 1000
// octets, but bounces quote originals with long unfolded HTML lines, and a
// message with a longer line cannot be taken at all: go-smtp's line reader
// fails for the rest of the session. DATA is read a byte at a time, so its
// lines cost nothing; a command line is buffered whole, which makes this at
// most 64 KiB a connection.
const maxLineLength = 64 << 10

// normalizeDomain lower-cases a domain and drops a final dot.
func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// slogPrinter adapts a slog.Logger to go-smtp's Logger. go-smtp reports
// connection errors and recovered panics through it.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.HasPrefix(msg, "panic") {
		p.log.Error("inbound smtp panic", "err", msg)
		return
	}
	p.log.Debug("inbound smtp", "msg", msg)
}

func (p slogPrinter) Println(v ...any) { p.Printf("%s", fmt.Sprint(v...)) }
