package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/bulletin/bulletin/smtp"
)

// inboundSettings are the inbound SMTP limits and the bounce rules.
type inboundSettings struct {
	MaxSize        int64
	MaxRcpts       int
	MaxConns       int
	Timeout        time.Duration
	SessionTimeout time.Duration
	TLSCert        string
	TLSKey         string
	HardLimit      int
	SoftLimit      int
	SoftWindow     time.Duration
}

// inboundFlags registers the inbound server's and the bounce rules' flags.
func inboundFlags(fs *flag.FlagSet, c *config) {
	s := &c.Inbound
	fs.Int64Var(&s.MaxSize, "smtp-in-max-size", 10<<20, "largest inbound message in bytes")
	fs.IntVar(&s.MaxRcpts, "smtp-in-max-rcpts", 10, "recipients per inbound message at most")
	fs.IntVar(&s.MaxConns, "smtp-in-max-conns", 100, "concurrent inbound connections at most")
	fs.DurationVar(&s.Timeout, "smtp-in-timeout", time.Minute, "inbound per-command timeout")
	fs.DurationVar(&s.SessionTimeout, "smtp-in-session-timeout", 10*time.Minute, "inbound whole-session timeout")
	fs.StringVar(&s.TLSCert, "smtp-in-tls-cert", "", "PEM certificate for inbound STARTTLS (none: no STARTTLS)")
	fs.StringVar(&s.TLSKey, "smtp-in-tls-key", "", "PEM key for inbound STARTTLS")
	fs.IntVar(&s.HardLimit, "hard-bounce-limit", 1, "hard bounces that blocklist an address")
	fs.IntVar(&s.SoftLimit, "soft-bounce-limit", 3, "soft bounces within the window that blocklist an address")
	fs.DurationVar(&s.SoftWindow, "soft-bounce-window", 30*24*time.Hour, "window in which soft bounces are counted")
}

func (s *inboundSettings) errors() []error {
	var errs []error
	// Zero values come from subcommands that do not take these flags: the
	// inbound server's own defaults apply then.
	if s.MaxSize < 0 || s.MaxRcpts < 0 || s.MaxConns < 0 || s.Timeout < 0 || s.SessionTimeout < 0 {
		errs = append(errs, errors.New("--smtp-in-max-size, -max-rcpts, -max-conns and the timeouts must be positive"))
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		errs = append(errs, errors.New("--smtp-in-tls-cert and --smtp-in-tls-key go together"))
	}
	if s.HardLimit < 0 || s.SoftLimit < 0 || s.SoftWindow < 0 {
		errs = append(errs, errors.New("bounce limits must be at least 1 and the window positive"))
	}
	return errs
}

// applyBounceRules stores the bounce rules when a flag or variable sets
// them, so that rules saved from the UI are not overwritten by defaults.
func (in *instance) applyBounceRules(ctx context.Context) error {
	if !in.cfg.set["hard-bounce-limit"] && !in.cfg.set["soft-bounce-limit"] && !in.cfg.set["soft-bounce-window"] {
		return nil
	}
	r, err := in.svc.BounceRules(ctx)
	if err != nil {
		return err
	}
	s := in.cfg.Inbound
	r.HardLimit, r.SoftLimit, r.SoftWindow = s.HardLimit, s.SoftLimit, s.SoftWindow
	return in.svc.SetBounceRules(ctx, r)
}

// startInbound listens on --smtp-in with the inbound server for bounces,
// complaints and mailto unsubscribes at the configured domains.
func (in *instance) startInbound(ctx context.Context) (*smtp.Inbound, net.Listener, error) {
	if err := in.applyBounceRules(ctx); err != nil {
		return nil, nil, err
	}
	s := in.cfg.Inbound
	opts := smtp.InboundOptions{
		Addr: in.cfg.SMTPIn, Domains: []string{in.cfg.Domain, in.cfg.BounceDomain}, Handler: in.svc, Logger: in.log,
		MaxMessageBytes: s.MaxSize, MaxRecipients: s.MaxRcpts, MaxConns: s.MaxConns,
		ReadTimeout: s.Timeout, WriteTimeout: s.Timeout, SessionTimeout: s.SessionTimeout,
	}
	if s.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			return nil, nil, fmt.Errorf("smtp-in tls: %w", err)
		}
		opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ib, err := smtp.NewInbound(opts)
	if err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("tcp", in.cfg.SMTPIn)
	if err != nil {
		return nil, nil, fmt.Errorf("smtp-in listen: %w", err)
	}
	return ib, l, nil
}
