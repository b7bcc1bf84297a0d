package main

import (
	"fmt"
	"net"

	"github.com/bulletin/bulletin/smtp"
)

// startInbound listens on --smtp-in with the inbound server for bounces,
// complaints and mailto unsubscribes at the configured domains.
func (in *instance) startInbound() (*smtp.Inbound, net.Listener, error) {
	ib, err := smtp.NewInbound(smtp.InboundOptions{
		Addr:    in.cfg.SMTPIn,
		Domains: []string{in.cfg.Domain, in.cfg.BounceDomain},
		Handler: in.svc,
		Logger:  in.log,
	})
	if err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("tcp", in.cfg.SMTPIn)
	if err != nil {
		return nil, nil, fmt.Errorf("smtp-in listen: %w", err)
	}
	return ib, l, nil
}
