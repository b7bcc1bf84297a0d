package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulletin/bulletin/smtp"
	"github.com/bulletin/bulletin/smtp/dnstest"
)

// zoneServer serves zone-file records on 127.0.0.1 (UDP); names without
// records are NXDOMAIN.
func zoneServer(t *testing.T, lines ...string) string {
	t.Helper()
	var rrs []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("zone line %q: %v", l, err)
		}
		if rr != nil {
			rrs = append(rrs, rr)
		}
	}
	return dnstest.Zone(t, rrs...)
}

// TestDoctorCommand publishes what "dkim dns" prints and checks that doctor
// passes; then with a wrong zone it fails with exit code 1 and the fixes.
func TestDoctorCommand(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	newStore(t, data)
	if code, out := runCmd(t, nil, "dkim", "dns", "--data", data, "--domain", "news.test", "--dkim-sign", "both"); code != 0 {
		t.Fatalf("dkim dns: %d %s", code, out)
	}
	code, zone := runCmd(t, nil, "dkim", "dns", "--data", data, "--domain", "news.test", "--dkim-sign", "both")
	if code != 0 {
		t.Fatal(zone)
	}
	var lines []string
	for _, l := range strings.Split(zone, "\n") {
		if l != "" && !strings.HasPrefix(l, ";") {
			lines = append(lines, l)
		}
	}
	sk := newSink(t)
	good := zoneServer(t, append(lines, "news.test. 300 IN MX 10 mx.news.test.")...)
	args := []string{"doctor", "--data", data, "--domain", "news.test", "--dkim-sign", "both", "--resolver", good,
		"--relay", "smtp://" + sk.addr, "--base-url", "https://news.test", "--postal-address", "1 Main Street, Springfield"}
	code, out := runCmd(t, nil, args...)
	t.Logf("doctor, right records:\n%s", out)
	if code != 0 {
		t.Errorf("doctor with the right records: exit %d", code)
	}
	for _, want := range []string{
		"pass  DKIM bulletin._domainkey.news.test", "pass  DKIM bulletin-ed25519._domainkey.news.test",
		"pass  DMARC _dmarc.news.test", "pass  MX news.test", "pass  relay ", "pass  postal address", "pass  base URL",
		"warn  SPF news.test", // the test relay is on loopback
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q", want)
		}
	}

	wrong := zoneServer(t, `news.test. 300 IN TXT "v=spf1 -all"`,
		`bulletin._domainkey.news.test. 300 IN TXT "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwrong"`)
	args = []string{"doctor", "--data", data, "--domain", "news.test", "--resolver", wrong}
	code, out = runCmd(t, map[string]string{}, args...)
	t.Logf("doctor, wrong records:\n%s", out)
	if code != 1 {
		t.Errorf("doctor with wrong records: exit %d, want 1", code)
	}
	for _, want := range []string{
		"FAIL  DKIM bulletin._domainkey.news.test", "FAIL  DMARC _dmarc.news.test", "warn  MX news.test",
		"fix: point MX to the host whose port 25 reaches --smtp-in", "FAIL  postal address", "FAIL  base URL",
		"warn  relay ", "failed.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q", want)
		}
	}
}

func TestDoctorWithoutStore(t *testing.T) {
	t.Parallel()
	ns := zoneServer(t)
	code, out := runCmd(t, nil, "doctor", "--data", filepath.Join(t.TempDir(), "none"), "--resolver", ns)
	if code != 1 || !strings.Contains(out, "warn  DKIM") || !strings.Contains(out, "start the server once") {
		t.Errorf("doctor without a store: exit %d\n%s", code, out)
	}
}

// TestDoctorWhileServing: with the server holding the store, the settings
// the settings page may have saved cannot be read; their checks say so
// rather than failing on values that may well be set, and a value given
// as a flag is still checked.
func TestDoctorWhileServing(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	startServer(t, data)
	ns := zoneServer(t)
	_, out := runCmd(t, nil, "doctor", "--data", data, "--resolver", ns, "--postal-address", "1 Main Street, Springfield")
	for _, want := range []string{"warn  DKIM", "warn  base URL", "not checked: the running server holds the store", "warn  relay ", "pass  postal address"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor while serving lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"FAIL  base URL", "no relay is configured"} {
		if strings.Contains(out, bad) {
			t.Errorf("doctor while serving says %q of a setting it could not read:\n%s", bad, out)
		}
	}
}

// TestDoctorRelayResolver checks that the relay check looks the relay's
// host up at --resolver, as the DNS checks do: relay.test is known only to
// the test DNS server, which points it at a go-smtp server on 127.0.0.1.
func TestDoctorRelayResolver(t *testing.T) {
	t.Parallel()
	sk := newSink(t)
	_, port, err := net.SplitHostPort(sk.addr)
	if err != nil {
		t.Fatal(err)
	}
	ns := zoneServer(t, "relay.test. 300 IN A 127.0.0.1")
	_, out := runCmd(t, nil, "doctor", "--data", filepath.Join(t.TempDir(), "none"), "--resolver", ns,
		"--relay", "smtp+plain://relay.test:"+port)
	connected := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "pass  relay ") && strings.HasSuffix(l, "connected to relay.test:"+port) {
			connected = true
		}
	}
	sk.mu.Lock()
	conns := sk.conns
	sk.mu.Unlock()
	if !connected || conns == 0 {
		t.Errorf("doctor did not reach relay.test through --resolver (%d sessions at the relay):\n%s", conns, out)
	}
}

func TestSystemResolver(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(path, []byte("# comment\nsearch example.org\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"), 0o600)
	if got := systemResolver(path); got != "192.0.2.53:53" {
		t.Errorf("systemResolver = %q, want 192.0.2.53:53", got)
	}
	if got := systemResolver(filepath.Join(t.TempDir(), "missing")); got != "" {
		t.Errorf("systemResolver(missing) = %q", got)
	}
}

func TestNewDoctorDomains(t *testing.T) {
	t.Parallel()
	cfg := config{Domain: "news.test", BounceDomain: "bounce.news.test", From: "Paper <editor@paper.test>", DKIMSelector: "s1"}
	d := newDoctor(cfg, nil, "127.0.0.1:53")
	if d.FromDomain != "paper.test" || d.BounceDomain != "bounce.news.test" || d.Selector != "s1" {
		t.Errorf("newDoctor = %+v", d)
	}
}

func TestInstanceDoctor(t *testing.T) {
	t.Parallel()
	ns := zoneServer(t, `news.test. 300 IN MX 10 mx.news.test.`)
	cfg := config{Data: filepath.Join(t.TempDir(), "data"), Domain: "news.test", Resolver: ns,
		PostalAddress: "1 Main Street", BaseURL: "https://news.test"}
	err := withInstance(t.Context(), cfg, io.Discard, func(in *instance) error {
		got := map[string]smtp.Status{}
		for _, c := range in.doctor(t.Context()) {
			got[c.Name] = c.Status
		}
		want := map[string]smtp.Status{"postal address": smtp.StatusPass, "base URL": smtp.StatusPass,
			"DKIM bulletin._domainkey.news.test": smtp.StatusFail, "MX news.test": smtp.StatusPass, "relay": smtp.StatusWarn}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("instance doctor %q = %q, want %q (all: %v)", name, got[name], w, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
