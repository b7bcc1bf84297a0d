package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp"
	"github.com/bulletin/bulletin/store"
)

// runDoctor checks DNS, relay and settings for deliverability, prints one
// line per check with its fix, and fails (exit 1) if any check failed.
func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	fs := commandFlags("doctor", stderr, &cfg, new(opts)) // --resolver among them: the DNS server asked
	if err := parse(fs, args, getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() != 0 {
		return usageError("doctor takes no arguments")
	}
	if err := cfg.validate(); err != nil {
		return &exitError{code: 2, err: err}
	}
	resolver := cfg.Resolver
	if resolver == "" {
		resolver = systemResolver("/etc/resolv.conf")
	}
	cfg, keys, saved, senders, keyErr := storedKeys(ctx, cfg)
	// Settings saved from the settings page count, under flags and variables.
	d := newDoctor(cfg.withStored(saved), keys, resolver)
	d.SenderDomains = senders
	checks := d.Run(ctx)
	if keyErr != nil {
		checks = replaceDKIM(checks, keyErr)
	}
	if errors.Is(keyErr, list.ErrStoreInUse) {
		checks = replaceUnread(checks, cfg)
	}
	printChecks(stdout, checks)
	if smtp.Failed(checks) {
		return &exitError{code: 1, err: errors.New("doctor: some checks failed; see the fixes above")}
	}
	return nil
}

// newDoctor builds the checks of a configuration; the settings page can
// run the same.
func newDoctor(cfg config, keys []crypto.Signer, resolver string) *smtp.Doctor {
	from := cfg.Domain
	if a, err := mail.ParseAddress(cfg.From); err == nil {
		if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
			from = a.Address[i+1:]
		}
	}
	return &smtp.Doctor{
		// A chosen --resolver looks up the relay's host too; resolv.conf's
		// first nameserver does not stand in for the system's resolver there.
		Resolver: resolver, ResolveRelay: cfg.Resolver != "",
		Domain: cfg.Domain, BounceDomain: cfg.BounceDomain, FromDomain: from,
		Selector: cfg.DKIMSelector, Keys: keys, RelayURL: cfg.Relay, PostalAddress: cfg.PostalAddress,
		BaseURL: cfg.BaseURL, HeloName: cfg.Domain, Timeout: 10 * time.Second,
	}
}

// systemResolver is the first nameserver of a resolv.conf, or "" if none.
func systemResolver(path string) string {
	c, err := dns.ClientConfigFromFile(path)
	if err != nil || len(c.Servers) == 0 {
		return ""
	}
	return net.JoinHostPort(c.Servers[0], c.Port)
}

// storedKeys reads the DKIM keys that sign, the settings saved from the
// settings page and the lists' sender domains, from the store opened
// read-only: doctor changes nothing. Without --dkim-sign or
// --dkim-selector, the keys are those the server last started with
// (servedSigning); the configuration it returns has the selector that
// smtp.Selectors is to give the first key.
func storedKeys(ctx context.Context, cfg config) (config, []crypto.Signer, list.Settings, map[string][]string, error) {
	if _, err := os.Stat(cfg.storePath()); err != nil {
		return cfg, nil, list.Settings{}, nil, fmt.Errorf("no store at %s yet: start the server once, it makes the DKIM key", cfg.storePath())
	}
	db, err := store.Open(cfg.storePath(), store.Options{ReadOnly: true})
	if err != nil {
		return cfg, nil, list.Settings{}, nil, storeOpenError(cfg.storePath(), err)
	}
	defer db.Close()
	saved, err := list.LoadSettings(ctx, db)
	if err != nil {
		return cfg, nil, list.Settings{}, nil, err
	}
	senders, err := senderDomains(ctx, db)
	if err != nil {
		return cfg, nil, list.Settings{}, nil, err
	}
	if cfg, _, err = servedSigning(ctx, db, cfg); err != nil {
		return cfg, nil, saved, senders, err
	}
	kinds, selector, err := signingOrder(ctx, db, cfg.DKIMSign, cfg.DKIMSelector)
	if err != nil {
		return cfg, nil, saved, senders, err
	}
	cfg.DKIMSelector = selector
	var keys []crypto.Signer
	for _, kind := range kinds {
		pem, err := db.Setting(ctx, "dkim."+kind)
		if errors.Is(err, list.ErrNotFound) {
			return cfg, keys, saved, senders, fmt.Errorf("no %s DKIM key is stored yet: start the server once, or run bulletin dkim keygen --type %s", kind, kind)
		}
		if err != nil {
			return cfg, keys, saved, senders, err
		}
		k, err := smtp.ParseKey(pem)
		if err != nil {
			return cfg, keys, saved, senders, err
		}
		keys = append(keys, k)
	}
	return cfg, keys, saved, senders, nil
}

// senderDomains maps the domains of the lists' own senders to the lists'
// slugs: their mail is signed with d= that domain, so the doctor checks
// the DKIM record there too.
func senderDomains(ctx context.Context, st list.Store) (map[string][]string, error) {
	ls, err := st.Lists(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, l := range ls {
		if a, err := mail.ParseAddress(l.From); err == nil {
			if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
				d := strings.ToLower(a.Address[i+1:])
				out[d] = append(out[d], l.Slug)
			}
		}
	}
	return out, nil
}

// replaceDKIM puts the reason the keys could not be read in place of the
// DKIM verdicts, which compared against no key.
func replaceDKIM(checks []smtp.Check, why error) []smtp.Check {
	out := checks[:0:0]
	done := false
	for _, c := range checks {
		if !strings.HasPrefix(c.Name, "DKIM") {
			out = append(out, c)
			continue
		}
		if !done {
			var fix string
			switch {
			case errors.Is(why, list.ErrStoreInUse):
				fix = "stop the server and run doctor again, or use the settings page"
			case errors.Is(why, list.ErrCorrupt):
				fix = "restore the newest backup (bulletin restore, see docs/backup.md)"
			default:
				fix = "start the server once (it makes the key), then run doctor again"
			}
			detail := "cannot read the stored keys: " + why.Error()
			if errors.Is(why, list.ErrStoreInUse) {
				// Not the store's own "or use --server": doctor has none.
				detail = "cannot read the stored keys: the running server holds the store"
			}
			out = append(out, smtp.Check{Name: "DKIM", Status: smtp.StatusWarn, Detail: detail, Fix: fix})
			done = true
		}
	}
	return out
}

// unreadSettings are the checks that rest on a setting the settings page
// may have saved, by the flag that would set it instead.
var unreadSettings = map[string]string{
	"postal address": "postal-address", "base URL": "base-url",
	"relay": "relay", "relay TLS": "relay", "relay AUTH": "relay",
}

// replaceUnread turns into warnings the verdicts on settings that neither
// a flag nor a variable gave while the running server held the store: the
// value saved on the settings page, unread, may well be set, so "no postal
// address" or "no relay" would be false.
func replaceUnread(checks []smtp.Check, cfg config) []smtp.Check {
	out := checks[:0:0]
	said := map[string]bool{}
	for _, c := range checks {
		flag, ok := unreadSettings[c.Name]
		if !ok || cfg.set[flag] {
			out = append(out, c)
			continue
		}
		if said[flag] {
			continue
		}
		said[flag] = true
		out = append(out, smtp.Check{Name: c.Name, Status: smtp.StatusWarn,
			Detail: "not checked: the running server holds the store, so the value saved on the settings page could not be read",
			Fix:    "give --" + flag + ", stop the server and run doctor again, or use Check on the settings page"})
	}
	return out
}

// printChecks prints one line per check, the fix under it, and a summary.
func printChecks(w io.Writer, checks []smtp.Check) {
	width := 0
	for _, c := range checks {
		width = max(width, len(c.Name))
	}
	n := map[smtp.Status]int{}
	for _, c := range checks {
		n[c.Status]++
		label := string(c.Status)
		if c.Status == smtp.StatusFail {
			label = "FAIL"
		}
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", label, width, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "      %-*s  fix: %s\n", width, "", c.Fix)
		}
	}
	warnings := "warnings"
	if n[smtp.StatusWarn] == 1 {
		warnings = "warning"
	}
	fmt.Fprintf(w, "\n%d passed, %d %s, %d failed.\n", n[smtp.StatusPass], n[smtp.StatusWarn], warnings, n[smtp.StatusFail])
}

// doctor runs the checks for a serving instance with its live settings: the
// hook for the settings page (through list, which admin asks).
func (in *instance) doctor(ctx context.Context) []smtp.Check {
	cfg := in.cfg
	live := in.svc.Config()
	cfg.BaseURL, cfg.PostalAddress, cfg.From = live.BaseURL, live.PostalAddress, live.From
	return in.doctorChecks(ctx, cfg)
}

// doctorChecks runs the checks of cfg with the store's keys, through the
// configured resolver or the system's.
func (in *instance) doctorChecks(ctx context.Context, cfg config) []smtp.Check {
	resolver := cfg.Resolver
	if resolver == "" {
		resolver = systemResolver("/etc/resolv.conf")
	}
	keys, selector, err := dkimKeys(ctx, in.db, cfg.DKIMSign, cfg.DKIMSelector)
	if err == nil {
		cfg.DKIMSelector = selector
	}
	d := newDoctor(cfg, keys, resolver)
	// Without the lists the checks of their senders' domains are left out;
	// the lint still warns about each campaign.
	d.SenderDomains, _ = senderDomains(ctx, in.db)
	checks := d.Run(ctx)
	if err != nil {
		checks = replaceDKIM(checks, err)
	}
	return checks
}
