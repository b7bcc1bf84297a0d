package smtp

import (
	"bytes"
	"crypto"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// msgauthSign signs raw with go-msgauth as Bulletin signs: relaxed/relaxed,
// the h= list of signedHeaders. It returns the field and the second it was
// made in (go-msgauth takes t= from its own clock).
func msgauthSign(t testing.TB, raw []byte, h header, k crypto.Signer) (string, time.Time) {
	t.Helper()
	before := time.Now().Truncate(time.Second)
	ds, err := dkim.NewSigner(&dkim.SignOptions{
		Domain: testDomain, Selector: "bulletin", Signer: k,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: signedHeaders(h),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	if after := time.Now().Truncate(time.Second); !after.Equal(before) {
		return "", time.Time{} // a second passed: the caller tries again
	}
	return ds.Signature(), before
}

// ownSign signs raw with Bulletin's signer at now.
func ownSign(t testing.TB, raw []byte, h header, k crypto.Signer, now time.Time) string {
	t.Helper()
	s, err := newSigner([]crypto.Signer{k}, "bulletin", testDomain, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.sign(raw, h, "")
	if err != nil {
		t.Fatal(err)
	}
	return string(sig)
}

// sameAsMsgauth checks that both signers make the same tags for raw, b=
// aside, that go-msgauth's verifier accepts Bulletin's field, and that no
// line of it is longer than 78 characters. The b= values differ: Bulletin
// folds h=, and the folding is part of what is signed.
func sameAsMsgauth(t testing.TB, raw []byte, h header, kind string) {
	t.Helper()
	k := testKey(t, kind)
	var want string
	var at time.Time
	for want == "" {
		want, at = msgauthSign(t, raw, h, k)
	}
	got := ownSign(t, raw, h, k, at)
	gotTags, wantTags := sigTags(t, got), sigTags(t, want)
	delete(gotTags, "b")
	delete(wantTags, "b")
	if !maps.Equal(gotTags, wantTags) {
		t.Fatalf("%s signature differs from go-msgauth's:\n got %q\nwant %q", kind, got, want)
	}
	for _, line := range strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n") {
		if len(line) > softLineLen {
			t.Fatalf("%s signature has a line of %d characters: %q", kind, len(line), line)
		}
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(append([]byte(got), raw...)), &dkim.VerifyOptions{LookupTXT: lookupFor(t, []crypto.Signer{k})})
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("go-msgauth does not verify it: %v %+v", err, vs)
	}
}

// sigTags returns the tags of a DKIM-Signature field with all white space
// taken out of their values, as a verifier reads them (RFC 6376 section
// 3.2).
func sigTags(t testing.TB, field string) map[string]string {
	t.Helper()
	_, value, _ := strings.Cut(field, ":")
	tags := map[string]string{}
	for _, tv := range strings.Split(value, ";") {
		if strings.TrimSpace(tv) == "" {
			continue
		}
		k, v, ok := strings.Cut(tv, "=")
		if !ok {
			t.Fatalf("tag %q without = in %q", tv, field)
		}
		tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
	}
	return tags
}

// TestSignMatchesGoMsgauth: for built messages and hand-made bodies with
// the cases relaxed canonicalisation is about, the DKIM-Signature field has
// the tags go-msgauth makes, and go-msgauth verifies it.
func TestSignMatchesGoMsgauth(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	built, err := s.Preview(t.Context(), benchMessage())
	if err != nil {
		t.Fatal(err)
	}
	head := "From: Ann <ann@" + testDomain + ">\r\nTo: bob@example.org\r\nSubject: folded\r\n  subject line\r\nSubject: second\r\nDate: Sat, 14 Mar 2026 09:26:53 +0100\r\nList-Unsubscribe: <https://x>\r\nMessage-ID:  <a@b>  \r\n\r\n"
	bodies := []string{
		"",
		"\r\n",
		"\r\n\r\n\r\n",
		"one line without end",
		"trailing spaces   \r\nand\ttabs\t \tinside\r\n\r\n\r\n",
		"  leading space\r\n \t \r\nlast\r\n",
		"lone LF\nline\n\n",
		"lone CR\rhere \r\n",
		"ends with CR\r",
		"mixed \r\r\n\n \t\r\n",
		strings.Repeat("a long line of text ", 200) + "\r\n",
	}
	for _, kind := range []string{"ed25519", "rsa"} {
		sameAsMsgauth(t, built, parsedHeader(built), kind)
		for _, b := range bodies {
			raw := []byte(head + b)
			sameAsMsgauth(t, raw, parsedHeader(raw), kind)
		}
	}
}

// parsedHeader is raw's header as the signer is given it.
func parsedHeader(raw []byte) header {
	fields, _ := splitMessage(raw)
	var h header
	for _, f := range fields {
		k, v, _ := strings.Cut(f, ":")
		h = append(h, field{name: strings.TrimSpace(k), value: strings.TrimSpace(v)})
	}
	return h
}

// FuzzSignMatchesGoMsgauth: any body, and any extra header value, gives
// go-msgauth's Ed25519 tags and a signature it verifies.
func FuzzSignMatchesGoMsgauth(f *testing.F) {
	f.Add("x", []byte("hello  world \r\n\r\n"))
	f.Add("a\r\n b", []byte("\r\r\n\n\t"))
	f.Fuzz(func(t *testing.T, subject string, body []byte) {
		if strings.ContainsAny(subject, "\r\n") || strings.Contains(subject, ":") {
			// A value with its own line breaks is a different header; the
			// builder refuses such values anyway (FuzzHeader).
			subject = strings.NewReplacer("\r", " ", "\n", " ", ":", " ").Replace(subject)
		}
		raw := []byte("From: a@" + testDomain + "\r\nSubject: " + subject + "\r\n\r\n")
		raw = append(raw, body...)
		sameAsMsgauth(t, raw, parsedHeader(raw), "ed25519")
	})
}

// TestSigFormatAllocs: the field is written into one buffer, sized once:
// it is made twice per key for every message sent. Not parallel:
// AllocsPerRun counts the allocations of every goroutine.
func TestSigFormatAllocs(t *testing.T) {
	p := sigParams{algo: "rsa-sha256", bh: strings.Repeat("b", 44), domain: testDomain, selector: "bulletin",
		t: "1773476813", h: strings.Join(signedHeaders(nil), ":"), b: strings.Repeat("s", 344)}
	if n := testing.AllocsPerRun(100, func() { _ = p.format() }); n > 1 {
		t.Errorf("format makes %v allocations, want 1", n)
	}
}
