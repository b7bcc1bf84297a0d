package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

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
