package list

import (
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, identity string
		ok           bool
	}{
		{"Alice@Example.COM", "alice@example.com", true},
		{"  bob@example.org ", "bob@example.org", true},
		{"user+tag@Bücher.Example", "user+tag@xn--bcher-kva.example", true},
		{"first.last@sub.example.co.uk", "first.last@sub.example.co.uk", true},
		{"no-at-sign.example.com", "", false},
		{"@example.com", "", false},
		{"user@", "", false},
		{"user@localhost", "", false},
		{"a@b..com", "", false},
		{"evil@example.com\r\nBcc: x@y.z", "", false},
		{"two@at@example.com", "", false},
		{"Name <x@example.com>", "", false},
		{strings.Repeat("a", 65) + "@example.com", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		a, err := ParseAddress(tc.in)
		if (err == nil) != tc.ok || a.Identity != tc.identity {
			t.Errorf("ParseAddress(%q) = %q, %v; want %q, ok=%v", tc.in, a.Identity, err, tc.identity, tc.ok)
		}
	}
}

// TestParseAddressErrorShowsTyped: a refusal shows the address as typed,
// in quotes a person reads, not with Go's escapes.
func TestParseAddressErrorShowsTyped(t *testing.T) {
	t.Parallel()
	_, err := ParseAddress("nul\x01@example.org")
	if err == nil || !strings.Contains(err.Error(), "“nul�@example.org” is not a valid email address") || strings.Contains(err.Error(), `\x01`) {
		t.Errorf("error = %v", err)
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"a@example.com", "A@Bücher.example", "x@y", "\r\n@x.y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(a.Identity, "\r\n\x00") {
			t.Fatalf("identity %q has a line break", a.Identity)
		}
		// The identity is a fixed point: parsing it again gives itself.
		b, err := ParseAddress(a.Identity)
		if err != nil || b.Identity != a.Identity {
			t.Fatalf("ParseAddress(%q) = %q, %v; want a fixed point", a.Identity, b.Identity, err)
		}
	})
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") {
		t.Errorf("HashPassword = %q, want an argon2id PHC string", h)
	}
	if !CheckPassword(h, "correct horse battery") || CheckPassword(h, "wrong horse battery") || CheckPassword("garbage", "x") {
		t.Error("CheckPassword accepts a wrong password or refuses the right one")
	}
}
