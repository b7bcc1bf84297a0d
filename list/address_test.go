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

// TestParseAddressSaysWhyTooLong: an over-long address is refused with
// the limit it breaks, the part before @ first (the tester's 400-character
// local part got a bare "is not a valid email address"), counted as RFC
// 5321 counts it: in octets, named as characters when all are ASCII.
func TestParseAddressSaysWhyTooLong(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{strings.Repeat("a", 400) + "@example.com", "the part before @ is 400 characters long; at most 64 are allowed"},
		{strings.Repeat("a", 65) + "@example.com", "the part before @ is 65 characters long; at most 64 are allowed"},
		{strings.Repeat("é", 33) + "@example.com", "the part before @ is 66 bytes long in UTF-8; at most 64 are allowed"},
		{"ann@" + strings.Repeat("a", 250) + ".com", "the address is 258 characters long; at most 254 are allowed"},
		{strings.Repeat("b", 300), "the address is 300 characters long; at most 254 are allowed"},
	}
	for _, c := range cases {
		_, err := ParseAddress(c.in)
		if err == nil || err.Error() != ErrInvalid.Error()+": "+c.want {
			t.Errorf("ParseAddress(%.20q…) = %v, want %q", c.in, err, c.want)
		}
	}
	if _, err := ParseAddress(strings.Repeat("a", 64) + "@" + strings.Repeat("d", 180) + ".example"); err != nil {
		t.Errorf("an address at the limits: %v", err)
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
