package smtp

import (
	"context"
	"crypto"
	"crypto/tls"
	"net/url"
	"strings"
	"time"
)

// Doctor checks a sending setup before the first campaign: the DNS records
// receivers look at (DKIM, SPF, DMARC, the bounce domain's MX), the relay,
// and the settings one-click unsubscribe and the footer need. DNS questions
// go to one resolver, so that tests can answer them from 127.0.0.1.
type Doctor struct {
	// Resolver is the DNS server asked, "host:port" (UDP, TCP when the
	// answer is truncated). Required.
	Resolver string
	// Domain is the sending domain (Message-ID, List-Id).
	Domain string
	// BounceDomain is the envelope sender's domain, where SPF is looked up
	// and where inbound reports arrive (Domain when empty).
	BounceDomain string
	// FromDomain is the From address's domain: the DKIM signing domain d=
	// and the DMARC domain (Domain when empty).
	FromDomain string
	// Selector is the DKIM selector of the first key ("bulletin").
	Selector string
	// Keys are the stored DKIM keys; see Selectors for their selectors.
	Keys []crypto.Signer
	// RelayURL is the --relay URL; empty means the outbox.
	RelayURL string
	// ResolveRelay makes the relay check look up the relay's host at
	// Resolver, as the DNS checks look up their names, instead of through
	// the system's resolver. Set it when Resolver was chosen (--resolver);
	// leave it unset when Resolver is only resolv.conf's first nameserver,
	// which is not all the system's resolver asks.
	ResolveRelay bool
	// PostalAddress is the sender's postal address.
	PostalAddress string
	// BaseURL is the public base URL of links in mails.
	BaseURL string
	// TLSConfig is the base TLS configuration for the relay (tests).
	TLSConfig *tls.Config
	// HeloName is the name given in EHLO (Domain).
	HeloName string
	// DKIMDomain is the signing domain d= when fixed (Options.DKIMDomain);
	// empty means the From domain, as the sender does by default.
	DKIMDomain string
	// SenderDomains are the domains of the lists' own senders, each with
	// the names of the lists using it. Mail from them is signed with d=
	// that domain, so each gets the DKIM checks too (unless DKIMDomain is
	// fixed).
	SenderDomains map[string][]string
	// Timeout bounds each DNS question and the relay session (10 s).
	Timeout time.Duration

	// dialAddr, when set, is where the relay check connects instead of the
	// relay URL's host (tests reach a local server under a public name).
	dialAddr string
}

// Status is the verdict of one check.
type Status string

// Verdicts.
const (
	StatusPass Status = "pass"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
)

// Check is the outcome of one doctor check: what was found and, unless it
// passed, how to fix it.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func pass(name, detail string) Check { return Check{Name: name, Status: StatusPass, Detail: detail} }

func warn(name, detail, fix string) Check {
	return Check{Name: name, Status: StatusWarn, Detail: detail, Fix: fix}
}

func fail(name, detail, fix string) Check {
	return Check{Name: name, Status: StatusFail, Detail: detail, Fix: fix}
}

// Failed reports whether any check failed.
func Failed(checks []Check) bool {
	for _, c := range checks {
		if c.Status == StatusFail {
			return true
		}
	}
	return false
}

func (d *Doctor) defaults() Doctor {
	o := *d
	o.Domain = normDomain(o.Domain)
	if o.Domain == "" {
		o.Domain = "localhost"
	}
	if o.BounceDomain = normDomain(o.BounceDomain); o.BounceDomain == "" {
		o.BounceDomain = o.Domain
	}
	if o.FromDomain = normDomain(o.FromDomain); o.FromDomain == "" {
		o.FromDomain = o.Domain
	}
	if o.DKIMDomain = normDomain(o.DKIMDomain); o.DKIMDomain == "" {
		o.DKIMDomain = o.FromDomain
	}
	if o.Selector == "" {
		o.Selector = "bulletin"
	}
	if o.HeloName == "" {
		o.HeloName = o.Domain
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	return o
}

func normDomain(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// Run runs every check, in the order a person fixes them: settings, DNS,
// relay. It never fails as a whole: a check that cannot be made says so.
func (d *Doctor) Run(ctx context.Context) []Check {
	o := d.defaults()
	r := &resolver{addr: o.Resolver, timeout: o.Timeout}
	var out []Check
	out = append(out, o.checkPostal(), o.checkBaseURL())
	out = append(out, o.checkDKIM(ctx, r)...)
	if d.DKIMDomain == "" {
		out = append(out, o.checkSenderDomains(ctx, r)...)
	}
	out = append(out, o.checkSPF(ctx, r), o.checkDMARC(ctx, r), o.checkMX(ctx, r))
	return append(out, o.checkRelay(ctx)...)
}

func (d *Doctor) checkPostal() Check {
	const name = "postal address"
	if strings.TrimSpace(d.PostalAddress) == "" {
		return fail(name, "no postal address is set: campaigns refuse to send (CAN-SPAM requires one in every mail)",
			`set --postal-address "Street, City, Country" (or BULLETIN_POSTAL_ADDRESS, or the settings page)`)
	}
	return pass(name, "set: every footer carries it")
}

func (d *Doctor) checkBaseURL() Check {
	const name = "base URL"
	u, err := url.Parse(d.BaseURL)
	switch {
	case d.BaseURL == "" || err != nil || u.Host == "":
		return fail(name, "no public base URL: links in mails point nowhere useful",
			"set --base-url https://news.example.com (the address people reach this server at)")
	case u.Scheme != "https":
		return fail(name, d.BaseURL+" is not HTTPS: one-click unsubscribe (RFC 8058) needs an HTTPS link, and Gmail and Yahoo require it of bulk senders",
			"put TLS in front (see docs/reverse-proxy.md) and set --base-url https://…")
	case isLoopbackHost(u.Hostname()):
		return fail(name, d.BaseURL+" points at this machine's loopback: recipients cannot open its links",
			"set --base-url to the public HTTPS address")
	}
	return pass(name, d.BaseURL)
}
