package admin

import (
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/bulletin/bulletin/list"
)

// Options configure a Server.
type Options struct {
	// Service is the domain service every handler works through.
	Service *list.Service
	// FS holds the templates: public/…, admin/… and static/….
	FS fs.FS
	// Logger receives request logs; nil discards them.
	Logger *slog.Logger
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto headers are believed. Empty: both are ignored.
	TrustedProxies []netip.Prefix
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Outbox is true when no relay is configured: every admin page then says
	// that nothing is really being sent.
	Outbox bool
	// SpillDir is where a large CSV import sorts its rows (the data folder:
	// os.TempDir may be memory).
	SpillDir string
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
	// ObserveHTTP, when set, is told of every request by its route template
	// (never the raw path, which holds tokens; "unmatched" when no route
	// matched), status and duration.
	ObserveHTTP func(route string, code int, d time.Duration)
	// ObserveLoginFailure, when set, is told of every password check that
	// fails (login form, API Basic auth, password change): reason "wrong"
	// for a wrong name or password, "locked" for one refused unchecked
	// under a login limit.
	ObserveLoginFailure func(reason string)
	// Ready reports whether the server is ready for traffic (/readyz); nil
	// means always ready.
	Ready func() error

	// SubscribeRate and SubscribeEvery bound subscribe POSTs per client IP
	// (token bucket: SubscribeRate requests per SubscribeEvery); zero means
	// 10 per 10 minutes.
	SubscribeRate  int
	SubscribeEvery time.Duration
	// SubscribeFloor is the least time a sign-up takes to answer (300 ms;
	// negative: none). A new address costs more store work than one
	// already confirmed, and the answer's timing must not tell them apart.
	SubscribeFloor time.Duration
}

// Server serves Bulletin's HTTP routes.
type Server struct {
	svc     *list.Service
	log     *slog.Logger
	now     func() time.Time
	proxies []netip.Prefix
	outbox  bool
	// spillDir is Options.SpillDir.
	spillDir string
	metrics  http.Handler
	observe  func(route string, code int, d time.Duration)
	// loginFailed is Options.ObserveLoginFailure, never nil.
	loginFailed func(reason string)
	ready       func() error
	static      fs.FS

	// pub and adm are the templates of the public pages and the admin UI.
	pub *pages
	adm *pages

	subscribeLimit *limiter
	subscribeFloor time.Duration
	logins         *loginGuard
	basicCache     *authCache
	newTokens      *newTokens
	cop            *http.CrossOriginProtection
	// csrfKey keys the CSRF tokens derived from session ids; it is derived
	// from the instance secret, so it outlives a restart.
	csrfKey []byte
	// sleep waits out the sign-up floor; tests replace it.
	sleep func(r *http.Request, d time.Duration) error
	// outboxShown is how many messages the outbox page lists, newest
	// first (500).
	outboxShown int
	// downloads ends the backup downloads at shutdown (downloads.go).
	downloads *downloads
}

// New checks the options, parses every template and returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Service == nil {
		return nil, errors.New("admin: Service is required")
	}
	if opts.FS == nil {
		return nil, errors.New("admin: FS is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ObserveLoginFailure == nil {
		opts.ObserveLoginFailure = func(string) {}
	}
	if opts.SubscribeRate <= 0 {
		opts.SubscribeRate = 10
	}
	if opts.SubscribeEvery <= 0 {
		opts.SubscribeEvery = 10 * time.Minute
	}
	if opts.SubscribeFloor == 0 {
		opts.SubscribeFloor = 300 * time.Millisecond
	}
	public, err := parsePages(opts.FS, "public")
	if err != nil {
		return nil, err
	}
	ui, err := parsePages(opts.FS, "admin")
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(opts.FS, "static")
	if err != nil {
		return nil, err
	}
	s := &Server{
		svc: opts.Service, log: opts.Logger, now: opts.Now,
		proxies: opts.TrustedProxies, outbox: opts.Outbox, spillDir: opts.SpillDir,
		metrics: opts.Metrics, observe: opts.ObserveHTTP, loginFailed: opts.ObserveLoginFailure,
		ready: opts.Ready, static: static,
		pub: public, adm: ui,
		subscribeLimit: newLimiter(opts.SubscribeRate, opts.SubscribeEvery, maxLimiterKeys),
		subscribeFloor: opts.SubscribeFloor,
		outboxShown:    500,
		logins:         newLoginGuard(),
		basicCache:     newAuthCache(basicCacheTTL, maxAuthCache),
		newTokens:      newNewTokens(),
		cop:            http.NewCrossOriginProtection(),
		csrfKey:        opts.Service.DeriveKey(csrfPurpose),
		sleep:          sleepCtx,
		downloads:      newDownloads(),
	}
	s.cop.SetDenyHandler(http.HandlerFunc(s.denyCrossOrigin))
	return s, nil
}

// sleepCtx waits d or until the request is cancelled.
func sleepCtx(r *http.Request, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.Context().Done():
		return r.Context().Err()
	}
}
