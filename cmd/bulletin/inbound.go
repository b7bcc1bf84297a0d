package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/bulletin/bulletin/smtp"
)

// inboundSettings are the inbound SMTP limits and the bounce rules.
type inboundSettings struct {
	// registered is true when the flags were registered (serve and the
	// subcommands sharing its flags), so that a zero value is a bad value
	// rather than "not given".
	registered     bool
	MaxSize        int64
	MaxRcpts       int
	MaxConns       int
	Timeout        time.Duration
	SessionTimeout time.Duration
	TLSCert        string
	TLSKey         string
	// cert is the pair loaded when the flags were checked, so that a
	// file changed between the check and the start cannot differ.
	cert       *tls.Certificate
	HardLimit  int
	SoftLimit  int
	SoftWindow time.Duration
}

// inboundFlags registers the inbound server's and the bounce rules' flags.
func inboundFlags(fs *flag.FlagSet, c *config) {
	s := &c.Inbound
	s.registered = true
	// The durations take whole days too ("30d"), as every duration flag does.
	s.Timeout, s.SessionTimeout, s.SoftWindow = time.Minute, 10*time.Minute, 30*24*time.Hour
	fs.Int64Var(&s.MaxSize, "smtp-in-max-size", 10<<20, "largest inbound message in bytes")
	fs.IntVar(&s.MaxRcpts, "smtp-in-max-rcpts", 10, "recipients per inbound message at most")
	fs.IntVar(&s.MaxConns, "smtp-in-max-conns", 100, "concurrent inbound connections at most")
	fs.Var((*dayDuration)(&s.Timeout), "smtp-in-timeout", "inbound per-command timeout and longest pause in message data")
	fs.Var((*dayDuration)(&s.SessionTimeout), "smtp-in-session-timeout", "inbound whole-session timeout")
	fs.StringVar(&s.TLSCert, "smtp-in-tls-cert", "", "PEM certificate for inbound STARTTLS (none: no STARTTLS)")
	fs.StringVar(&s.TLSKey, "smtp-in-tls-key", "", "PEM key for inbound STARTTLS")
	fs.IntVar(&s.HardLimit, "hard-bounce-limit", 1, "hard bounces that blocklist an address")
	fs.IntVar(&s.SoftLimit, "soft-bounce-limit", 3, "soft bounces within the window that blocklist an address")
	fs.Var((*dayDuration)(&s.SoftWindow), "soft-bounce-window", "window in which soft bounces are counted, e.g. 720h or 30d")
}

// errors checks the inbound limits and the bounce rules.
func (s *inboundSettings) errors() []error {
	var errs []error
	// Zero limits and timeouts come from subcommands that do not take these
	// flags: the inbound server's own defaults apply then. Given as flags,
	// a zero would silently mean that default, so it is refused.
	least := int64(0)
	if s.registered {
		least = 1
	}
	if s.MaxSize < least || int64(s.MaxRcpts) < least || int64(s.MaxConns) < least || int64(s.Timeout) < least || int64(s.SessionTimeout) < least {
		errs = append(errs, errors.New("--smtp-in-max-size, -max-rcpts, -max-conns and the timeouts must be positive"))
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		errs = append(errs, errors.New("--smtp-in-tls-cert and --smtp-in-tls-key go together"))
	} else if s.TLSCert != "" {
		// Loaded now so that a wrong path is reported with the other bad
		// values, before the store is made.
		cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("--smtp-in-tls-cert and --smtp-in-tls-key: %w", err))
		} else {
			s.cert = &cert
		}
	}
	if !s.registered {
		return errs
	}
	// The store refuses the same values (list.SetBounceRules), but only
	// once the server is starting: refused here, they are reported with the
	// rest before anything is created.
	if s.HardLimit < 1 {
		errs = append(errs, fmt.Errorf("--hard-bounce-limit must be at least 1, not %d", s.HardLimit))
	}
	if s.SoftLimit < 1 {
		errs = append(errs, fmt.Errorf("--soft-bounce-limit must be at least 1, not %d", s.SoftLimit))
	}
	if s.SoftWindow < time.Minute {
		errs = append(errs, fmt.Errorf("--soft-bounce-window must be at least 1m, not %s", s.SoftWindow))
	}
	return errs
}

// applyBounceRules stores the bounce rules that a flag or variable sets,
// each on its own: the rules not given keep what was saved from the
// settings page rather than going back to their defaults.
func (in *instance) applyBounceRules(ctx context.Context) error {
	set := in.cfg.set
	if !set["hard-bounce-limit"] && !set["soft-bounce-limit"] && !set["soft-bounce-window"] {
		return nil
	}
	r, err := in.svc.BounceRules(ctx)
	if err != nil {
		return err
	}
	s := in.cfg.Inbound
	if set["hard-bounce-limit"] {
		r.HardLimit = s.HardLimit
	}
	if set["soft-bounce-limit"] {
		r.SoftLimit = s.SoftLimit
	}
	if set["soft-bounce-window"] {
		r.SoftWindow = s.SoftWindow
	}
	return in.svc.SetBounceRules(ctx, r)
}

// newInbound builds the inbound server for bounces, complaints and mailto
// unsubscribes at the configured domains; serve runs it on the --smtp-in
// listener.
func (in *instance) newInbound(ctx context.Context) (*smtp.Inbound, error) {
	if err := in.applyBounceRules(ctx); err != nil {
		return nil, err
	}
	s := in.cfg.Inbound
	opts := smtp.InboundOptions{
		Addr: in.cfg.SMTPIn, Domains: []string{in.cfg.Domain, in.cfg.BounceDomain}, Handler: in.svc, Logger: in.log,
		MaxMessageBytes: s.MaxSize, MaxRecipients: s.MaxRcpts, MaxConns: s.MaxConns,
		ReadTimeout: s.Timeout, WriteTimeout: s.Timeout, SessionTimeout: s.SessionTimeout,
	}
	if s.cert != nil {
		opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*s.cert}, MinVersion: tls.VersionTLS12}
	}
	return smtp.NewInbound(opts)
}
