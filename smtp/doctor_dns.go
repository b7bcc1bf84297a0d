package smtp

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"
)

// resolver asks one DNS server, over UDP and then TCP when the answer is
// truncated.
type resolver struct {
	addr    string
	timeout time.Duration
}

// errNoResolver means no DNS server was configured.
var errNoResolver = errors.New("no DNS resolver configured")

// query returns the answer records of type qtype for name; a name that does
// not exist has none.
func (r *resolver) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	if r.addr == "" {
		return nil, errNoResolver
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(4096, false)
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: r.timeout}
	in, _, err := c.ExchangeContext(ctx, m, r.addr)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, r.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", dns.TypeToString[qtype], name, err)
	}
	switch in.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return nil, fmt.Errorf("%s %s: %s", dns.TypeToString[qtype], name, dns.RcodeToString[in.Rcode])
	}
	var out []dns.RR
	for _, rr := range in.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, rr)
		}
	}
	return out, nil
}

// txt returns the TXT records of name, each one's strings joined (RFC 7208
// section 3.3, RFC 6376 section 3.6.2.2).
func (r *resolver) txt(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.query(ctx, name, dns.TypeTXT)
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out, err
}

// ips returns the IPv4 and IPv6 addresses of host (host itself if it is one).
func (r *resolver) ips(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	var out []netip.Addr
	var errs []error
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := r.query(ctx, host, t)
		errs = append(errs, err)
		for _, rr := range rrs {
			var ip net.IP
			switch v := rr.(type) {
			case *dns.A:
				ip = v.A
			case *dns.AAAA:
				ip = v.AAAA
			}
			if a, ok := netip.AddrFromSlice(ip); ok {
				out = append(out, a.Unmap())
			}
		}
	}
	return out, errors.Join(errs...)
}

// mx returns the MX hosts of domain, most preferred first.
func (r *resolver) mx(ctx context.Context, domain string) ([]*dns.MX, error) {
	rrs, err := r.query(ctx, domain, dns.TypeMX)
	var out []*dns.MX
	for _, rr := range rrs {
		out = append(out, rr.(*dns.MX))
	}
	slices.SortFunc(out, func(a, b *dns.MX) int { return int(a.Preference) - int(b.Preference) })
	return out, err
}

// tags parses a tag=value list (RFC 6376 section 3.2, RFC 7489 section 6.4).
func tags(rec string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(rec, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, dup := out[k]; !dup {
			out[k] = strings.Join(strings.Fields(v), "")
		}
	}
	return out
}

// checkDKIM compares the published key of each selector with the stored
// one (RFC 6376 section 3.6.1): the p= values must be equal.
func (d *Doctor) checkDKIM(ctx context.Context, r *resolver) []Check {
	if len(d.Keys) == 0 {
		return []Check{fail("DKIM", "no DKIM key is stored", "run: bulletin dkim keygen")}
	}
	var out []Check
	for i, sel := range Selectors(d.Selector, d.Keys) {
		out = append(out, d.checkDKIMKey(ctx, r, d.DKIMDomain, "", sel, d.Keys[i]))
	}
	return out
}

// checkSenderDomains runs the DKIM checks at the domains of lists' own
// senders, which bulletin dkim dns does not print records for.
func (d *Doctor) checkSenderDomains(ctx context.Context, r *resolver) []Check {
	if len(d.Keys) == 0 {
		return nil
	}
	names := map[string][]string{}
	for dom, n := range d.SenderDomains {
		if dom = normDomain(dom); dom != "" && dom != d.DKIMDomain {
			names[dom] = append(names[dom], n...)
		}
	}
	var out []Check
	for _, dom := range slices.Sorted(maps.Keys(names)) {
		slices.Sort(names[dom])
		who := " (sender of " + strings.Join(names[dom], ", ") + ")"
		for i, sel := range Selectors(d.Selector, d.Keys) {
			out = append(out, d.checkDKIMKey(ctx, r, dom, who, sel, d.Keys[i]))
		}
	}
	return out
}

// checkDKIMKey checks the record of key k under sel at domain; who, when
// set, names the lists sending from domain.
func (d *Doctor) checkDKIMKey(ctx context.Context, r *resolver, domain, who, sel string, k crypto.Signer) Check {
	name := "DKIM " + sel + "._domainkey." + domain + who
	want, err := dkimRecord(k)
	if err != nil {
		return fail(name, err.Error(), "run: bulletin dkim keygen")
	}
	fix := "publish this TXT record (bulletin dkim dns prints it in zone-file form): " + sel + "._domainkey." + domain + ` "` + want + `"`
	if who != "" {
		fix = "publish this TXT record (the key of " + sel + "._domainkey." + d.DKIMDomain + "): " + sel + "._domainkey." + domain + ` "` + want + `", and _dmarc.` + domain + ` "v=DMARC1; p=none"; or give those lists a sender at ` + d.DKIMDomain
	}
	recs, err := r.txt(ctx, sel+"._domainkey."+domain)
	if err != nil {
		return warn(name, "could not ask DNS: "+err.Error(), "check --resolver and try again")
	}
	var found []string
	for _, rec := range recs {
		t := tags(rec)
		if v, ok := t["v"]; ok && v != "DKIM1" {
			continue
		}
		if p, ok := t["p"]; ok {
			found = append(found, p)
		}
	}
	wantP := tags(want)["p"]
	switch {
	case len(found) == 0:
		return fail(name, "no DKIM record is published: receivers cannot verify the signatures", fix)
	case len(found) > 1:
		return fail(name, fmt.Sprintf("%d DKIM records are published for one selector: receivers fail the signature", len(found)), "keep only this one: "+fix)
	case found[0] == "":
		return fail(name, "the published record revokes the key (empty p=)", fix)
	case found[0] != wantP:
		return fail(name, "the published key is not the stored key: signatures fail", fix)
	}
	if err := verifySample(ctx, r, sel, domain, k); err != nil {
		return fail(name, "the published key matches the stored key, but a message signed with it does not verify: "+err.Error(), fix)
	}
	return pass(name, "the published key matches the stored key, and a message signed with it now verifies")
}

// verifySample signs a short message with k as every campaign mail is
// signed and verifies it the way a receiver does, with go-msgauth's
// verifier reading the published record through r: a record with the
// right key can still fail on its other tags (k=, h=, t=s, a revoked or
// mangled p=).
func verifySample(ctx context.Context, r *resolver, sel, domain string, k crypto.Signer) error {
	s, err := newSigner([]crypto.Signer{k}, sel, domain, time.Now)
	if err != nil {
		return err
	}
	h := header{{name: "From", value: "bulletin doctor <doctor@" + domain + ">"}, {name: "Subject", value: "DKIM check"}}
	raw, err := h.appendTo(nil)
	if err != nil {
		return err
	}
	raw = append(raw, "\r\nThis message checks the DKIM record.\r\n"...)
	sig, err := s.sign(raw, h, domain)
	if err != nil {
		return err
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(append(sig, raw...)), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return r.txt(ctx, name) },
	})
	if err != nil {
		return err
	}
	if len(vs) != 1 {
		return fmt.Errorf("%d signatures found, want 1", len(vs))
	}
	return vs[0].Err
}

// orgDomain is the organizational domain of RFC 7489 section 3.2, from the
// public suffix list.
func orgDomain(d string) string {
	if o, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return o
	}
	return d
}

// dmarcAligned reports relaxed (or strict) identifier alignment (RFC 7489
// section 3.1).
func dmarcAligned(a, b string, strict bool) bool {
	if strict {
		return a == b
	}
	return orgDomain(a) == orgDomain(b)
}

// checkDMARC finds the DMARC record of the From domain, or of its
// organizational domain (RFC 7489 section 6.6.3), and checks that the DKIM
// signature (d= the From domain) or SPF (the bounce domain) aligns.
func (d *Doctor) checkDMARC(ctx context.Context, r *resolver) Check {
	name := "DMARC _dmarc." + d.FromDomain
	fix := `publish a TXT record: _dmarc.` + d.FromDomain + ` "v=DMARC1; p=none" (Gmail and Yahoo require one of bulk senders), with rua=mailto: a mailbox you read at another domain to get reports`
	rec, at, err := d.dmarcRecord(ctx, r)
	if err != nil {
		return warn(name, "could not ask DNS: "+err.Error(), "check --resolver and try again")
	}
	if rec == nil {
		return fail(name, "no DMARC record is published", fix)
	}
	p := rec["p"]
	if p != "none" && p != "quarantine" && p != "reject" {
		return fail(name, "the record at "+at+" has no valid p= policy", fix)
	}
	dkimOK := dmarcAligned(d.DKIMDomain, d.FromDomain, rec["adkim"] == "s")
	spfOK := dmarcAligned(d.BounceDomain, d.FromDomain, rec["aspf"] == "s")
	detail := fmt.Sprintf("record at %s, policy %s; DKIM (d=%s) %s, SPF (bounces@%s) %s", at, p,
		d.DKIMDomain, alignWord(dkimOK), d.BounceDomain, alignWord(spfOK))
	switch {
	case !dkimOK && !spfOK:
		return fail(name, detail+": DMARC fails", "sign with a key of "+d.FromDomain+" (d= the From domain), or use a --bounce-domain under "+orgDomain(d.FromDomain))
	case !dkimOK:
		return warn(name, detail+": only SPF aligns, which forwarding breaks", "relax adkim (remove adkim=s)")
	}
	return pass(name, detail)
}

func alignWord(ok bool) string {
	if ok {
		return "aligned"
	}
	return "not aligned"
}

// dmarcRecord returns the tags of the DMARC record that applies to the From
// domain and where it was found, or nil when there is none.
func (d *Doctor) dmarcRecord(ctx context.Context, r *resolver) (map[string]string, string, error) {
	names := []string{"_dmarc." + d.FromDomain}
	if o := orgDomain(d.FromDomain); o != d.FromDomain {
		names = append(names, "_dmarc."+o)
	}
	for _, n := range names {
		recs, err := r.txt(ctx, n)
		if err != nil {
			return nil, "", err
		}
		for _, rec := range recs {
			if t := tags(rec); strings.EqualFold(t["v"], "DMARC1") && strings.HasPrefix(strings.TrimSpace(rec), "v=") {
				return t, n, nil
			}
		}
	}
	return nil, "", nil
}

// checkMX checks that the bounce domain has an MX, so that bounces,
// complaints and mailto unsubscribes come back.
func (d *Doctor) checkMX(ctx context.Context, r *resolver) Check {
	name := "MX " + d.BounceDomain
	fix := "point MX to the host whose port 25 reaches --smtp-in"
	mxs, err := r.mx(ctx, d.BounceDomain)
	if err != nil {
		return warn(name, "could not ask DNS: "+err.Error(), "check --resolver and try again")
	}
	if len(mxs) == 0 {
		return warn(name, "the bounce domain has no MX: bounces, complaints and mailto unsubscribes do not come back", fix)
	}
	if len(mxs) == 1 && mxs[0].Mx == "." {
		return warn(name, "the bounce domain publishes a null MX (RFC 7505): it accepts no mail", fix)
	}
	hosts := make([]string, len(mxs))
	for i, m := range mxs {
		hosts[i] = strings.TrimSuffix(m.Mx, ".")
	}
	return pass(name, strings.Join(hosts, ", ")+" (make sure its port 25 reaches --smtp-in)")
}
