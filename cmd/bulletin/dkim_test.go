package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// TestDKIMKeygen checks that keygen prints the record of the key it made,
// under the selector it signs with, and makes no key nobody asked for.
func TestDKIMKeygen(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	newStore(t, data)
	code, out := runCmd(t, nil, "dkim", "keygen", "--data", data, "--type", "ed25519")
	if code != 0 || !strings.Contains(out, "bulletin-ed25519._domainkey.localhost. IN TXT ( \"v=DKIM1; k=ed25519; p=") || strings.Contains(out, "k=rsa") {
		t.Fatalf("keygen --type ed25519 = exit %d:\n%s", code, out)
	}
	keyLine := func(out, kind string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "k="+kind+"; p=") {
				return l[strings.Index(l, "p="):]
			}
		}
		return ""
	}
	made := keyLine(out, "ed25519")
	db, err := store.Open(filepath.Join(data, "bulletin.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Setting(t.Context(), "dkim.rsa"); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("keygen --type ed25519 made an RSA key: %v", err)
	}
	db.Close()
	// Signing with it alone, it takes the selector itself; dns prints the
	// same key.
	code, out = runCmd(t, nil, "dkim", "keygen", "--data", data, "--type", "ed25519", "--dkim-sign", "ed25519")
	if code != 0 || !strings.Contains(out, "\nbulletin._domainkey.localhost. IN TXT ( \"v=DKIM1; k=ed25519; p=") {
		t.Fatalf("keygen --dkim-sign ed25519 = exit %d:\n%s", code, out)
	}
	made = keyLine(out, "ed25519")
	if code, dns := runCmd(t, nil, "dkim", "dns", "--data", data, "--dkim-sign", "both"); code != 0 || keyLine(dns, "ed25519") != made || made == "" {
		t.Errorf("dkim dns does not print the key keygen made:\n%s\n%s", out, dns)
	}
}

// TestDKIMModeSwitch: a server that signed with Ed25519 alone and then
// with both keys keeps the Ed25519 key under its selector, so the mail it
// sent first still verifies against the records dkim dns prints after the
// switch; and dkim dns and doctor, run without --dkim-sign, take the keys
// the server last started with.
func TestDKIMModeSwitch(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data, "--dkim-sign", "ed25519")
	postForm(t, s.base+"/subscribe/newsletter", url.Values{"email": {"pat@example.org"}})
	first := outboxMessages(t, data, 1)[0]
	s.shutdown(t)
	code, zone := runCmd(t, nil, "dkim", "dns", "--data", data, "--domain", "news.test")
	if code != 0 || !strings.Contains(zone, "\nbulletin._domainkey.news.test. IN TXT ( \"v=DKIM1; k=ed25519; p=") ||
		strings.Contains(zone, "k=rsa") || !strings.Contains(zone, "--dkim-sign ed25519 (as the server last started)") {
		t.Fatalf("dkim dns after an ed25519 start = exit %d:\n%s", code, zone)
	}
	verifyWithZone(t, first, zone, 1)

	s = startServer(t, data, "--dkim-sign", "both")
	postForm(t, s.base+"/subscribe/newsletter", url.Values{"email": {"quinn@example.org"}})
	var second []byte
	for _, m := range outboxMessages(t, data, 2) {
		if !bytes.Equal(m, first) {
			second = m
		}
	}
	s.shutdown(t)
	code, zone = runCmd(t, nil, "dkim", "dns", "--data", data, "--domain", "news.test")
	if code != 0 || !strings.Contains(zone, "\nbulletin._domainkey.news.test. IN TXT ( \"v=DKIM1; k=ed25519; p=") ||
		!strings.Contains(zone, "\nbulletin-rsa._domainkey.news.test. IN TXT ( \"v=DKIM1; k=rsa; p=") {
		t.Fatalf("dkim dns after a both start = exit %d:\n%s", code, zone)
	}
	verifyWithZone(t, first, zone, 1)
	verifyWithZone(t, second, zone, 2)

	// doctor, without --dkim-sign too, checks the keys that sign.
	var records []string
	for _, l := range strings.Split(zone, "\n") {
		if l != "" && !strings.HasPrefix(l, ";") {
			records = append(records, l)
		}
	}
	_, out := runCmd(t, nil, "doctor", "--data", data, "--domain", "news.test", "--resolver", zoneServer(t, records...))
	for _, want := range []string{"pass  DKIM bulletin._domainkey.news.test", "pass  DKIM bulletin-rsa._domainkey.news.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
}

// verifyWithZone checks that raw carries n DKIM signatures and that each
// verifies against the TXT records of zone, as dkim dns prints them.
func verifyWithZone(t *testing.T, raw []byte, zone string, n int) {
	t.Helper()
	txt := map[string]string{}
	for _, l := range strings.Split(zone, "\n") {
		name, rest, ok := strings.Cut(l, " IN TXT ")
		if !ok || strings.HasPrefix(l, ";") {
			continue
		}
		var v strings.Builder
		for i, part := range strings.Split(rest, `"`) {
			if i%2 == 1 {
				v.WriteString(part)
			}
		}
		txt[strings.TrimSuffix(name, ".")] = v.String()
	}
	lookup := func(name string) ([]string, error) {
		if v, ok := txt[name]; ok {
			return []string{v}, nil
		}
		return nil, fmt.Errorf("no TXT record at %s", name)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil || len(vs) != n {
		t.Fatalf("verify: %v, %d signatures, want %d", err, len(vs), n)
	}
	for _, v := range vs {
		if v.Err != nil {
			t.Errorf("signature does not verify against the printed records: %v\n%s", v.Err, zone)
		}
	}
}
