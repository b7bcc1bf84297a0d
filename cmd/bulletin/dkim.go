package main

import (
	"context"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"github.com/bulletin/bulletin/smtp"
)

// runDKIM makes DKIM keys ("dkim keygen") and prints the DNS records to
// publish ("dkim dns").
func runDKIM(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("dkim: want keygen or dns")
	}
	var cfg config
	var kind string
	fs := newFlagSet("dkim "+args[0], stderr)
	serveFlags(fs, &cfg)
	if args[0] == "keygen" {
		fs.StringVar(&kind, "type", "rsa", "key type: rsa (2048 bits) or ed25519")
	}
	if err := parse(fs, args[1:], getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	switch args[0] {
	case "keygen":
		if kind != "rsa" && kind != "ed25519" {
			return usageError("dkim keygen: --type must be rsa or ed25519")
		}
		return withInstance(ctx, cfg, stderr, func(in *instance) error {
			k, err := smtp.GenerateKey(kind)
			if err != nil {
				return err
			}
			pem, err := smtp.MarshalKey(k)
			if err != nil {
				return err
			}
			if err := in.db.PutSetting(ctx, "dkim."+kind, pem); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "New %s DKIM key stored. Publish its record before the server signs with it (restart the server to use it; --dkim-sign chooses the keys that sign):\n", kind)
			return printDNS(ctx, in, stdout)
		})
	case "dns":
		return withInstance(ctx, cfg, stderr, func(in *instance) error { return printDNS(ctx, in, stdout) })
	}
	return usageError("dkim: unknown subcommand %q", args[0])
}

// printDNS prints the zone-file records: DKIM for each key --dkim-sign
// signs with (at the From domain, the signing domain d=), SPF and DMARC.
func printDNS(ctx context.Context, in *instance, w io.Writer) error {
	keys, err := dkimKeys(ctx, in.db, in.cfg.DKIMSign)
	if err != nil {
		return err
	}
	domain := in.cfg.Domain
	if a, err := mail.ParseAddress(in.cfg.From); err == nil {
		if at := strings.LastIndexByte(a.Address, '@'); at > 0 {
			domain = a.Address[at+1:]
		}
	}
	for _, line := range smtp.DNSRecords(domain, in.cfg.DKIMSelector, keys, relayHost(in.cfg.Relay)) {
		fmt.Fprintln(w, line)
	}
	return nil
}
