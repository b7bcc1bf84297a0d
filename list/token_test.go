package list

import (
	"strings"
	"testing"
	"time"
)

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	k := NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Unix(1_800_000_000, 0).UTC()
	cases := []Token{
		{Purpose: PurposeConfirm, Subscriber: 1, List: 2, Nonce: 0xfffffff1, Expires: now.Add(7 * 24 * time.Hour)},
		{Purpose: PurposeUnsubscribe, Subscriber: 1 << 40, List: 3, Campaign: 99},
		{Purpose: PurposeBounce, Subscriber: 123456, Campaign: 7},
	}
	for _, tc := range cases {
		s := k.Seal(tc)
		if s != strings.ToLower(s) {
			t.Errorf("Seal(%+v) = %q, want lower case", tc, s)
		}
		got, err := k.Open(tc.Purpose, strings.ToUpper(s), now)
		if err != nil {
			t.Fatalf("Open(%q) after case-folding: %v", s, err)
		}
		if got.Subscriber != tc.Subscriber || got.List != tc.List || got.Campaign != tc.Campaign || got.Nonce != tc.Nonce || !got.Expires.Equal(tc.Expires) {
			t.Errorf("Open(Seal(%+v)) = %+v", tc, got)
		}
	}
}

func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	k := NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	other := NewTokens([]byte("another secret of thirty-two b.."))
	now := time.Unix(1_800_000_000, 0).UTC()
	confirm := k.Seal(Token{Purpose: PurposeConfirm, Subscriber: 5, List: 1, Nonce: 9, Expires: now.Add(time.Hour)})
	flipped := []byte(confirm)
	flipped[3] ^= 1
	if flipped[3] < 'a' && flipped[3] > '7' || flipped[3] > 'z' {
		flipped[3] = 'a'
	}
	cases := []struct {
		name    string
		purpose Purpose
		tok     string
		at      time.Time
	}{
		{"wrong purpose", PurposeUnsubscribe, confirm, now},
		{"expired", PurposeConfirm, confirm, now.Add(2 * time.Hour)},
		{"forged", PurposeConfirm, string(flipped), now},
		{"other key", PurposeConfirm, other.Seal(Token{Purpose: PurposeConfirm, Subscriber: 5, List: 1}), now},
		{"garbage", PurposeConfirm, "not a token!", now},
		{"empty", PurposeConfirm, "", now},
		{"too long", PurposeConfirm, strings.Repeat("a", 200), now},
	}
	for _, tc := range cases {
		if _, err := k.Open(tc.purpose, tc.tok, tc.at); err == nil {
			t.Errorf("%s: Open(%q) = nil error, want refusal", tc.name, tc.tok)
		}
	}
	// A last character that differs only in the bits decoding drops spells
	// the same bytes: it is still an altered link.
	aliases := 0
	for sub := SubscriberID(1); sub < 64 && aliases == 0; sub++ {
		tok := k.Seal(Token{Purpose: PurposeConfirm, Subscriber: sub, List: 1, Nonce: 9})
		raw, _ := tokenEncoding.DecodeString(tok)
		for _, c := range "abcdefghijklmnopqrstuvwxyz234567" {
			alt := tok[:len(tok)-1] + string(c)
			if alt == tok {
				continue
			}
			if b, err := tokenEncoding.DecodeString(alt); err != nil || string(b) != string(raw) {
				continue
			}
			aliases++
			if _, err := k.Open(PurposeConfirm, alt, now); err == nil {
				t.Errorf("Open(%q), an alias of %q, = nil error, want refusal", alt, tok)
			}
		}
	}
	if aliases == 0 {
		t.Fatal("no token with unused trailing bits to alter")
	}
}

func TestTokenFitsLocalPart(t *testing.T) {
	t.Parallel()
	k := NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	tok := k.Seal(Token{Purpose: PurposeUnsubscribe, Subscriber: 1<<40 - 1, List: 1<<20 - 1, Campaign: 1<<24 - 1})
	if n := len("unsubscribe+" + tok); n > 64 {
		t.Errorf("mailto local part is %d octets, want ≤ 64", n)
	}
	tok = k.Seal(Token{Purpose: PurposeBounce, Subscriber: 1<<40 - 1, Campaign: 1<<24 - 1})
	if n := len("bounces+" + tok); n > 64 {
		t.Errorf("VERP local part is %d octets, want ≤ 64", n)
	}
}

func FuzzTokenOpen(f *testing.F) {
	k := NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	f.Add(k.Seal(Token{Purpose: PurposeConfirm, Subscriber: 1, List: 1, Nonce: 3}))
	f.Add("aaaa")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := k.Open(PurposeConfirm, s, time.Unix(0, 0))
		if err != nil {
			return
		}
		// Whatever opens must re-seal to a token that opens to the same content.
		again, err := k.Open(PurposeConfirm, k.Seal(tok), time.Unix(0, 0))
		if err != nil || again != tok {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
	})
}

// TestMessageIDOf: a campaign message's Message-ID is the same for every
// copy, differs between recipients, campaigns and instances, and sorts by
// campaign then recipient.
func TestMessageIDOf(t *testing.T) {
	t.Parallel()
	k := NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	other := NewTokens([]byte("fedcba9876543210fedcba9876543210"))
	a := k.MessageIDOf(7, 41)
	if a != k.MessageIDOf(7, 41) {
		t.Error("two copies of one message got different ids")
	}
	if a == k.MessageIDOf(7, 42) || a == k.MessageIDOf(8, 41) || a == other.MessageIDOf(7, 41) {
		t.Error("ids of different messages, or of another instance, are equal")
	}
	if !(a < k.MessageIDOf(7, 42) && k.MessageIDOf(7, 300) < k.MessageIDOf(8, 1)) {
		t.Error("ids do not sort by campaign, then recipient")
	}
	for _, r := range a {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'v') {
			t.Fatalf("id %q holds %q", a, r)
		}
	}
}
