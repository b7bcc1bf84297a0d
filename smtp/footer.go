package smtp

import (
	"bytes"
	"html"
	"strings"
)

// The footer rule (DESIGN.md, "Every campaign message"): both parts carry
// the postal address and a visible unsubscribe link, and an advertisement
// says so. The layouts put them there; when a layout does not, the builder
// appends what is missing.

const adNotice = "This is an advertisement."

// Names of the footer pieces, as reported in rendered.inserted.
const (
	pieceUnsubscribe = "unsubscribe link"
	piecePostal      = "postal address"
	pieceAd          = "advertisement notice"
	piecePrivacy     = "privacy link"
)

// missing returns the footer pieces absent from a rendered part; escape
// says how the part spells text (HTML or not).
func missing(b []byte, d *Data, escape func(string) string) []string {
	var out []string
	if d.Advertisement && !containsFold(b, "advertisement") {
		out = append(out, pieceAd)
	}
	if u := d.UnsubscribeURL; u != "" && !containsEither(b, u, escape(u)) {
		out = append(out, pieceUnsubscribe)
	}
	if u := d.PrivacyURL; u != "" && !containsEither(b, u, escape(u)) {
		out = append(out, piecePrivacy)
	}
	if d.PostalAddress != "" && !containsLines(b, d.PostalAddress, escape) {
		out = append(out, piecePostal)
	}
	return out
}

// footerTail is where a footer is looked for first: the end of the part,
// where layouts put it, so that a 20 KB body is not searched every time.
const footerTail = 4 << 10

// contains reports whether s is in b, looking at the tail first.
func contains(b []byte, s string) bool {
	if len(b) > footerTail && bytes.Contains(b[len(b)-footerTail:], []byte(s)) {
		return true
	}
	return bytes.Contains(b, []byte(s))
}

func containsEither(b []byte, s, t string) bool {
	return contains(b, s) || s != t && contains(b, t)
}

func containsFold(b []byte, s string) bool {
	return bytes.Contains(bytes.ToLower(b), []byte(s))
}

// containsLines reports whether every line of the postal address is in b.
func containsLines(b []byte, addr string, escape func(string) string) bool {
	for line := range strings.SplitSeq(strings.ReplaceAll(addr, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !contains(b, escape(line)) {
			return false
		}
	}
	return true
}

func has(pieces []string, p string) bool {
	for _, q := range pieces {
		if q == p {
			return true
		}
	}
	return false
}

func identity(s string) string { return s }

func htmlEscape(s string) string { return html.EscapeString(s) }

// ensureHTMLFooter returns the HTML part with any missing footer piece
// inserted before </body>.
func ensureHTMLFooter(b []byte, d *Data, inserted *[]string) []byte {
	miss := missing(b, d, html.EscapeString)
	if len(miss) == 0 {
		return b
	}
	*inserted = append(*inserted, miss...)
	var f strings.Builder
	f.WriteString("\n<div style=\"font-size:12px;color:#52525b;\">\n")
	if has(miss, pieceAd) {
		f.WriteString("<p><strong>" + adNotice + "</strong></p>\n")
	}
	if has(miss, pieceUnsubscribe) {
		f.WriteString("<p><a href=\"" + html.EscapeString(d.UnsubscribeURL) + "\">Unsubscribe</a></p>\n")
	}
	if has(miss, piecePrivacy) {
		f.WriteString("<p><a href=\"" + html.EscapeString(d.PrivacyURL) + "\">Privacy policy</a></p>\n")
	}
	if has(miss, piecePostal) {
		f.WriteString("<p>" + string(lines(d.PostalAddress)) + "</p>\n")
	}
	f.WriteString("</div>\n")
	i := bytes.LastIndex(bytes.ToLower(b), []byte("</body>"))
	if i < 0 {
		i = len(b)
	}
	out := make([]byte, 0, len(b)+f.Len())
	out = append(out, b[:i]...)
	out = append(out, f.String()...)
	return append(out, b[i:]...)
}

// ensureTextFooter returns the text part with any missing footer piece
// appended.
func ensureTextFooter(b []byte, d *Data, inserted *[]string) []byte {
	miss := missing(b, d, identity)
	if len(miss) == 0 {
		return b
	}
	for _, p := range miss {
		if !has(*inserted, p) {
			*inserted = append(*inserted, p)
		}
	}
	out := bytes.TrimRight(b, "\r\n ")
	out = append(out, "\n\n-- \n"...)
	if has(miss, pieceAd) {
		out = append(out, adNotice+"\n"...)
	}
	if has(miss, pieceUnsubscribe) {
		out = append(out, "Unsubscribe: "+d.UnsubscribeURL+"\n"...)
	}
	if has(miss, piecePrivacy) {
		out = append(out, "Privacy policy: "+d.PrivacyURL+"\n"...)
	}
	if has(miss, piecePostal) {
		out = append(out, strings.TrimSpace(d.PostalAddress)+"\n"...)
	}
	return out
}
