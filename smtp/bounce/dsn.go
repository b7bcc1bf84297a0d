package bounce

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
)

// dsnTypes are the media types of the machine-readable part of a DSN
// (RFC 3464 section 2, RFC 6533 section 6.2).
var dsnTypes = []string{"message/delivery-status", "message/global-delivery-status"}

// parseDSN fills rep from the delivery-status parts of m. If there are no
// per-recipient groups at all (a truncated report, or one whose MIME
// structure is broken), it falls back to the plain-text heuristics on the
// human-readable part; if they find nothing either, the message is not
// recognisably a report: TypeUnknown, with no recipients.
func parseDSN(m *message, rep *Report) {
	rep.Type = TypeDSN
	groups := 0
	var text *textIndex
	for _, p := range m.parts {
		if p.mediaType != dsnTypes[0] && p.mediaType != dsnTypes[1] {
			continue
		}
		for _, g := range dsnGroups(p.body) {
			groups++
			if rc, ok := dsnRecipient(g); ok {
				if rc.Diagnostic == "" && rc.Email != "" {
					if text == nil {
						text = newTextIndex(m.text)
					}
					rc = text.withDiagnostic(rc)
				}
				rep.add(rc)
			}
		}
	}
	if groups == 0 {
		if addTextRecipients(m, rep); len(rep.Recipients) == 0 {
			rep.Type = TypeUnknown
		}
	}
}

// dsnGroups splits a delivery-status body into per-recipient field groups.
// Groups are separated by blank lines (RFC 3464 section 2.1); a recipient
// field that repeats within a group also starts a new one, for reports that
// omit the blank line.
func dsnGroups(b []byte) []fields {
	var out []fields
	for len(b) > 0 && len(out) < 2*maxRecipients {
		b = bytes.TrimLeft(b, " \t\n\r")
		fs, rest := readFields(b)
		if len(fs) == 0 {
			_, rest = cutLine(b) // not a field: skip the line
		}
		for _, g := range splitRecipients(fs) {
			if g.Get("Final-Recipient") != "" || g.Get("Original-Recipient") != "" || g.Get("Action") != "" {
				out = append(out, g)
			}
		}
		b = rest
	}
	return out
}

// splitRecipients cuts fs where Final-Recipient or Original-Recipient
// repeats.
func splitRecipients(fs fields) []fields {
	var out []fields
	start := 0
	for i, f := range fs {
		cur := fs[start:i]
		if (f.name == "Original-Recipient" || f.name == "Final-Recipient") && cur.Get(f.name) != "" {
			out = append(out, cur)
			start = i
		}
	}
	return append(out, fs[start:])
}

// dsnRecipient turns one per-recipient group into a Recipient. Delivered,
// relayed and expanded recipients are not failures: ok is false.
func dsnRecipient(g fields) (Recipient, bool) {
	email := dsnAddress(g.Get("Original-Recipient"))
	if !strings.Contains(email, "@") {
		email = dsnAddress(g.Get("Final-Recipient"))
	}
	status := enhancedStatus(g.Get("Status"))
	diag := stripType(g.Get("Diagnostic-Code"))
	code := replyCode(diag)
	switch dsnAction(g.Get("Action"), status) {
	case "failed":
		return failed(email, status, code, diag), true
	case "delayed":
		return delayed(email, status, code, diag), true
	}
	return Recipient{}, false
}

// dsnAction normalises an Action field (RFC 3464 section 2.3.3), inferring a
// missing or unknown one from the status class.
func dsnAction(action, status string) string {
	a, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(action)), " ")
	switch a {
	case "failed", "delayed", "delivered", "relayed", "expanded":
		return a
	}
	switch {
	case strings.HasPrefix(status, "4"):
		return "delayed"
	case strings.HasPrefix(status, "2"):
		return "delivered"
	}
	return "failed"
}

var reAddrType = regexp.MustCompile(`^\s*[A-Za-z0-9][A-Za-z0-9.+-]*\s*;`)

// stripType removes an RFC 3464 type prefix such as "smtp;" or "rfc822;".
func stripType(v string) string {
	if loc := reAddrType.FindStringIndex(v); loc != nil {
		v = v[loc[1]:]
	}
	return strings.TrimSpace(v)
}

// dsnAddress extracts the address of a Final-Recipient or
// Original-Recipient field, decoding RFC 6533 "\x{HEX}" escapes.
func dsnAddress(v string) string {
	utf8Type := strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "utf-8")
	v = stripType(toUTF8(v))
	v = strings.TrimSpace(strings.Trim(strings.TrimSpace(v), "<>"))
	if utf8Type {
		v = unescapeUTF8Addr(v)
	}
	if len(v) > 254 || strings.ContainsAny(v, " \t") {
		return truncate(strings.Fields(v + " x")[0], 254)
	}
	return v
}

var reXEscape = regexp.MustCompile(`\\x\{([0-9A-Fa-f]{1,6})\}`)

// unescapeUTF8Addr decodes the embedded-unicode escapes of RFC 6533
// section 3 (utf-8-addr-xtext and utf-8-addr-unitext).
func unescapeUTF8Addr(v string) string {
	return reXEscape.ReplaceAllStringFunc(v, func(s string) string {
		n, err := strconv.ParseUint(s[3:len(s)-1], 16, 32)
		if err != nil || n > 0x10FFFF {
			return s
		}
		return string(rune(n))
	})
}

// textIndex is the recipients of a report's human-readable text, found
// once.
type textIndex struct {
	lines []string
	rcpts []*textRcpt
}

func newTextIndex(text string) *textIndex {
	lines := strings.Split(text, "\n")
	return &textIndex{lines: lines, rcpts: scanRecipients(lines, nil)}
}

// withDiagnostic fills a missing Diagnostic-Code from the recipient's block
// in the human-readable part, as Exchange 2003 reports need.
func (x *textIndex) withDiagnostic(rc Recipient) Recipient {
	for _, r := range x.rcpts {
		if strings.EqualFold(r.email, rc.Email) {
			d := failed(rc.Email, rc.Status, rc.Code, r.diagnostic(x.lines))
			d.Action = rc.Action
			if rc.Action == "delayed" {
				d.Kind, d.Counts = KindSoft, false
			}
			return d
		}
	}
	return rc
}
