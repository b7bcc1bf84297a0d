package smtp

import (
	"context"
	"net/netip"
	"strings"
)

// spfTerm is one mechanism of an SPF record (RFC 7208 section 5), its
// qualifier dropped; modifiers other than redirect are skipped.
type spfTerm struct {
	mech string // include, a, mx, ip4, ip6, redirect, all, …
	arg  string // domain or CIDR; empty for a bare a or mx
}

// parseSPF splits a v=spf1 record into its terms.
func parseSPF(rec string) []spfTerm {
	var out []spfTerm
	for _, f := range strings.Fields(rec)[1:] {
		f = strings.TrimLeft(strings.ToLower(f), "+-~?")
		if k, v, ok := strings.Cut(f, "="); ok {
			if k == "redirect" {
				out = append(out, spfTerm{mech: "redirect", arg: v})
			}
			continue
		}
		m, arg, _ := strings.Cut(f, ":")
		if i := strings.IndexByte(m, '/'); i >= 0 { // a/24, mx/24
			m = m[:i]
		}
		if i := strings.IndexByte(arg, '/'); i >= 0 && m != "ip4" && m != "ip6" {
			arg = arg[:i]
		}
		out = append(out, spfTerm{mech: m, arg: strings.TrimSuffix(arg, ".")})
	}
	return out
}

// isSPF reports whether a TXT record is an SPF record (RFC 7208 section 4.5).
func isSPF(rec string) bool {
	rec = strings.ToLower(rec)
	return rec == "v=spf1" || strings.HasPrefix(rec, "v=spf1 ")
}

// checkSPF finds the SPF record of the envelope sender's domain (where
// receivers look it up: RFC 7208 section 4.1) and checks that it covers
// the relay: the relay's domain appears in include:, a: or redirect=, or
// its addresses are in ip4:, ip6:, a or mx. It does not follow includes.
func (d *Doctor) checkSPF(ctx context.Context, r *resolver) Check {
	name := "SPF " + d.BounceDomain
	rc, relayErr := parseRelay(d.RelayURL)
	host := ""
	if d.RelayURL != "" && relayErr == nil {
		host = normDomain(rc.host)
	}
	fix := "publish a TXT record at " + d.BounceDomain + `: "` + suggestSPF(host) + `" (if your relay provider documents an include:, use theirs)`
	recs, err := r.txt(ctx, d.BounceDomain)
	if err != nil {
		return warn(name, "could not ask DNS: "+err.Error(), "check --resolver and try again")
	}
	var spf []string
	for _, rec := range recs {
		if isSPF(rec) {
			spf = append(spf, rec)
		}
	}
	switch {
	case len(spf) == 0:
		return fail(name, "no SPF record is published for the envelope sender's domain", fix)
	case len(spf) > 1:
		return fail(name, "more than one SPF record is published: receivers treat that as an error (RFC 7208 section 4.5)", "merge them into one: "+fix)
	}
	switch {
	case d.RelayURL == "" || relayErr != nil:
		return warn(name, spf[0]+": no relay is configured, so there is no sending host to look for", "configure --relay, then run doctor again")
	case isLoopbackHost(host):
		return warn(name, spf[0]+": the relay runs on this machine; make sure the record covers this server's public address", "add ip4:/ip6: of this server, or a:its-name")
	}
	if why := d.spfCovers(ctx, r, parseSPF(spf[0]), host); why != "" {
		return pass(name, spf[0]+": "+why)
	}
	return warn(name, spf[0]+": the relay "+host+" does not appear in it (includes are not followed)", fix)
}

// spfCovers says how the terms cover the relay host, or "" when they do
// not visibly do so.
func (d *Doctor) spfCovers(ctx context.Context, r *resolver, terms []spfTerm, host string) string {
	for _, t := range terms {
		switch t.mech {
		case "include", "redirect", "a":
			if t.arg != "" && (t.arg == host || orgDomain(t.arg) == orgDomain(host)) {
				return t.mech + ":" + t.arg + " covers the relay " + host
			}
		}
	}
	ips, _ := r.ips(ctx, host)
	if len(ips) == 0 {
		return ""
	}
	lookups := 0
	for _, t := range terms {
		var cover []netip.Prefix
		switch t.mech {
		case "ip4", "ip6":
			cover = prefixes(t.arg)
		case "a", "mx":
			if lookups >= 10 { // RFC 7208 section 4.6.4
				continue
			}
			lookups++
			cover = d.spfHostPrefixes(ctx, r, t)
		}
		for _, p := range cover {
			for _, ip := range ips {
				if p.Contains(ip) {
					return t.mech + " covers the relay's address " + ip.String()
				}
			}
		}
	}
	return ""
}

// spfHostPrefixes resolves an a or mx term to host prefixes.
func (d *Doctor) spfHostPrefixes(ctx context.Context, r *resolver, t spfTerm) []netip.Prefix {
	dom := t.arg
	if dom == "" {
		dom = d.BounceDomain
	}
	hosts := []string{dom}
	if t.mech == "mx" {
		mxs, _ := r.mx(ctx, dom)
		hosts = hosts[:0]
		for _, m := range mxs {
			hosts = append(hosts, strings.TrimSuffix(m.Mx, "."))
		}
	}
	var out []netip.Prefix
	for _, h := range hosts {
		ips, _ := r.ips(ctx, h)
		for _, ip := range ips {
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	return out
}

// prefixes parses an ip4:/ip6: argument, a bare address being a /32 or /128.
func prefixes(arg string) []netip.Prefix {
	if p, err := netip.ParsePrefix(arg); err == nil {
		return []netip.Prefix{p.Masked()}
	}
	if ip, err := netip.ParseAddr(arg); err == nil {
		return []netip.Prefix{netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())}
	}
	return nil
}

// suggestSPF is the record to publish when there is none.
func suggestSPF(relayHost string) string {
	if relayHost == "" || isLoopbackHost(relayHost) {
		return "v=spf1 mx ~all"
	}
	return "v=spf1 a:" + relayHost + " mx ~all"
}
