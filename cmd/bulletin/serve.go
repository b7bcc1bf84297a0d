package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/bulletin/bulletin/admin"
	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp"
	"github.com/bulletin/bulletin/store"
	"github.com/bulletin/bulletin/templates"
)

// instance is an opened store with the service built on it.
type instance struct {
	cfg    config
	log    *slog.Logger
	db     *store.DB
	sender *smtp.Sender
	svc    *list.Service
	// metrics are fed by the service and served at /metrics (metrics.go).
	metrics *metrics
	// settings are the settings page's view of the startup (settings.go).
	settings settingsWiring
}

// openInstance opens the store and wires the service; secrets and DKIM keys
// are made on first run.
func openInstance(ctx context.Context, cfg config, log *slog.Logger) (*instance, error) {
	inst, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := inst.wire(ctx); err != nil {
		inst.db.Close()
		return nil, err
	}
	return inst, nil
}

// openStore opens the store and merges the settings stored from the UI
// into cfg, without wiring a sender or the service: what a command that
// only reads or writes the store needs.
func openStore(ctx context.Context, cfg config, log *slog.Logger) (*instance, error) {
	if err := cfg.ensureData(); err != nil {
		return nil, err
	}
	db, err := store.Open(cfg.storePath(), store.Options{Logger: log})
	if err != nil {
		return nil, storeOpenError(cfg.storePath(), err)
	}
	inst := &instance{cfg: cfg, log: log, db: db, metrics: newMetrics()}
	inst.mergeSettings(ctx)
	return inst, nil
}

func (in *instance) wire(ctx context.Context) error {
	secret, err := loadOrCreate(ctx, in.db, "instance.secret", func() ([]byte, error) {
		return []byte(list.RandomSecret(32)), nil
	})
	if err != nil {
		return err
	}
	keys, selector, err := dkimKeys(ctx, in.db, in.cfg.DKIMSign, in.cfg.DKIMSelector)
	if err != nil {
		return err
	}
	in.sender, err = smtp.New(smtp.Options{
		FS: templates.FS, Domain: in.cfg.Domain, Relay: in.cfg.Relay, OutboxDir: in.cfg.outboxDir(),
		MaxConns: in.cfg.MaxConns, Rate: in.cfg.Rate, DKIM: keys, DKIMSelector: selector,
		BaseURL: in.cfg.BaseURL, Logger: in.log,
	})
	if err != nil {
		return err
	}
	in.svc, err = list.New(list.Options{Store: in.db, Mailer: in.sender, Secret: secret, Logger: in.log, Observe: in.metrics.observe,
		Config: list.Config{BaseURL: in.cfg.BaseURL, Domain: in.cfg.Domain, BounceDomain: in.cfg.BounceDomain,
			From: in.cfg.From, PostalAddress: in.cfg.PostalAddress, PrivacyURL: in.cfg.PrivacyURL},
		LookupMX: lookupMX(in.cfg.Resolver), Settings: in.settingsHooks()})
	if err != nil {
		return err
	}
	in.svc.SetConfig(in.cfg.Privacy.config(in.svc.Config()))
	return in.svc.Bootstrap(ctx)
}

// runnerOptions sizes the campaign runner to the relay connections: three
// workers a connection, so that while some wait for the relay's answers the
// others render and sign (bench/campaign, 5 KB messages, before
// pipelining: one worker a connection 3,485 msg/s, two 4,083, three 4,902,
// four 4,536; pipelined, Ed25519: two 4,936-5,110, three 5,069-5,280, four
// 5,042-5,320, within the noise). What a crash can send twice stays bounded by the runner's InFlight (64), not by
// the number of workers.
func (in *instance) runnerOptions() list.RunnerOptions {
	return list.RunnerOptions{Workers: 3 * max(in.cfg.MaxConns, 1)}
}

// sayOutbox tells w, when no relay is configured, that mail stays in the
// outbox, as every admin page does.
func (in *instance) sayOutbox(w io.Writer) {
	if in.cfg.Relay == "" {
		fmt.Fprintf(w, "No relay configured: mail goes to the outbox Maildir %s, nothing is really sent.\n", in.cfg.outboxDir())
	}
}

// Close closes the sender and the store.
func (in *instance) Close() error {
	var errs []error
	if in.sender != nil {
		errs = append(errs, in.sender.Close())
	}
	return errors.Join(append(errs, in.db.Close())...)
}

// loadOrCreate returns a stored setting, making and storing it first when absent.
func loadOrCreate(ctx context.Context, db *store.DB, key string, make func() ([]byte, error)) ([]byte, error) {
	v, err := db.Setting(ctx, key)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, list.ErrNotFound) {
		return nil, err
	}
	if v, err = make(); err != nil {
		return nil, err
	}
	return v, db.PutSetting(ctx, key, v)
}

// signKinds are the key kinds --dkim-sign signs with, in signing order
// (the first takes the selector itself); none for "off".
func signKinds(sign string) []string {
	return map[string][]string{"rsa": {"rsa"}, "ed25519": {"ed25519"}, "both": {"rsa", "ed25519"}}[sign]
}

// dkimKeys loads the signing keys --dkim-sign sign asks for, each made on
// first use and kept in the store, in the order smtp.Selectors is to name
// them, and the selector smtp.Selectors is to give the first: with these,
// every key signs under dkimSelector's name for it.
func dkimKeys(ctx context.Context, db *store.DB, sign, selector string) ([]crypto.Signer, string, error) {
	kinds, base, err := signingOrder(ctx, db, sign, selector)
	if err != nil {
		return nil, "", err
	}
	var keys []crypto.Signer
	for _, kind := range kinds {
		pem, err := loadOrCreate(ctx, db, "dkim."+kind, func() ([]byte, error) {
			k, err := smtp.GenerateKey(kind)
			if err != nil {
				return nil, err
			}
			return smtp.MarshalKey(k)
		})
		if err != nil {
			return nil, "", fmt.Errorf("dkim %s key: %w", kind, err)
		}
		k, err := smtp.ParseKey(pem)
		if err != nil {
			return nil, "", fmt.Errorf("dkim %s key: %w", kind, err)
		}
		keys = append(keys, k)
	}
	return keys, base, nil
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	fs := commandFlags("serve", stderr, &cfg, new(opts))
	if err := parseArgs(fs, args); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageError("serve: takes no arguments, got %q", fs.Args())
	}
	// A bad environment value is reported with the other bad values, all
	// before the store is created.
	if err := errors.Join(fromEnv(fs, getenv, &cfg), cfg.validate(), firstPasswordError(cfg, getenv("BULLETIN_ADMIN_PASSWORD"))); err != nil {
		return &exitError{code: 2, err: err}
	}
	// The ports are bound before the store is made: a port in use then
	// stops a first start without a store whose one-time admin password
	// went by in a run that never served.
	hl, il, err := listen(cfg)
	if err != nil {
		return err
	}
	// The servers close their listener on shutdown; these closes are for
	// the returns before serving.
	defer hl.Close()
	defer il.Close()
	log := cfg.logger(stderr)
	for _, w := range unknownEnv(fs, os.Environ()) {
		log.Warn("environment variable ignored: no such setting", "name", w.name, "did_you_mean", w.like)
	}
	in, err := openStore(ctx, cfg, log)
	if err != nil {
		return storeHeld(err, "serve", cfg.storePath(), "stop it first, or give this server a data folder of its own (--data)")
	}
	defer in.Close()
	if err := recordSigning(ctx, in.db, in.cfg); err != nil {
		return err
	}
	if err := in.wire(ctx); err != nil {
		return err
	}
	if err := in.firstAdmin(ctx, getenv("BULLETIN_ADMIN_PASSWORD"), stdout); err != nil {
		return err
	}
	return in.serve(ctx, stdout, hl, il)
}

// listen binds --http and --smtp-in; serve serves on these listeners
// rather than binding again, so that no other process can take a port
// between the check and the start.
func listen(cfg config) (hl, il net.Listener, err error) {
	hl, err = net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return nil, nil, listenError("--http", cfg.HTTP, err)
	}
	il, err = net.Listen("tcp", cfg.SMTPIn)
	if err != nil {
		hl.Close()
		return nil, nil, listenError("--smtp-in", cfg.SMTPIn, err)
	}
	return hl, il, nil
}

// listenError names the flag and the address, and drops net's own
// "listen tcp ADDR: bind:" so that the address is not said twice:
// "--http 127.0.0.1:8080: address already in use".
func listenError(flag, addr string, err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		err = sys.Err
	}
	return fmt.Errorf("%s %s: %w", flag, addr, err)
}

// firstPasswordError refuses a BULLETIN_ADMIN_PASSWORD too short to
// become the first admin's password, before the store is made; once a
// store exists the variable is ignored, and so is its length.
func firstPasswordError(cfg config, pw string) error {
	if pw == "" || len(pw) >= list.MinPasswordLen {
		return nil
	}
	if _, err := os.Stat(cfg.storePath()); err == nil {
		return nil
	}
	return fmt.Errorf("BULLETIN_ADMIN_PASSWORD must be at least %d characters long", list.MinPasswordLen)
}

// firstAdmin creates the admin account on first run and prints its password once.
func (in *instance) firstAdmin(ctx context.Context, envPassword string, stdout io.Writer) error {
	pw, created, err := in.svc.EnsureAdmin(ctx, envPassword)
	if err != nil {
		return fmt.Errorf("first admin account: %w", err)
	}
	switch {
	case created && envPassword == "":
		fmt.Fprintf(stdout, "Created the admin account %q with the one-time password: %s\nChange it after logging in; it is not shown again.\n", "admin", pw)
	case created:
		fmt.Fprintln(stdout, `Created the admin account "admin" with the password from BULLETIN_ADMIN_PASSWORD.`)
	case envPassword != "":
		in.log.Warn("BULLETIN_ADMIN_PASSWORD ignored: users exist already; use bulletin user passwd")
	}
	return nil
}

// shutdownGrace is how long a shutdown lets requests finish before it
// cancels the ones still running: a page or an API call is done well
// within it, and a supervisor's stop timeout (docker stop: 10 s) is not
// spent waiting on a progress stream.
const shutdownGrace = 2 * time.Second

// serve runs the HTTP server on hl, the inbound SMTP server on il and the
// workers until ctx ends, then shuts them down: the workers stop starting
// messages at once, while the servers stop taking work and let their
// requests finish (streams, downloads and connections that never began a
// request are cut after shutdownGrace), and the store is closed only after
// both.
func (in *instance) serve(ctx context.Context, stdout io.Writer, hl, il net.Listener) error {
	proxies, _ := in.cfg.proxies()
	srv, err := admin.New(admin.Options{Service: in.svc, FS: templates.FS, Logger: in.log,
		TrustedProxies: proxies, Outbox: in.cfg.Relay == "", SpillDir: in.cfg.Data, Metrics: in.metrics.handler(in.svc), ObserveHTTP: in.metrics.ObserveHTTP,
		ObserveLoginFailure: in.metrics.ObserveLoginFailure, Ready: in.ready})
	if err != nil {
		return err
	}
	// Requests run under reqCtx, so that shutdown can end the ones that
	// would otherwise hold it for their whole length: a progress stream, a
	// backup download.
	reqCtx, endRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer endRequests()
	fresh := newFreshConns()
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(in.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return reqCtx }, ConnState: fresh.track}
	// A backup download would hold the shutdown for the grace period, and
	// a write to a client that stopped reading ignores its context.
	httpSrv.RegisterOnShutdown(srv.StopDownloads)
	if !in.cfg.set["base-url"] {
		// With --http on port 0 the real port is known only from the listener.
		in.listenURL(baseURLOf(hl.Addr().String()))
	}
	inbound, err := in.newInbound(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Bulletin is listening on http://%s (admin UI at /admin/) and smtp://%s\n", hl.Addr(), il.Addr())
	in.sayOutbox(stdout)
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Go(func() { in.svc.RunMailQueue(workCtx, 30*time.Second) })
	wg.Go(func() { in.svc.RunCampaigns(workCtx, in.runnerOptions()) })
	wg.Go(func() { in.svc.RunRetention(workCtx, in.cfg.Privacy.RetentionEvery) })
	wg.Go(func() { in.svc.RunHistory(workCtx, time.Hour) })
	in.startOps(workCtx, &wg)
	go func() { errc <- httpSrv.Serve(hl) }()
	go func() { errc <- inbound.Serve(il) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	in.log.Info("shutting down")
	// No message starts after the signal, whatever requests are still
	// open; the runner keeps the store until the messages under way end.
	stopWork()
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cut := time.AfterFunc(shutdownGrace, func() {
		endRequests()
		fresh.closeAll()
	})
	defer cut.Stop()
	err = errors.Join(httpSrv.Shutdown(shutCtx), inbound.Shutdown(shutCtx))
	wg.Wait()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, err)
}
