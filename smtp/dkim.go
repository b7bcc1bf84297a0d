package smtp

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DKIM signing (RFC 6376, RFC 8463). Every message Send builds is signed
// with every configured key, relaxed/relaxed, without l=, over the headers
// of DESIGN.md with From, Subject and the List-Unsubscribe pair oversigned.

// signedAlways are signed whether present or not: an absent one is signed
// as empty (RFC 6376 section 5.4), so it cannot be added in transit.
var signedAlways = []string{
	"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
	"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post",
}

// signedIfPresent are signed when the message has them.
var signedIfPresent = []string{"List-Post", "Precedence", "Feedback-ID", "Auto-Submitted", "Reply-To", "Cc"}

// oversigned are listed once more than they occur (RFC 6376 section 8.15).
var oversigned = map[string]bool{"From": true, "Subject": true, "List-Unsubscribe": true, "List-Unsubscribe-Post": true}

// signedHeaders returns the h= list for a message with header h: each
// field as often as it occurs, an absent always-signed one once, and an
// oversigned one once more than it occurs.
func signedHeaders(h header) []string {
	keys := make([]string, 0, 24)
	add := func(name string, n int) {
		for range n {
			keys = append(keys, name)
		}
	}
	for _, name := range signedAlways {
		n := h.count(name)
		switch {
		case oversigned[name]:
			n++
		case n == 0:
			n = 1
		}
		add(name, n)
	}
	for _, name := range signedIfPresent {
		add(name, h.count(name))
	}
	return keys
}

type dkimKey struct {
	key      crypto.Signer
	selector string
}

type signer struct {
	keys   []dkimKey
	domain string
	now    func() time.Time
}

func newSigner(keys []crypto.Signer, selector, domain string, now func() time.Time) (*signer, error) {
	s := &signer{domain: strings.ToLower(domain), now: now}
	sels := Selectors(selector, keys)
	for i, k := range keys {
		if _, err := keyType(k); err != nil {
			return nil, err
		}
		s.keys = append(s.keys, dkimKey{key: k, selector: sels[i]})
	}
	return s, nil
}

// sign returns one DKIM-Signature field per key, to be put before raw.
// fromDomain is the signing domain unless a fixed DKIMDomain was configured.
// The body is canonicalised and hashed once for all keys.
func (s *signer) sign(raw []byte, h header, fromDomain string) ([]byte, error) {
	if len(s.keys) == 0 {
		return nil, nil
	}
	d := s.domain
	if d == "" {
		d = strings.ToLower(fromDomain)
	}
	keys := signedHeaders(h)
	fields, body := splitMessage(raw)
	bh := relaxedBodyHash(body)
	now := s.now()
	var out []byte
	for _, k := range s.keys {
		f, err := signOne(fields, keys, bh, d, k, now)
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	return out, nil
}

// Selectors returns the selector of each key: the first key uses selector,
// each further one selector-ALGO (e.g. "bulletin-ed25519"), numbered if an
// algorithm repeats. Signing and DNSRecords agree through it.
func Selectors(selector string, keys []crypto.Signer) []string {
	out := make([]string, len(keys))
	seen := map[string]bool{selector: true}
	for i, k := range keys {
		if i == 0 {
			out[i] = selector
			continue
		}
		t, _ := keyType(k)
		s := selector + "-" + t
		for n := 2; seen[s]; n++ {
			s = selector + "-" + t + strconv.Itoa(n)
		}
		seen[s] = true
		out[i] = s
	}
	return out
}

func keyType(k crypto.Signer) (string, error) {
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 1024 {
			return "", fmt.Errorf("smtp: dkim: RSA key of %d bits is too short", pub.N.BitLen())
		}
		return "rsa", nil
	case ed25519.PublicKey:
		return "ed25519", nil
	}
	return "", fmt.Errorf("smtp: dkim: unsupported key type %T", k.Public())
}

// GenerateKey makes a DKIM key: "rsa" (2048 bits, the default when kind is
// empty) or "ed25519" (RFC 8463).
func GenerateKey(kind string) (crypto.Signer, error) {
	switch kind {
	case "", "rsa":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("smtp: unknown key type %q (want rsa or ed25519)", kind)
}

// MarshalKey encodes a key as PKCS#8 PEM.
func MarshalKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("smtp: marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey decodes a PKCS#8 PEM key made by MarshalKey.
func ParseKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("smtp: parse key: no PKCS#8 PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("smtp: parse key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("smtp: parse key: %T is not a signer", k)
	}
	if _, err := keyType(s); err != nil {
		return nil, err
	}
	return s, nil
}

// DNSRecords returns the zone-file lines to publish for domain, the From
// and signing domain: one DKIM TXT record per key (RFC 6376 section 3.6.1;
// Ed25519 p= is the raw 32-byte key, RFC 8463 section 4), split into
// strings of at most 255 bytes, then as guidance an SPF record on
// envelopeDomain, the envelope sender's (bounce) domain, where receivers
// look SPF up (RFC 7208 section 2.4; domain when empty), and a DMARC record
// on domain. relayHost, when known, goes into the SPF record.
func DNSRecords(domain, envelopeDomain, selector string, keys []crypto.Signer, relayHost string) []string {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	envelopeDomain = strings.TrimSuffix(strings.ToLower(envelopeDomain), ".")
	if envelopeDomain == "" {
		envelopeDomain = domain
	}
	var out []string
	for i, sel := range Selectors(selector, keys) {
		rec, err := dkimRecord(keys[i])
		if err != nil {
			out = append(out, "; "+err.Error())
			continue
		}
		out = append(out, sel+"._domainkey."+domain+". IN TXT ( "+txtStrings(rec)+" )")
	}
	spf := "v=spf1 mx ~all"
	if relayHost != "" && !isLoopbackHost(relayHost) {
		out = append(out, "; SPF: if your relay provider documents an include: mechanism, use it instead of a:"+relayHost)
		spf = "v=spf1 a:" + relayHost + " mx ~all"
	}
	out = append(out, envelopeDomain+". IN TXT "+txtStrings(spf))
	// No rua= address of this domain: its MX is Bulletin, which takes
	// bounces, not the aggregate reports.
	out = append(out, "; DMARC: add rua=mailto:ADDRESS (a mailbox you read, at another domain than "+domain+") to get aggregate reports")
	out = append(out, "_dmarc."+domain+". IN TXT "+txtStrings("v=DMARC1; p=none"))
	return out
}

func dkimRecord(k crypto.Signer) (string, error) {
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	}
	return "", fmt.Errorf("unsupported key type %T", k.Public())
}

// txtStrings quotes s as TXT character-strings of at most 255 bytes each
// (RFC 1035 section 3.3).
func txtStrings(s string) string {
	var b bytes.Buffer
	for len(s) > 0 {
		n := min(len(s), 255)
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(`"` + s[:n] + `"`)
		s = s[n:]
	}
	return b.String()
}
