package main

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"net/mail"
	"slices"
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
	if fs.NArg() > 0 {
		return usageError("dkim %s: takes no arguments, got %q", args[0], fs.Args())
	}
	switch args[0] {
	case "keygen":
		if kind != "rsa" && kind != "ed25519" {
			return usageError("dkim keygen: --type must be rsa or ed25519")
		}
		return keygen(ctx, cfg, kind, stdout, stderr)
	case "dns":
		if err := existingStore(cfg, "dkim dns"); err != nil {
			return err
		}
		return withInstance(ctx, cfg, stderr, func(in *instance) error { return printDNS(ctx, in, stdout) })
	}
	return usageError("dkim: unknown subcommand %q", args[0])
}

// keygen makes a DKIM key of kind, stores it and prints its record. It
// opens the store without wiring a sender, which would make the keys
// --dkim-sign asks for: those are made when the server starts.
func keygen(ctx context.Context, cfg config, kind string, stdout, stderr io.Writer) error {
	if err := cfg.validateOffline(); err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := existingStore(cfg, "dkim keygen"); err != nil {
		return err
	}
	in, err := openStore(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	defer in.Close()
	db, cfg := in.db, in.cfg
	k, err := smtp.GenerateKey(kind)
	if err != nil {
		return err
	}
	pem, err := smtp.MarshalKey(k)
	if err != nil {
		return err
	}
	if err := db.PutSetting(ctx, "dkim."+kind, pem); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "New %s DKIM key stored. Publish its record before the server signs with it (restart the server to use it; --dkim-sign chooses the keys that sign):\n", kind)
	sel, signs := keySelector(cfg.DKIMSelector, cfg.DKIMSign, kind)
	if !signs {
		fmt.Fprintf(stdout, "; --dkim-sign %s does not sign with this key: the record is for --dkim-sign both (with --dkim-sign %s alone, the selector is %s)\n",
			cfg.DKIMSign, kind, cfg.DKIMSelector)
	}
	for _, line := range smtp.DNSRecords(signingDomain(cfg), cfg.BounceDomain, sel, []crypto.Signer{k}, relayHost(cfg.Relay)) {
		fmt.Fprintln(stdout, line)
	}
	return nil
}

// keySelector is the selector a key of kind signs with under --dkim-sign
// sign, and whether it signs at all. As smtp.Selectors names them, the
// first signing key takes the selector and the second selector-ALGO; a
// key that does not sign is given its selector under "both".
func keySelector(selector, sign, kind string) (string, bool) {
	kinds := signKinds(sign)
	signs := slices.Contains(kinds, kind)
	if !signs {
		kinds = signKinds("both")
	}
	if kinds[0] == kind {
		return selector, signs
	}
	return selector + "-" + kind, signs
}

// signingDomain is the DKIM signing domain d=: the From domain, else the
// sending domain.
func signingDomain(cfg config) string {
	if a, err := mail.ParseAddress(cfg.From); err == nil {
		if at := strings.LastIndexByte(a.Address, '@'); at > 0 {
			return a.Address[at+1:]
		}
	}
	return cfg.Domain
}

// printDNS prints the zone-file records: DKIM for each key --dkim-sign
// signs with (at the From domain, the signing domain d=), SPF (at the bounce
// domain) and DMARC.
func printDNS(ctx context.Context, in *instance, w io.Writer) error {
	keys, err := dkimKeys(ctx, in.db, in.cfg.DKIMSign)
	if err != nil {
		return err
	}
	for _, line := range smtp.DNSRecords(signingDomain(in.cfg), in.cfg.BounceDomain, in.cfg.DKIMSelector, keys, relayHost(in.cfg.Relay)) {
		fmt.Fprintln(w, line)
	}
	return nil
}
