package smtp

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"github.com/bulletin/bulletin/smtp/dnstest"
)

// dnsServer serves rrs on 127.0.0.1 (dnstest.Zone).
func dnsServer(t *testing.T, rrs ...dns.RR) string {
	t.Helper()
	return dnstest.Zone(t, rrs...)
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: dns.Fqdn(name), Rrtype: t, Class: dns.ClassINET, Ttl: 300}
}

// txt is a TXT record split into strings of at most 100 bytes, so that
// the checks must join them.
func txt(name, v string) dns.RR {
	var parts []string
	for len(v) > 100 {
		parts, v = append(parts, v[:100]), v[100:]
	}
	return &dns.TXT{Hdr: hdr(name, dns.TypeTXT), Txt: append(parts, v)}
}

func aRR(name, ip string) dns.RR {
	return &dns.A{Hdr: hdr(name, dns.TypeA), A: net.ParseIP(ip)}
}

func aaaaRR(name, ip string) dns.RR {
	return &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA), AAAA: net.ParseIP(ip)}
}

func mxRR(name, host string) dns.RR {
	return &dns.MX{Hdr: hdr(name, dns.TypeMX), Preference: 10, Mx: dns.Fqdn(host)}
}

func newEd25519(t *testing.T) crypto.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func dkimTXT(t *testing.T, name string, k crypto.Signer) dns.RR {
	t.Helper()
	rec, err := dkimRecord(k)
	if err != nil {
		t.Fatal(err)
	}
	return txt(name, rec)
}

// verdicts maps check names to their status.
func verdicts(cs []Check) map[string]Status {
	out := map[string]Status{}
	for _, c := range cs {
		out[c.Name] = c.Status
		if c.Status != StatusPass && c.Fix == "" {
			out[c.Name] = "no fix given"
		}
	}
	return out
}

func assertVerdicts(t *testing.T, got []Check, want map[string]Status) {
	t.Helper()
	v := verdicts(got)
	for name, w := range want {
		if v[name] != w {
			t.Errorf("check %q = %q, want %q", name, v[name], w)
		}
	}
	if len(v) != len(want) {
		t.Errorf("%d checks, want %d", len(v), len(want))
	}
	if t.Failed() {
		for _, c := range got {
			t.Logf("%-40s %-4s %s | %s", c.Name, c.Status, c.Detail, c.Fix)
		}
	}
}

func TestDoctorRight(t *testing.T) {
	t.Parallel()
	k1, k2 := newEd25519(t), newEd25519(t)
	ns := dnsServer(t,
		dkimTXT(t, "bulletin._domainkey.news.test", k1),
		dkimTXT(t, "bulletin-ed25519._domainkey.news.test", k2),
		txt("news.test", "v=spf1 ip4:192.0.2.0/24 -all"),
		txt("news.test", "google-site-verification=abc"),
		mxRR("news.test", "mx.news.test"),
		txt("_dmarc.news.test", "v=DMARC1; p=quarantine; adkim=s; rua=mailto:dmarc@news.test"),
		aRR("relay.test", "192.0.2.10"),
	)
	serverTLS, clientTLS := selfSigned(t)
	ts := newTestServer(t, func(ts *testServer, srv *gosmtp.Server) {
		srv.TLSConfig = serverTLS
		ts.user, ts.pass = "bulletin", "s3cret"
	})
	d := Doctor{
		Resolver: ns, Domain: "news.test", Keys: []crypto.Signer{k1, k2},
		RelayURL: "smtp://bulletin:s3cret@relay.test:587", TLSConfig: clientTLS, dialAddr: ts.addr,
		PostalAddress: "1 Main Street", BaseURL: "https://news.test", Timeout: 5 * time.Second,
	}
	got := d.Run(t.Context())
	assertVerdicts(t, got, map[string]Status{
		"postal address": StatusPass, "base URL": StatusPass,
		"DKIM bulletin._domainkey.news.test": StatusPass, "DKIM bulletin-ed25519._domainkey.news.test": StatusPass,
		"SPF news.test": StatusPass, "DMARC _dmarc.news.test": StatusPass, "MX news.test": StatusPass,
		"relay": StatusPass, "relay TLS": StatusPass, "relay AUTH": StatusPass,
	})
	if Failed(got) {
		t.Error("Failed = true, want false")
	}
	if ts.count("STARTTLS") != 1 || ts.count("AUTH") != 1 || ts.count("MAIL") != 0 {
		t.Errorf("relay traffic %v: want one STARTTLS, one AUTH and no mail", ts.traffic)
	}
}

func TestDoctorWrong(t *testing.T) {
	t.Parallel()
	k1, k2, other := newEd25519(t), newEd25519(t), newEd25519(t)
	ns := dnsServer(t,
		dkimTXT(t, "bulletin._domainkey.news.test", other),
		txt("news.test", "v=spf1 include:_spf.elsewhere.example ~all"),
		aRR("relay.test", "192.0.2.10"),
	)
	ts := newTestServer(t, nil) // no STARTTLS
	d := Doctor{
		Resolver: ns, Domain: "news.test", Keys: []crypto.Signer{k1, k2},
		RelayURL: "smtp://relay.test:587", dialAddr: ts.addr, BaseURL: "http://news.test",
		Timeout: 5 * time.Second,
	}
	got := d.Run(t.Context())
	assertVerdicts(t, got, map[string]Status{
		"postal address": StatusFail, "base URL": StatusFail,
		"DKIM bulletin._domainkey.news.test": StatusFail, "DKIM bulletin-ed25519._domainkey.news.test": StatusFail,
		"SPF news.test": StatusWarn, "DMARC _dmarc.news.test": StatusFail, "MX news.test": StatusWarn,
		"relay": StatusPass, "relay TLS": StatusFail,
	})
	if !Failed(got) {
		t.Error("Failed = false, want true")
	}
	for _, c := range got {
		if c.Name == "MX news.test" && c.Fix != "point MX to the host whose port 25 reaches --smtp-in" {
			t.Errorf("MX fix = %q", c.Fix)
		}
		if c.Name == "DKIM bulletin._domainkey.news.test" && !strings.Contains(c.Detail, "not the stored key") {
			t.Errorf("DKIM detail = %q, want a key mismatch", c.Detail)
		}
	}
}

func TestDoctorDKIM(t *testing.T) {
	t.Parallel()
	k := newEd25519(t)
	rec, _ := dkimRecord(k)
	p := tags(rec)["p"]
	ns := dnsServer(t,
		txt("a._domainkey.d.test", "v=DKIM1; k=ed25519; p="+p[:10]+" "+p[10:]), // spaces are allowed
		txt("b._domainkey.d.test", "v=DKIM1; k=ed25519; p="),
		txt("c._domainkey.d.test", rec), txt("c._domainkey.d.test", rec),
		txt("e._domainkey.d.test", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(make([]byte, 32))),
		// The right key under the wrong algorithm, and limited to SHA-1:
		// the keys compare equal, a receiver still fails the signature.
		txt("f._domainkey.d.test", "v=DKIM1; k=rsa; p="+p),
		txt("g._domainkey.d.test", "v=DKIM1; k=ed25519; h=sha1; p="+p),
	)
	for sel, want := range map[string]Status{"a": StatusPass, "b": StatusFail, "c": StatusFail, "e": StatusFail, "f": StatusFail, "g": StatusFail, "missing": StatusFail} {
		d := Doctor{Resolver: ns, Domain: "d.test", Selector: sel, Keys: []crypto.Signer{k}}
		o := d.defaults()
		got := o.checkDKIM(t.Context(), &resolver{addr: ns, timeout: time.Second})
		if len(got) != 1 || got[0].Status != want {
			t.Errorf("checkDKIM(selector %s) = %+v, want %s", sel, got, want)
		}
		if (sel == "f" || sel == "g") && len(got) == 1 && !strings.Contains(got[0].Detail, "does not verify") {
			t.Errorf("checkDKIM(selector %s) = %+v, want the verification failure", sel, got)
		}
	}
	none := (&Doctor{Resolver: ns, Domain: "d.test"}).Run(t.Context())
	if verdicts(none)["DKIM"] != StatusFail {
		t.Errorf("no key: %+v", none)
	}
}

func TestDoctorSPF(t *testing.T) {
	t.Parallel()
	ns := dnsServer(t,
		aRR("smtp.relay.test", "192.0.2.10"), aaaaRR("smtp.relay.test", "2001:db8::10"),
		txt("include.test", "v=spf1 include:spf.relay.test ~all"),
		txt("a.test", "v=spf1 a:smtp.relay.test -all"),
		txt("ip4.test", "v=spf1 ip4:192.0.2.0/24 -all"),
		txt("ip6.test", "v=spf1 ip6:2001:db8::/32 -all"),
		txt("mx.test", "v=spf1 mx -all"), mxRR("mx.test", "out.mx.test"), aRR("out.mx.test", "192.0.2.10"),
		txt("redirect.test", "v=spf1 redirect=_spf.relay.test"),
		txt("other.test", "v=spf1 ip4:198.51.100.0/24 include:elsewhere.example -all"),
		txt("two.test", "v=spf1 -all"), txt("two.test", "v=spf1 mx -all"),
		txt("none.test", "v=DMARC1; p=none"),
	)
	tests := []struct {
		domain, relay string
		want          Status
	}{
		{"include.test", "smtp://smtp.relay.test", StatusPass},
		{"a.test", "smtp://smtp.relay.test", StatusPass},
		{"ip4.test", "smtp://smtp.relay.test", StatusPass},
		{"ip6.test", "smtp://smtp.relay.test", StatusPass},
		{"mx.test", "smtp://smtp.relay.test", StatusPass},
		{"redirect.test", "smtps://smtp.relay.test", StatusPass},
		{"other.test", "smtp://smtp.relay.test", StatusWarn},
		{"ip4.test", "", StatusWarn},
		{"ip4.test", "smtp://127.0.0.1:25", StatusWarn},
		{"two.test", "smtp://smtp.relay.test", StatusFail},
		{"none.test", "smtp://smtp.relay.test", StatusFail},
		{"absent.test", "smtp://smtp.relay.test", StatusFail},
	}
	for _, tc := range tests {
		d := Doctor{Resolver: ns, Domain: "x.test", BounceDomain: tc.domain, RelayURL: tc.relay}
		o := d.defaults()
		got := o.checkSPF(t.Context(), &resolver{addr: ns, timeout: time.Second})
		if got.Status != tc.want || got.Name != "SPF "+tc.domain {
			t.Errorf("checkSPF(%s, %q) = %+v, want %s", tc.domain, tc.relay, got, tc.want)
		}
	}
}

func TestDoctorDMARC(t *testing.T) {
	t.Parallel()
	ns := dnsServer(t,
		txt("_dmarc.news.test", "v=DMARC1; p=none"),
		txt("_dmarc.strict.test", "v=DMARC1; p=reject; adkim=s; aspf=s"),
		txt("_dmarc.bad.test", "v=DMARC1; p=maybe"),
		txt("_dmarc.other.test", "v=spf1 -all"),
	)
	tests := []struct {
		from, bounce, dkim string
		want               Status
	}{
		{"news.test", "", "", StatusPass},
		{"mail.news.test", "bounce.news.test", "", StatusPass}, // organizational domain's record
		{"strict.test", "bounce.strict.test", "", StatusPass},  // DKIM aligned strictly
		{"strict.test", "", "mail.strict.test", StatusWarn},    // only SPF aligns
		{"news.test", "bounce.example", "esp.example", StatusFail},
		{"bad.test", "", "", StatusFail},
		{"other.test", "", "", StatusFail},
		{"absent.test", "", "", StatusFail},
	}
	for _, tc := range tests {
		d := Doctor{Resolver: ns, Domain: tc.from, FromDomain: tc.from, BounceDomain: tc.bounce, DKIMDomain: tc.dkim}
		o := d.defaults()
		got := o.checkDMARC(t.Context(), &resolver{addr: ns, timeout: time.Second})
		if got.Status != tc.want {
			t.Errorf("checkDMARC(from %s, bounce %q, d= %q) = %+v, want %s", tc.from, tc.bounce, tc.dkim, got, tc.want)
		}
	}
}

func TestDoctorMX(t *testing.T) {
	t.Parallel()
	ns := dnsServer(t, mxRR("ok.test", "in.ok.test"), mxRR("null.test", "."), txt("nomx.test", "v=spf1 -all"))
	for dom, want := range map[string]Status{"ok.test": StatusPass, "null.test": StatusWarn, "nomx.test": StatusWarn, "absent.test": StatusWarn} {
		d := Doctor{Resolver: ns, Domain: dom}
		o := d.defaults()
		if got := o.checkMX(t.Context(), &resolver{addr: ns, timeout: time.Second}); got.Status != want {
			t.Errorf("checkMX(%s) = %+v, want %s", dom, got, want)
		}
	}
	broken := Doctor{Resolver: "127.0.0.1:1", Domain: "x.test", Timeout: 300 * time.Millisecond}
	o := broken.defaults()
	if got := o.checkMX(t.Context(), &resolver{addr: broken.Resolver, timeout: o.Timeout}); got.Status != StatusWarn || !strings.Contains(got.Detail, "could not ask DNS") {
		t.Errorf("checkMX with a dead resolver = %+v, want a warning", got)
	}
}

func TestDoctorRelay(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	startTLS := newTestServer(t, func(ts *testServer, srv *gosmtp.Server) {
		srv.TLSConfig = serverTLS
		ts.user, ts.pass = "bulletin", "s3cret"
	})
	plain := newTestServer(t, nil)
	implicit := newTestServerTLS(t, serverTLS)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := closed.Addr().String()
	closed.Close()
	tests := []struct {
		name, relay, dial string
		tls               bool
		want              map[string]Status
	}{
		{"starttls auth", "smtp://bulletin:s3cret@relay.test", startTLS.addr, true,
			map[string]Status{"relay": StatusPass, "relay TLS": StatusPass, "relay AUTH": StatusPass}},
		{"wrong password", "smtp://bulletin:nope@relay.test", startTLS.addr, true,
			map[string]Status{"relay": StatusPass, "relay TLS": StatusPass, "relay AUTH": StatusFail}},
		{"untrusted certificate", "smtp://relay.test", startTLS.addr, false,
			map[string]Status{"relay": StatusPass, "relay TLS": StatusFail}},
		{"no starttls, remote", "smtp://relay.test", plain.addr, false,
			map[string]Status{"relay": StatusPass, "relay TLS": StatusFail}},
		{"no starttls, loopback", "smtp://" + plain.addr, "", false,
			map[string]Status{"relay": StatusPass, "relay TLS": StatusWarn}},
		{"plain", "smtp+plain://relay.test", plain.addr, false,
			map[string]Status{"relay": StatusPass, "relay TLS": StatusWarn}},
		{"implicit", "smtps://relay.test", implicit.addr, true,
			map[string]Status{"relay": StatusPass, "relay TLS": StatusPass}},
		{"unreachable", "smtp://relay.test", deadAddr, false, map[string]Status{"relay": StatusFail}},
		{"none", "", "", false, map[string]Status{"relay": StatusWarn}},
		{"bad url", "http://relay.test", "", false, map[string]Status{"relay": StatusFail}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := Doctor{RelayURL: tc.relay, dialAddr: tc.dial, Timeout: 5 * time.Second}
			if tc.tls {
				d.TLSConfig = clientTLS
			}
			o := d.defaults()
			assertVerdicts(t, o.checkRelay(t.Context()), tc.want)
		})
	}
}

func TestDoctorSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base, postal string
		url, addr    Status
	}{
		{"https://news.test", "1 Main St", StatusPass, StatusPass},
		{"http://news.test", "", StatusFail, StatusFail},
		{"https://127.0.0.1:8080", "  ", StatusFail, StatusFail},
		{"", "x", StatusFail, StatusPass},
	} {
		d := Doctor{BaseURL: tc.base, PostalAddress: tc.postal}
		if got := d.checkBaseURL(); got.Status != tc.url {
			t.Errorf("checkBaseURL(%q) = %+v, want %s", tc.base, got, tc.url)
		}
		if got := d.checkPostal(); got.Status != tc.addr {
			t.Errorf("checkPostal(%q) = %+v, want %s", tc.postal, got, tc.addr)
		}
	}
}

func TestParseSPF(t *testing.T) {
	t.Parallel()
	got := parseSPF("v=spf1 +a -mx:mail.test/24 ~ip4:192.0.2.1 ?include:x.test exp=e.test redirect=r.test -all")
	want := []spfTerm{{"a", ""}, {"mx", "mail.test"}, {"ip4", "192.0.2.1"}, {"include", "x.test"}, {"redirect", "r.test"}, {"all", ""}}
	if len(got) != len(want) {
		t.Fatalf("parseSPF = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("parseSPF term %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// TestDoctorSenderDomains: a list whose own sender is at another domain is
// signed with d= that domain, so the doctor checks the key there too and,
// where it is missing, names the lists and the records to publish.
func TestDoctorSenderDomains(t *testing.T) {
	t.Parallel()
	k := newEd25519(t)
	ns := dnsServer(t,
		dkimTXT(t, "bulletin._domainkey.news.test", k),
		dkimTXT(t, "bulletin._domainkey.shop.test", k),
	)
	d := Doctor{
		Resolver: ns, Domain: "news.test", Keys: []crypto.Signer{k}, Timeout: 5 * time.Second,
		SenderDomains: map[string][]string{"Other.TEST": {"cafe-news", "deals"}, "shop.test": {"shop"}, "news.test": {"weekly"}},
	}
	got := d.Run(t.Context())
	v := verdicts(got)
	for name, want := range map[string]Status{
		"DKIM bulletin._domainkey.news.test":                               StatusPass,
		"DKIM bulletin._domainkey.shop.test (sender of shop)":              StatusPass,
		"DKIM bulletin._domainkey.other.test (sender of cafe-news, deals)": StatusFail,
	} {
		if v[name] != want {
			t.Errorf("check %q = %q, want %q; got %v", name, v[name], want, v)
		}
	}
	for _, c := range got {
		if strings.HasSuffix(c.Name, "deals)") && !strings.Contains(c.Fix, "bulletin._domainkey.other.test") {
			t.Errorf("fix = %q, lacks the record's name", c.Fix)
		}
		if strings.Contains(c.Name, "weekly") {
			t.Errorf("the instance's own domain is checked twice: %q", c.Name)
		}
	}
	// A fixed d= signs every sender's mail with the same domain.
	d.DKIMDomain = "news.test"
	for _, c := range d.Run(t.Context()) {
		if strings.Contains(c.Name, "sender of") {
			t.Errorf("check %q with a fixed d=", c.Name)
		}
	}
}
