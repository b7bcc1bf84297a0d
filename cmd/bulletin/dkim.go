package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp"
	"github.com/bulletin/bulletin/store"
)

// dkimUsage is the text of "bulletin dkim -h".
func dkimUsage() string {
	return commandUsage("dkim keygen", "dkim dns") + `
keygen makes a new DKIM key and prints its record; dns prints the DNS
records to publish (DKIM, SPF, DMARC). Both work on a stopped store
(--data DIR, ./data). Run "bulletin dkim keygen -h" for the flags.
`
}

// runDKIM makes DKIM keys ("dkim keygen") and prints the DNS records to
// publish ("dkim dns").
func runDKIM(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, dkimUsage())
		return nil
	}
	if len(args) == 0 || (args[0] != "keygen" && args[0] != "dns") {
		return usageError("dkim: want keygen or dns (bulletin dkim -h)")
	}
	var cfg config
	var o opts
	fs := commandFlags("dkim "+args[0], stderr, &cfg, &o)
	if err := parse(fs, args[1:], getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageError("dkim %s: takes no arguments, got %q", args[0], fs.Args())
	}
	switch args[0] {
	case "keygen":
		if o.kind != "rsa" && o.kind != "ed25519" {
			return usageError("dkim keygen: --type must be rsa or ed25519")
		}
		return keygen(ctx, cfg, o.kind, stdout, stderr)
	case "dns":
		if err := cfg.validateOffline(); err != nil {
			return &exitError{code: 2, err: err}
		}
		if err := existingStore(cfg, "dkim dns"); err != nil {
			return err
		}
		in, err := openStore(ctx, cfg, cfg.logger(stderr))
		if err != nil {
			return storeHeld(err, "dkim dns", cfg.storePath(), dnsWhileServing)
		}
		defer in.Close()
		return printDNS(ctx, in, stdout)
	}
	return usageError("dkim: unknown subcommand %q", args[0])
}

// What dkim dns and keygen advise on a store a running server holds: they
// have no --server, the API serving neither the records nor new keys.
const (
	dnsWhileServing = "a running server's settings page (/admin/settings, \"DKIM and DNS records\") shows the same records; " +
		"or stop the server and run dkim dns again"
	keygenWhileServing = "stop the server first (dkim keygen has no --server), then publish the record keygen prints " +
		"and start the server again: a new key signs from the next start"
)

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
		return storeHeld(err, "dkim keygen", cfg.storePath(), keygenWhileServing)
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
	cfg, how, err := servedSigning(ctx, db, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "New %s DKIM key stored. Publish its record before the server signs with it (restart the server to use it; --dkim-sign chooses the keys that sign):\n", kind)
	if !slices.Contains(signKinds(cfg.DKIMSign), kind) {
		fmt.Fprintf(stdout, "; --dkim-sign %s (%s) does not sign with this key: the record is for when it does (--dkim-sign both or %s)\n", cfg.DKIMSign, how, kind)
	}
	first, err := firstKind(ctx, db, cfg.DKIMSign)
	if err != nil {
		return err
	}
	sel := dkimSelector(cfg.DKIMSelector, first, kind)
	for _, line := range smtp.DNSRecords(signingDomain(cfg), cfg.BounceDomain, sel, []crypto.Signer{k}, relayHost(cfg.Relay)) {
		fmt.Fprintln(stdout, line)
	}
	return nil
}

// Settings that record how the server signs (recordSigning).
const (
	settingDKIMFirst    = "dkim.first"
	settingDKIMSign     = "dkim.sign"
	settingDKIMSelector = "dkim.selector"
)

// recordSigning records, at each start of the server, the --dkim-sign and
// --dkim-selector it signs with, so that dkim dns, keygen and doctor, run
// without those flags, describe the keys that really sign rather than the
// defaults; and, on the first start that signs, the key kind that signs
// first, which keeps the bare selector from then on (dkimSelector).
func recordSigning(ctx context.Context, db *store.DB, cfg config) error {
	if kinds := signKinds(cfg.DKIMSign); len(kinds) > 0 {
		if _, err := loadOrCreate(ctx, db, settingDKIMFirst, func() ([]byte, error) { return []byte(kinds[0]), nil }); err != nil {
			return err
		}
	}
	if err := db.PutSetting(ctx, settingDKIMSign, []byte(cfg.DKIMSign)); err != nil {
		return err
	}
	return db.PutSetting(ctx, settingDKIMSelector, []byte(cfg.DKIMSelector))
}

// servedSigning lays the --dkim-sign and --dkim-selector the server last
// started with over cfg, where no flag or variable set them, and says where
// the --dkim-sign in force came from.
func servedSigning(ctx context.Context, db *store.DB, cfg config) (config, string, error) {
	how := "as given"
	for _, s := range []struct {
		flag, key string
		dst       *string
	}{{"dkim-sign", settingDKIMSign, &cfg.DKIMSign}, {"dkim-selector", settingDKIMSelector, &cfg.DKIMSelector}} {
		if cfg.set[s.flag] {
			continue
		}
		v, err := db.Setting(ctx, s.key)
		switch {
		case errors.Is(err, list.ErrNotFound):
			if s.flag == "dkim-sign" {
				how = "the default: the server has not started since it began recording how it signs; give its --dkim-sign"
			}
		case err != nil:
			return cfg, "", err
		case len(v) > 0:
			*s.dst = string(v)
			if s.flag == "dkim-sign" {
				how = "as the server last started"
			}
		}
	}
	return cfg, how, nil
}

// firstKind is the key kind that signs under the bare selector: the one the
// server signed with first, else (a store from before it was recorded) the
// first kind of sign, as it was then.
func firstKind(ctx context.Context, db *store.DB, sign string) (string, error) {
	v, err := db.Setting(ctx, settingDKIMFirst)
	if err == nil && len(v) > 0 {
		return string(v), nil
	}
	if err != nil && !errors.Is(err, list.ErrNotFound) {
		return "", err
	}
	if kinds := signKinds(sign); len(kinds) > 0 {
		return kinds[0], nil
	}
	return "rsa", nil
}

// dkimSelector is the selector a key of kind signs under: the bare selector
// for the kind that signed first on this store, selector-KIND for the
// other, in every --dkim-sign mode. A key thus keeps its selector when the
// mode changes, and the records already published keep verifying the mail
// already sent: were the bare selector the first key of each mode's, going
// from ed25519 to both would move the RSA key onto the Ed25519 key's record.
func dkimSelector(selector, first, kind string) string {
	if kind == first {
		return selector
	}
	return selector + "-" + kind
}

// signingOrder returns the key kinds --dkim-sign sign signs with, in the
// order smtp.Selectors is to name them (the kind that owns the bare
// selector first), and the selector smtp.Selectors is to give the first:
// smtp.Selectors then names each key as dkimSelector does.
func signingOrder(ctx context.Context, db *store.DB, sign, selector string) ([]string, string, error) {
	kinds := signKinds(sign)
	if len(kinds) == 0 {
		return nil, selector, nil
	}
	first, err := firstKind(ctx, db, sign)
	if err != nil {
		return nil, "", err
	}
	if len(kinds) == 2 && kinds[1] == first {
		kinds = []string{kinds[1], kinds[0]}
	}
	return kinds, dkimSelector(selector, first, kinds[0]), nil
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

// printDNS prints the zone-file records: DKIM for each key that signs (at
// the From domain, the signing domain d=), SPF (at the bounce domain) and
// DMARC. Without --dkim-sign, the keys are those the server last started
// with, not the default's.
func printDNS(ctx context.Context, in *instance, w io.Writer) error {
	cfg, how, err := servedSigning(ctx, in.db, in.cfg)
	if err != nil {
		return err
	}
	keys, selector, err := dkimKeys(ctx, in.db, cfg.DKIMSign, cfg.DKIMSelector)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		fmt.Fprintf(w, "; --dkim-sign off (%s): no mail is signed, so there is no DKIM record to publish\n", how)
	} else {
		fmt.Fprintf(w, "; DKIM: the keys of --dkim-sign %s (%s)\n", cfg.DKIMSign, how)
	}
	// A record removed too early fails the mail its key signed before.
	fmt.Fprintln(w, "; keep the record of a key that no longer signs published for a few weeks: mail it signed is still checked")
	for _, line := range smtp.DNSRecords(signingDomain(cfg), cfg.BounceDomain, selector, keys, relayHost(cfg.Relay)) {
		fmt.Fprintln(w, line)
	}
	return nil
}
