package smtp

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/bulletin/bulletin/list"
)

var _ list.Mailer = (*Sender)(nil)

// Options configure a Sender.
type Options struct {
	// FS holds the templates: mail/layout.html, mail/layout.txt and
	// mail/KIND.html, mail/KIND.txt for every system mail kind.
	FS fs.FS
	// Domain is the Message-ID, List-Id and Feedback-ID domain.
	Domain string
	// Relay is the relay URL: smtp://[user:pass@]host:port (STARTTLS
	// required except to a loopback host), smtps://… (implicit TLS) or
	// smtp+plain://… (no TLS). Empty: every message goes to OutboxDir.
	Relay string
	// OutboxDir is the Maildir used when Relay is empty (DATA/outbox).
	OutboxDir string
	// MaxConns bounds the connections to the relay (8).
	MaxConns int
	// Rate is the most messages per second handed to the relay, shared by
	// all callers; 0 means unlimited (the --rate flag defaults to 50).
	Rate float64
	// DKIM keys sign every message, one signature per key (RSA-2048, and
	// Ed25519 as well for dual signing). See Selectors for their selectors.
	DKIM         []crypto.Signer
	DKIMSelector string // "bulletin"
	// DKIMDomain is the signing domain d=; empty means each From domain.
	DKIMDomain string
	// HeloName is the name given in EHLO (Domain).
	HeloName string
	// TLSConfig is the base TLS configuration for the relay (tests).
	TLSConfig *tls.Config
	Logger    *slog.Logger
	// Now is the clock of Date headers; Rand feeds Message-IDs and MIME
	// boundaries (crypto/rand). Fixed ones make messages byte-stable.
	Now  func() time.Time
	Rand io.Reader
	// BaseURL is the public URL, checked by Lint.
	BaseURL  string
	Timeouts Timeouts
	// CacheSize is how many campaign versions keep their parsed templates (16).
	CacheSize int
}

// Timeouts bound every step of a relay session. Zero fields get defaults.
type Timeouts struct {
	Dial    time.Duration // connect and TLS handshake (30s)
	Command time.Duration // each command's reply (5m, RFC 5321 section 4.5.3.2)
	Data    time.Duration // the reply after the final dot (10m)
	// Idle is how long an unused connection is kept (30s).
	Idle time.Duration
	// Backoff is how long no new connection is opened after a 421 (10s).
	Backoff time.Duration
}

func (t *Timeouts) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&t.Dial, 30*time.Second)
	set(&t.Command, 5*time.Minute)
	set(&t.Data, 10*time.Minute)
	set(&t.Idle, 30*time.Second)
	set(&t.Backoff, 10*time.Second)
}

// Sender renders, builds, signs and delivers mail. It is safe for
// concurrent use.
type Sender struct {
	opts   Options
	domain string
	tmpl   *templates
	cache  templateCache
	log    *slog.Logger
	now    func() time.Time
	randMu sync.Mutex
	rand   io.Reader
	signer *signer
	tr     transport
	limit  *limiter
}

// transport hands a signed message to the relay or the outbox.
type transport interface {
	// deliver sends the message made of parts (the signatures, then the
	// rest), so that signing never copies a whole message.
	deliver(ctx context.Context, from, to string, parts ...[]byte) error
	close() error
}

// New checks opts, parses the templates and prepares the transport; it
// does not connect to the relay.
func New(opts Options) (*Sender, error) {
	var errs []error
	if opts.Domain == "" {
		opts.Domain = "localhost"
	}
	if err := checkValue("domain", opts.Domain); err != nil || strings.ContainsAny(opts.Domain, " @<>") {
		errs = append(errs, fmt.Errorf("smtp: invalid domain %q", opts.Domain))
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 8
	}
	if opts.DKIMSelector == "" {
		opts.DKIMSelector = "bulletin"
	}
	if opts.HeloName == "" {
		opts.HeloName = opts.Domain
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 16
	}
	opts.Timeouts.defaults()
	s := &Sender{opts: opts, domain: opts.Domain, log: opts.Logger, now: opts.Now, rand: opts.Rand}
	s.cache.max = opts.CacheSize
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	var err error
	if s.tmpl, err = parseTemplates(opts.FS); err != nil {
		errs = append(errs, err)
	}
	if s.signer, err = newSigner(opts.DKIM, opts.DKIMSelector, opts.DKIMDomain, s.now); err != nil {
		errs = append(errs, err)
	}
	if opts.Relay == "" {
		if opts.OutboxDir == "" {
			errs = append(errs, errors.New("smtp: neither a relay nor an outbox directory"))
		} else if s.tr, err = newOutbox(opts.OutboxDir); err != nil {
			errs = append(errs, err)
		}
	} else {
		if s.tr, err = newPool(opts, s.log); err != nil {
			errs = append(errs, err)
		}
	}
	// The outbox keeps the rate too: a campaign tried out there moves,
	// and shows its progress, as it will to a relay.
	if opts.Rate > 0 {
		s.limit = newLimiter(opts.Rate)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the relay connections.
func (s *Sender) Close() error { return s.tr.close() }

// Send renders, builds, signs and delivers one message and returns its
// Message-ID without angle brackets. A refusal by the relay, or a failed
// connection, is a *list.DeliveryError; an unbuildable message wraps
// list.ErrInvalid.
func (s *Sender) Send(ctx context.Context, m *list.Message) (string, error) {
	b, sigs, err := s.prepare(m)
	if err != nil {
		return "", err
	}
	if s.limit != nil {
		if err := s.limit.wait(list.StopOf(ctx)); err != nil {
			return "", err
		}
	}
	if err := s.tr.deliver(ctx, b.mailFrom, b.rcptTo, sigs, b.raw); err != nil {
		return "", err
	}
	s.log.DebugContext(ctx, "smtp: sent", "msg_id", b.messageID, "kind", string(m.Kind), "test", m.Test)
	return b.messageID, nil
}

// SendRaw delivers a message that is already built (by Preview, say) from
// the envelope sender from to the recipient to, through the same relay
// sessions and rate limit as Send. The benchmark measures the SMTP stage
// alone with it.
func (s *Sender) SendRaw(ctx context.Context, from, to string, raw []byte) error {
	if s.limit != nil {
		if err := s.limit.wait(ctx); err != nil {
			return err
		}
	}
	return s.tr.deliver(ctx, from, to, raw)
}

// Preview returns the message exactly as Send would hand it to the relay
// (signed when keys are configured), without sending it.
func (s *Sender) Preview(ctx context.Context, m *list.Message) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, sigs, err := s.prepare(m)
	if err != nil {
		return nil, err
	}
	if len(sigs) == 0 {
		return b.raw, nil
	}
	return append(sigs, b.raw...), nil
}

// prepare renders, builds and signs m; it returns the built message and
// its DKIM-Signature fields.
func (s *Sender) prepare(m *list.Message) (*built, []byte, error) {
	if m == nil {
		return nil, nil, fmt.Errorf("smtp: no message: %w", list.ErrInvalid)
	}
	r, err := s.render(m)
	if err != nil {
		return nil, nil, err
	}
	b, err := s.build(m, r)
	if err != nil {
		return nil, nil, err
	}
	sigs, err := s.signer.sign(b.raw, b.header, b.from.Domain())
	if err != nil {
		return nil, nil, err
	}
	return b, sigs, nil
}
