package list

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// MaxAddressLen is the longest address accepted (RFC 5321 §4.5.3.1.3).
const MaxAddressLen = 254

// Address is a parsed e-mail address.
type Address struct {
	// Display is the address as given, trimmed.
	Display string
	// Identity is the whole address lower-cased with the domain in IDNA
	// A-labels: same identity, same subscriber.
	Identity string
	// Domain is the A-label domain.
	Domain string
}

// NeedsSMTPUTF8 reports whether the address has a non-ASCII local part,
// which only a relay that offers SMTPUTF8 (RFC 6531) can take.
func (a Address) NeedsSMTPUTF8() bool {
	return !isASCII(a.Display[:max(strings.LastIndexByte(a.Display, '@'), 0)])
}

var idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false))

// ParseAddress checks the syntax of a bare address (no display name) and
// computes its identity.
func ParseAddress(s string) (Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Address{}, fmt.Errorf("%w: email address is empty", ErrInvalid)
	}
	if strings.ContainsAny(s, "\r\n") {
		// Pasted with a line break, or a header injection: either way,
		// quoting it would show "�" where the break was.
		return Address{}, fmt.Errorf("%w: an email address must be on one line", ErrInvalid)
	}
	at := strings.LastIndexByte(s, '@')
	// RFC 5321 §4.5.3.1.1 and §4.5.3.1.3 count octets: 64 before the @,
	// 254 in all. The part before the @ is the likelier culprit, and its
	// limit the one to name.
	if at > 64 {
		return Address{}, fmt.Errorf("%w: the part before @ %s; at most 64 are allowed", ErrInvalid, octets(s[:at]))
	}
	if len(s) > MaxAddressLen {
		return Address{}, fmt.Errorf("%w: the address %s; at most %d are allowed", ErrInvalid, octets(s), MaxAddressLen)
	}
	if !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\x00<> ,;\t") {
		return Address{}, fmt.Errorf("%w: %s is not a valid email address", ErrInvalid, shown(s))
	}
	if at <= 0 || at == len(s)-1 {
		return Address{}, fmt.Errorf("%w: %s is not a valid email address", ErrInvalid, shown(s))
	}
	local, domain := s[:at], s[at+1:]
	ascii, err := idnaProfile.ToASCII(strings.TrimSuffix(domain, "."))
	if err != nil || !strings.Contains(ascii, ".") || strings.HasPrefix(ascii, ".") || strings.Contains(ascii, "..") {
		return Address{}, fmt.Errorf("%w: %s has no valid domain", ErrInvalid, shown(s))
	}
	if _, err := mail.ParseAddress(asciiLocal(local) + "@" + ascii); err != nil {
		return Address{}, fmt.Errorf("%w: %s is not a valid email address", ErrInvalid, shown(s))
	}
	ascii = strings.ToLower(ascii)
	return Address{Display: s, Identity: strings.ToLower(local) + "@" + ascii, Domain: ascii}, nil
}

// octets says how long s is for a limit in octets: in characters when
// they are ASCII (one octet each), else in bytes, as UTF-8 counts them.
func octets(s string) string {
	if !isASCII(s) {
		return fmt.Sprintf("is %d bytes long in UTF-8", len(s))
	}
	return fmt.Sprintf("is %d characters long", len(s))
}

// shown quotes a refused address for the person who typed it: in
// typographic quotes, with control characters and invalid UTF-8 as "�",
// rather than Go's escapes ("nul\x01@example.org").
func shown(s string) string {
	return "“" + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '�'
		}
		return r
	}, Truncate(s, 200)) + "”"
}

// asciiLocal replaces non-ASCII runes so that net/mail can judge the rest of
// the syntax; SMTPUTF8 local parts are allowed.
func asciiLocal(local string) string {
	return strings.Map(func(r rune) rune {
		if r >= utf8.RuneSelf {
			return 'x'
		}
		return r
	}, local)
}
