package smtp

import (
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/bulletin/bulletin/list"
)

// RFC 5322 section 2.1.1 line length limits.
const (
	softLineLen = 78
	hardLineLen = 998
)

// errHeader is wrapped by every refusal of a header value; it is a
// list.ErrInvalid. The refusals name the header, never its value: they end
// up in the logs, which carry no addresses or tokens.
var errHeader = fmt.Errorf("smtp: header value %w", list.ErrInvalid)

// errSMTPUTF8 is wrapped by the refusal of an address with a non-ASCII
// local part: this sender does not speak SMTPUTF8 (RFC 6531).
var errSMTPUTF8 = errors.New("SMTPUTF8 is not supported")

// field is one header field; value is already encoded (RFC 2047) but not
// folded.
type field struct {
	name  string
	value string
	// list marks a comma-separated list whose items may be folded apart.
	list bool
}

// header is an ordered list of header fields.
type header []field

func (h *header) add(name, value string) { *h = append(*h, field{name: name, value: value}) }

// count returns how many fields are named name (case-insensitively).
func (h header) count(name string) int {
	n := 0
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			n++
		}
	}
	return n
}

// get returns the first value of the named field.
func (h header) get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

// writeTo appends the folded header block (without the empty line) to b.
func (h header) appendTo(b []byte) ([]byte, error) {
	for _, f := range h {
		var err error
		if b, err = appendField(b, f); err != nil {
			return b, err
		}
	}
	return b, nil
}

// checkValue refuses any header input that could break out of its field: a
// CR, LF or NUL anywhere (RFC 5322 section 2.2), any other control character
// but TAB, and invalid UTF-8.
func checkValue(what, s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r' || c == '\n' || c == 0:
			return fmt.Errorf("%w: %s contains a line break or NUL", errHeader, what)
		case c < ' ' && c != '\t' || c == 0x7f:
			return fmt.Errorf("%w: %s contains a control character", errHeader, what)
		}
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", errHeader, what)
	}
	return nil
}

// encodeText encodes unstructured text (RFC 2047 section 5(1)): as is when
// printable ASCII, else as UTF-8 Q encoded words. ASCII that a decoder
// could mistake for an encoded word ("=?"), or with a word too long to fold
// under 998 characters, is encoded too.
func encodeText(s string) string {
	if strings.Contains(s, "=?") || longestWord(s) > hardLineLen-100 {
		return qEncodeAll(s)
	}
	return mime.QEncoding.Encode("utf-8", s)
}

func longestWord(s string) int {
	n, longest := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			n = 0
			continue
		}
		n++
		longest = max(longest, n)
	}
	return longest
}

// qEncodeAll encodes all of s as Q encoded words of at most 75 characters
// (RFC 2047 sections 2 and 4.2), never splitting a character.
func qEncodeAll(s string) string {
	const hex = "0123456789ABCDEF"
	const open, end = "=?utf-8?q?", "?="
	var b strings.Builder
	b.WriteString(open)
	n := len(open)
	for _, r := range s {
		var enc string
		switch {
		case r == ' ':
			enc = "_"
		case r < utf8.RuneSelf && r > ' ' && r <= '~' && !strings.ContainsRune("=?_", r):
			enc = string(r)
		default:
			var buf [utf8.UTFMax]byte
			for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
				enc += "=" + string(hex[c>>4]) + string(hex[c&15])
			}
		}
		if n+len(enc)+len(end) > 75 {
			b.WriteString(end + " " + open)
			n = len(open)
		}
		b.WriteString(enc)
		n += len(enc)
	}
	b.WriteString(end)
	return b.String()
}

// encodePhrase encodes a display name or List-Id phrase (RFC 5322 section
// 3.2.5): atoms as is, other ASCII as a quoted string, non-ASCII as encoded
// words (RFC 2047 section 5(3)).
func encodePhrase(s string) string {
	ascii, atoms := true, true
	for _, r := range s {
		switch {
		case r >= utf8.RuneSelf:
			ascii = false
		case r == ' ' || isAtext(r):
		default:
			atoms = false
		}
	}
	switch {
	case !ascii && strings.ContainsAny(s, "\"#$%&'(),.:;<>@[]^`{|}~\\"):
		return mime.BEncoding.Encode("utf-8", s)
	case !ascii:
		return mime.QEncoding.Encode("utf-8", s)
	case atoms && s == strings.TrimSpace(s) && !strings.Contains(s, "  ") && !strings.Contains(s, "=?"):
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

func isAtext(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

// address is a checked mailbox: an ASCII addr-spec (domain in A-labels)
// and a display name.
type address struct {
	Name string
	Addr string
}

// parseMailbox parses "Name <addr>" or a bare address.
func parseMailbox(what, s string) (address, error) {
	if err := checkValue(what, s); err != nil {
		return address{}, err
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return address{}, fmt.Errorf("%w: %s: %v", errHeader, what, err)
	}
	return newAddress(what, a.Name, a.Address)
}

// newAddress checks an address and display name given separately.
func newAddress(what, name, addr string) (address, error) {
	if err := checkValue(what+" name", name); err != nil {
		return address{}, err
	}
	if err := checkValue(what, addr); err != nil {
		return address{}, err
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, " \t<>\"(),;:[]\\") {
		return address{}, fmt.Errorf("%w: %s is not a plain address", errHeader, what)
	}
	local, domain := addr[:at], addr[at+1:]
	for i := 0; i < len(local); i++ {
		if local[i] >= utf8.RuneSelf {
			return address{}, fmt.Errorf("%w: %s has a non-ASCII local part (%w)", errHeader, what, errSMTPUTF8)
		}
	}
	d, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return address{}, fmt.Errorf("%w: %s domain %q: %v", errHeader, what, domain, err)
	}
	if len(local) > 64 {
		return address{}, fmt.Errorf("%w: %s local part longer than 64 octets", errHeader, what)
	}
	return address{Name: strings.TrimSpace(name), Addr: local + "@" + d}, nil
}

// Domain returns the address's domain.
func (a address) Domain() string { return a.Addr[strings.LastIndexByte(a.Addr, '@')+1:] }

// String formats the mailbox for a header (RFC 5322 section 3.4).
func (a address) String() string {
	if a.Name == "" {
		return a.Addr
	}
	return encodePhrase(a.Name) + " <" + a.Addr + ">"
}

// checkURL refuses a URL that could not stand inside <> in a header.
func checkURL(what, u string) error {
	if err := checkValue(what, u); err != nil {
		return err
	}
	if strings.ContainsAny(u, " \t<>\"") {
		return fmt.Errorf("%w: %s contains a space, quote or angle bracket", errHeader, what)
	}
	for i := 0; i < len(u); i++ {
		if u[i] >= utf8.RuneSelf {
			return fmt.Errorf("%w: %s is not ASCII", errHeader, what)
		}
	}
	return nil
}

// appendField folds one field (RFC 5322 section 2.2.3): lines longer than 78
// characters are broken before whitespace (or, in a list, after a comma);
// a line that cannot be broken under 998 characters is an error. When the
// first word does not fit beside the name but fits on a line of its own
// (an encoded word is up to 75 characters, RFC 2047 section 2), the field
// is broken right after the colon.
func appendField(b []byte, f field) ([]byte, error) {
	line := f.name + ": " + f.value
	start := len(f.name) + 2
	if len(line) > softLineLen {
		cut := foldPoint(line, start, f.list)
		if cut == 0 {
			cut = len(line)
		}
		if cut > softLineLen && 1+cut-start <= softLineLen {
			b = append(b, f.name...)
			b = append(b, ":\r\n"...)
			line = line[start-1:]
			start = 1
		}
	}
	for len(line) > softLineLen {
		cut := foldPoint(line, start, f.list)
		if cut <= 0 {
			break
		}
		if cut > hardLineLen {
			return b, fmt.Errorf("%w: %s has a word longer than %d characters", errHeader, f.name, hardLineLen)
		}
		b = append(b, line[:cut]...)
		b = append(b, "\r\n"...)
		rest := line[cut:]
		if f.list {
			rest = strings.TrimLeft(rest, " ")
			rest = " " + rest
		}
		line = rest
		start = 1
	}
	if len(line) > hardLineLen {
		return b, fmt.Errorf("%w: %s has a word longer than %d characters", errHeader, f.name, hardLineLen)
	}
	b = append(b, line...)
	b = append(b, "\r\n"...)
	return b, nil
}

// foldPoint returns where to break line: the last whitespace at or before
// column 78, else the first one after it; 0 when there is none. Index 0 is
// never a fold point (a continuation line must not be empty), nor is
// anything before start (the field name, or a continuation's leading space).
func foldPoint(line string, start int, list bool) int {
	best, first := 0, 0
	for i := start; i < len(line); i++ {
		ok := false
		if list {
			ok = line[i] == ' ' && line[i-1] == ','
		} else {
			ok = (line[i] == ' ' || line[i] == '\t') && i > start && line[i-1] != ' ' && line[i-1] != '\t'
		}
		if !ok || i+1 >= len(line) {
			continue
		}
		if strings.TrimLeft(line[i:], " \t") == "" {
			break
		}
		if i <= softLineLen {
			best = i
		} else {
			first = i
			break
		}
	}
	if best > 0 {
		return best
	}
	return first
}
