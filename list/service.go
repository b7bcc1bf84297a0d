package list

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Config is the part of the instance configuration the domain rules need.
// It may change while the server runs (settings page).
type Config struct {
	// BaseURL is the public URL of the instance, without a trailing slash.
	BaseURL string
	// Domain is the sending domain: Message-ID, List-Id and mailto
	// unsubscribe addresses.
	Domain string
	// BounceDomain is the domain of VERP envelope senders.
	BounceDomain string
	// From is the default sender, "Name <addr>".
	From string
	// PostalAddress is the sender's postal address for every footer.
	PostalAddress string
	// PrivacyURL is the privacy policy linked from forms and footers.
	PrivacyURL string
	// ConfirmTTL is how long a confirmation link lives (7 days).
	ConfirmTTL time.Duration
	// ConfirmEvery limits confirmation mails to one address (5 minutes).
	ConfirmEvery time.Duration
	// MailRetryFor is how long a system mail is retried (24 hours).
	MailRetryFor time.Duration
	// ReminderAfter is when the one reminder goes to an unconfirmed
	// subscription (3 days); PurgeUnconfirmedAfter is when a subscription
	// never confirmed is deleted (30 days); TruncateIPsAfter is when the IP
	// addresses of events are shortened (90 days). Zero means the default,
	// a negative value turns the job off.
	ReminderAfter         time.Duration
	PurgeUnconfirmedAfter time.Duration
	TruncateIPsAfter      time.Duration
	// FreeMailDomains are the domains a list with BlockFreeMail refuses;
	// nil means DefaultFreeMailDomains. A "*" label matches any suffix
	// (yahoo.*).
	FreeMailDomains []string
}

func (c *Config) defaults() {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Domain == "" {
		c.Domain = "localhost"
	}
	if c.BounceDomain == "" {
		c.BounceDomain = c.Domain
	}
	if c.From == "" {
		c.From = "Bulletin <newsletter@" + c.Domain + ">"
	}
	if c.ConfirmTTL == 0 {
		c.ConfirmTTL = 7 * 24 * time.Hour
	}
	if c.ConfirmEvery == 0 {
		c.ConfirmEvery = 5 * time.Minute
	}
	if c.MailRetryFor == 0 {
		c.MailRetryFor = 24 * time.Hour
	}
	c.retentionDefaults()
}

// Options configure a Service.
type Options struct {
	Store  Store
	Mailer Mailer
	// Secret is the instance secret under which tokens are sealed.
	Secret []byte
	Config Config
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Observe, when set, is told of each campaign outcome (with a zero
	// duration) and of each delivery's latency (with an empty outcome), for
	// metrics.
	Observe func(o Outcome, latency time.Duration)
	// LookupMX reports whether a domain can receive mail (an MX, or else an
	// A or AAAA record); the public form refuses a domain for which it says
	// false. An error means DNS did not answer, and the address is accepted.
	// Nil skips the check.
	LookupMX func(ctx context.Context, domain string) (bool, error)
	// Settings connect the settings page to the wiring (settings.go).
	Settings SettingsHooks
}

// Origin is where a web or API request came from, for events and consent.
type Origin struct {
	IP        string
	UserAgent string
	// User is the admin user acting, for the audit log.
	User string
	// Via is the path an editor's action came by (HowAPI or HowAdmin),
	// for the events of actions that take no How of their own; empty
	// outside the admin UI and the API.
	Via How
}

// how is o.Via, or def when o does not say.
func (o Origin) how(def How) How {
	if o.Via != "" {
		return o.Via
	}
	return def
}

// Service applies Bulletin's rules over a Store and a Mailer.
type Service struct {
	store  Store
	mailer Mailer
	tokens *Tokens
	// secret is the instance secret, kept for DeriveKey only.
	secret []byte
	log    *slog.Logger
	now    func() time.Time

	mu  sync.RWMutex
	cfg Config

	kick     chan struct{}
	runKick  chan struct{}
	progress progressTracker
	stops    runStops
	observe  func(Outcome, time.Duration)
	// mx caches LookupMX answers for the public form.
	mx *mxCache
	// settings are the settings page's hooks.
	settings SettingsHooks
	// layout and sysLayout cache the custom campaign and system mail
	// layouts (layout.go).
	layout, sysLayout layoutCache
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Mailer == nil {
		return nil, errors.New("list: store and mailer are required")
	}
	if len(opts.Secret) < 16 {
		return nil, errors.New("list: instance secret must be at least 16 bytes")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Config.defaults()
	return &Service{
		store: opts.Store, mailer: opts.Mailer, tokens: NewTokens(opts.Secret), secret: bytes.Clone(opts.Secret),
		log: opts.Logger, now: opts.Now, cfg: opts.Config, kick: make(chan struct{}, 1),
		runKick: make(chan struct{}, 1), observe: opts.Observe,
		mx: newMXCache(opts.LookupMX, opts.Now), settings: opts.Settings,
		progress: progressTracker{store: opts.Store, log: opts.Logger},
	}, nil
}

// Config returns the current configuration.
func (s *Service) Config() Config {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg
}

// SetConfig replaces the configuration.
func (s *Service) SetConfig(c Config) {
	c.defaults()
	s.mu.Lock()
	s.cfg = c
	s.mu.Unlock()
}

// Store returns the store the service works on.
func (s *Service) Store() Store { return s.store }

// Mailer returns the mailer the service sends with.
func (s *Service) Mailer() Mailer { return s.mailer }

// Tokens returns the token codec.
func (s *Service) Tokens() *Tokens { return s.tokens }

// Now returns the service's clock reading.
func (s *Service) Now() time.Time { return s.now().UTC() }

func (s *Service) nonce() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("list: crypto/rand failed: %v", err)) // crypto/rand never fails on supported platforms
	}
	return binary.BigEndian.Uint32(b[:]) | 1
}

// Bootstrap makes the first-run state: the public double opt-in list
// "newsletter" when the store holds no list.
func (s *Service) Bootstrap(ctx context.Context) error {
	ls, err := s.store.Lists(ctx)
	if err != nil {
		return err
	}
	if len(ls) > 0 {
		return nil
	}
	l := List{
		Slug: "newsletter", Name: "Newsletter", OptIn: OptInDouble, Public: true,
		Description: "News and updates.",
		ConsentText: "I agree to receive this newsletter by email. I can unsubscribe at any time with the link in every mail.",
		Welcome:     true, Reminder: true,
	}
	_, err = s.CreateList(ctx, l, Origin{User: "system"})
	return err
}

// errNotUTF8 refuses a text that is not UTF-8: stored as JSON, each of its
// bad bytes would become "�" unsaid (a file in Windows-1252, say, would
// lose every accented letter). An import adds the advice to save the file
// as UTF-8, which would mean nothing on a form.
var errNotUTF8 = errors.New("not UTF-8 text")

// tooLong reports whether v has more than max characters (runes).
func tooLong(v string, max int) bool {
	return len(v) > max && utf8.RuneCountInString(v) > max
}

// truncateChars cuts s to at most n characters (runes).
func truncateChars(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// checkUTF8 refuses a text of several lines (a body, a list's texts) that
// is not UTF-8.
func checkUTF8(field, v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s is %w", ErrInvalid, field, errNotUTF8)
	}
	return nil
}

// checkText refuses control characters and over-long values in a
// single-line field such as a name. Its limit is in characters, as the
// forms' maxlength counts them: at most 4 bytes each in UTF-8.
func checkText(field, v string, max int) error {
	if tooLong(v, max) {
		return fmt.Errorf("%w: %s is longer than %d characters", ErrInvalid, field, max)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s is %w", ErrInvalid, field, errNotUTF8)
	}
	for _, r := range v {
		switch {
		case r == '\n' || r == '\r':
			return fmt.Errorf("%w: %s contains a line break; it must be on one line", ErrInvalid, field)
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("%w: %s contains control characters", ErrInvalid, field)
		}
	}
	return nil
}

// CheckFrom validates a "Name <addr>" sender.
func CheckFrom(from string) error {
	if err := checkText("from", from, 300); err != nil {
		return err
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return fmt.Errorf("%w: sender %q is not a valid address", ErrInvalid, from)
	}
	_, err = ParseAddress(a.Address)
	return err
}

// Kick wakes the system mail worker.
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}
