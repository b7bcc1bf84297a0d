package smtp

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"

	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

var (
	rsaKey = sync.OnceValue(func() crypto.Signer {
		k, err := GenerateKey("rsa")
		if err != nil {
			panic(err)
		}
		return k
	})
	edKey = sync.OnceValue(func() crypto.Signer {
		k, err := GenerateKey("ed25519")
		if err != nil {
			panic(err)
		}
		return k
	})
)

func testKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	if kind == "rsa" {
		return rsaKey()
	}
	return edKey()
}

// lookupFor serves the DKIM records of keys under their selectors at
// testDomain, as DNSRecords would publish them.
func lookupFor(t testing.TB, keys []crypto.Signer) func(string) ([]string, error) {
	recs := map[string]string{}
	for i, sel := range Selectors("bulletin", keys) {
		r, err := dkimRecord(keys[i])
		if err != nil {
			t.Fatal(err)
		}
		recs[sel+"._domainkey."+testDomain] = r
	}
	return func(name string) ([]string, error) {
		if r, ok := recs[name]; ok {
			return []string{r}, nil
		}
		return nil, fmt.Errorf("no TXT record at %s", name)
	}
}

func TestDKIMVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys []string
	}{
		{"rsa", []string{"rsa"}},
		{"ed25519", []string{"ed25519"}},
		{"dual", []string{"rsa", "ed25519"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var keys []crypto.Signer
			for _, k := range tc.keys {
				keys = append(keys, testKey(t, k))
			}
			s := newTestSender(t, func(o *Options) { o.DKIM = keys })
			raw, err := s.Preview(t.Context(), testMessage())
			if err != nil {
				t.Fatal(err)
			}
			opts := &dkim.VerifyOptions{LookupTXT: lookupFor(t, keys)}
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != len(keys) {
				t.Fatalf("%d signatures, want %d", len(vs), len(keys))
			}
			for _, v := range vs {
				if v.Err != nil {
					t.Errorf("signature of %s: %v", v.Domain, v.Err)
				}
				if v.Domain != testDomain {
					t.Errorf("d= %s, want %s", v.Domain, testDomain)
				}
				checkSignedHeaders(t, v.HeaderKeys)
			}
			if strings.Contains(string(raw), " l=") {
				t.Error("signature has l=")
			}
			if !strings.Contains(string(raw), "c=relaxed/relaxed") {
				t.Error("signature is not relaxed/relaxed")
			}

			// One byte changed in the body breaks every signature.
			i := bytes.Index(raw, []byte("Hello Ann"))
			bad := bytes.Clone(raw)
			bad[i] = 'J'
			vs, err = dkim.VerifyWithOptions(bytes.NewReader(bad), opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				if v.Err == nil {
					t.Error("signature verifies after a body change")
				}
			}
		})
	}
}

func checkSignedHeaders(t *testing.T, keys []string) {
	t.Helper()
	count := map[string]int{}
	for _, k := range keys {
		count[strings.ToLower(k)]++
	}
	// From, Subject, List-Unsubscribe and List-Unsubscribe-Post occur once
	// and are signed twice (oversigned).
	want := map[string]int{
		"from": 2, "subject": 2, "list-unsubscribe": 2, "list-unsubscribe-post": 2,
		"to": 1, "date": 1, "message-id": 1, "mime-version": 1, "content-type": 1,
		"list-id": 1, "feedback-id": 1, "precedence": 1, "list-post": 1,
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("h= has %s %d times, want %d (h=%s)", k, count[k], n, strings.Join(keys, ":"))
		}
	}
}

func TestDKIMConfirmSigned(t *testing.T) {
	t.Parallel()
	keys := []crypto.Signer{testKey(t, "rsa")}
	s := newTestSender(t, func(o *Options) { o.DKIM = keys })
	m := testMessage()
	m.Kind, m.Campaign, m.ConfirmURL = "confirm", nil, "https://news.example.com/confirm/x"
	m.UnsubscribeURL = ""
	raw, err := s.Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookupFor(t, keys)})
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("verify = %v, %v", vs, err)
	}
	if !hasKey(vs[0].HeaderKeys, "Auto-Submitted") {
		t.Errorf("h= %v lacks Auto-Submitted", vs[0].HeaderKeys)
	}
}

func hasKey(keys []string, k string) bool {
	for _, x := range keys {
		if strings.EqualFold(x, k) {
			return true
		}
	}
	return false
}

func TestKeyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"rsa", "ed25519"} {
		k := testKey(t, kind)
		pemBytes, err := MarshalKey(k)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseKey(pemBytes)
		if err != nil {
			t.Fatal(err)
		}
		type eq interface{ Equal(crypto.PublicKey) bool }
		if !back.Public().(eq).Equal(k.Public()) {
			t.Errorf("%s key changed in the round trip", kind)
		}
	}
	if _, err := GenerateKey("dsa"); err == nil {
		t.Error("GenerateKey(dsa) succeeded")
	}
	if _, err := ParseKey([]byte("nope")); err == nil {
		t.Error("ParseKey(nope) succeeded")
	}
}

var txtLine = regexp.MustCompile(`^(\S+)\. IN TXT \( ((?:"[^"]*" ?)+)\)$`)

func TestDNSRecords(t *testing.T) {
	t.Parallel()
	keys := []crypto.Signer{testKey(t, "rsa"), testKey(t, "ed25519")}
	recs := DNSRecords("News.Example.com", "", "bulletin", keys, "smtp.relay.example")
	if len(recs) < 4 {
		t.Fatalf("DNSRecords = %q", recs)
	}
	for i, name := range []string{"bulletin._domainkey.news.example.com", "bulletin-ed25519._domainkey.news.example.com"} {
		m := txtLine.FindStringSubmatch(recs[i])
		if m == nil || m[1] != name {
			t.Fatalf("record %d = %q", i, recs[i])
		}
		var value strings.Builder
		for _, s := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[2], -1) {
			if len(s[1]) > 255 {
				t.Errorf("string of %d bytes", len(s[1]))
			}
			value.WriteString(s[1])
		}
		p := value.String()[strings.Index(value.String(), "p=")+2:]
		der, err := base64.StdEncoding.DecodeString(p)
		if err != nil {
			t.Fatal(err)
		}
		switch pub := keys[i].Public().(type) {
		case *rsa.PublicKey:
			got, err := x509.ParsePKIXPublicKey(der)
			if err != nil || !pub.Equal(got) || !strings.Contains(value.String(), "k=rsa") {
				t.Errorf("rsa record %q: %v", value.String(), err)
			}
		case ed25519.PublicKey:
			if !bytes.Equal(der, pub) || !strings.Contains(value.String(), "k=ed25519") {
				t.Errorf("ed25519 record %q is not the raw 32-byte key", value.String())
			}
		}
	}
	all := strings.Join(recs, "\n")
	for _, s := range []string{`news.example.com. IN TXT "v=spf1 a:smtp.relay.example mx ~all"`, `_dmarc.news.example.com. IN TXT "v=DMARC1; p=none"`} {
		if !strings.Contains(all, s) {
			t.Errorf("records lack %s:\n%s", s, all)
		}
	}
	// SPF goes where receivers look it up: on the envelope sender's
	// (bounce) domain; DKIM and DMARC stay on the From domain.
	recs = DNSRecords("news.example.com", "Bounce.Example.com.", "bulletin", keys[:1], "")
	all = strings.Join(recs, "\n")
	for _, s := range []string{`bounce.example.com. IN TXT "v=spf1 mx ~all"`, `bulletin._domainkey.news.example.com.`, `_dmarc.news.example.com. IN TXT`} {
		if !strings.Contains(all, s) {
			t.Errorf("records lack %s:\n%s", s, all)
		}
	}
	if strings.Contains(all, `news.example.com. IN TXT "v=spf1`) {
		t.Errorf("SPF on the From domain instead of the bounce domain:\n%s", all)
	}
}

func TestSignedHeadersUnit(t *testing.T) {
	t.Parallel()
	h := header{{name: "From"}, {name: "To"}, {name: "Subject"}, {name: "Auto-Submitted"}}
	got := strings.Join(signedHeaders(h), ":")
	want := "From:From:To:Subject:Subject:Date:Message-ID:MIME-Version:Content-Type:List-Id:List-Unsubscribe:List-Unsubscribe-Post:Auto-Submitted"
	if got != want {
		t.Errorf("signedHeaders = %s\nwant %s", got, want)
	}

}
