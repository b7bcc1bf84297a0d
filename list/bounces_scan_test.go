package list

import (
	"fmt"
	"strings"
	"testing"
)

func TestScanTokens(t *testing.T) {
	t.Parallel()
	tok := strings.Repeat("abcdefgh", 4)
	cases := []struct {
		in, prefix string
		want       []string
	}{
		{"Return-Path: <bounces+" + tok + "@b.example.org>", "bounces+", []string{tok}},
		{"for <BOUNCES+" + strings.ToUpper(tok) + "@B.EXAMPLE.ORG>", "bounces+", []string{tok}},
		{"bounces+short@example.org", "bounces+", nil},
		{"bounces+" + strings.Repeat("a", 200) + "@x", "bounces+", nil},
		{"xbounces+" + tok + "+bounces+" + tok + "2@", "bounces+", []string{tok, tok + "2"}},
		{"<https://x/unsubscribe/" + tok + ">, <mailto:unsubscribe+" + tok + "@x>", "/unsubscribe/", []string{tok}},
		{"bounces", "bounces+", nil},
		{"", "bounces+", nil},
		{strings.Repeat("bounces+"+tok+" ", 20), "bounces+", []string{tok, tok, tok, tok, tok, tok, tok, tok}},
	}
	for _, tc := range cases {
		if got := scanTokens([]byte(tc.in), tc.prefix); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("scanTokens(%.60q, %q) = %v, want %v", tc.in, tc.prefix, got, tc.want)
		}
	}
}

func FuzzScanTokens(f *testing.F) {
	f.Add([]byte("bounces+abcdefghijklmnopqrstuvwxyz@x"), "bounces+")
	f.Add([]byte("/unsubscribe/abcdefghijklmnopqrstuvwxyz"), "/unsubscribe/")
	f.Fuzz(func(t *testing.T, b []byte, prefix string) {
		if prefix == "" {
			return
		}
		got := scanTokens(b, prefix)
		if len(got) > maxProofTokens {
			t.Fatalf("%d tokens, limit %d", len(got), maxProofTokens)
		}
		for _, tok := range got {
			if len(tok) < minTokenLen || len(tok) > maxTokenLen || tok != strings.ToLower(tok) {
				t.Fatalf("bad token %q", tok)
			}
			if !strings.Contains(strings.ToLower(string(b)), strings.ToLower(prefix)+tok) {
				t.Fatalf("token %q not in input after %q", tok, prefix)
			}
		}
	})
}
