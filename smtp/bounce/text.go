package bounce

import (
	"regexp"
	"strings"
)

// addrPat matches an email address as bounce texts print them, with the
// domain in A-labels or U-labels.
const addrPat = `[^\s<>()\[\]"',;:@]+@[\p{L}\p{M}\p{N}-]+(?:\.[\p{L}\p{M}\p{N}-]+)+`

var (
	// reAddrLine is a line holding only a recipient: qmail and Yahoo
	// "<a@b>:", Sendmail "<a@b>", Exim and Gmail "  a@b", Exchange
	// "a@b<mailto:a@b>" and "a@b on 3/3/2025 10:00 AM".
	reAddrLine = regexp.MustCompile(`^[<'"]?(` + addrPat + `)[>'"]?(?:\s*<mailto:[^>]*>)?(?:\s+on\s+.+)?\s*:?$`)
	// rePostfixLine is Postfix's "<a@b>: host x said: 550 ..." at column 0.
	rePostfixLine = regexp.MustCompile(`^<(` + addrPat + `)>(?:\s*\([^)]*\))?:\s*(\S.*)$`)
	// reInlineRcpt finds a recipient named inside a sentence.
	reInlineRcpt = regexp.MustCompile(`(?i)(?:your message to|could not be delivered to|delivery to|failed to deliver to|rcpt to:)\s*<?(` + addrPat + `)>?`)
	reAnyAddr    = regexp.MustCompile(addrPat)
	// reCodeLine marks a line carrying an SMTP reply or enhanced status.
	reCodeLine = regexp.MustCompile(`(?:^|[\s#'"(])[245]\d\d(?:[\s:-]|$)`)
	reDelay    = regexp.MustCompile(`(?i)\bdelay(?:ed)?\b|still being retried|transient non-fatal|has not yet been delivered|not been delivered yet|will (?:continue to |keep )?(?:re)?try|will be retried|warning only|could not send message for past`)
	rePerm     = regexp.MustCompile(`(?i)permanent`)
)

// textRcpt is a recipient found in a plain-text bounce.
type textRcpt struct {
	email string
	line  int // index of the address line, -1 if unknown
	diag  []string
}

// parseBounce fills rep from a non-standard, plain-text bounce. One in
// which no failure is recognised is TypeUnknown, with no recipients.
func parseBounce(m *message, rep *Report) {
	rep.Type = TypeBounce
	found := addTextRecipients(m, rep)
	switch {
	case !found && !m.bounceSender() && IsAutoReply(m.mailHeader()):
		rep.Type = TypeAutoReply // only the subject looked like a bounce
		rep.Recipients = nil
	case len(rep.Recipients) == 0:
		rep.Type = TypeUnknown
	}
}

// addTextRecipients adds the recipients of the human-readable text of m to
// rep: DSN fields written out as text if there are any, else the addresses
// the text names. If it names none but says why mail failed (a status, a
// reply code or a known reason), it adds one recipient with no address; if
// it says nothing of the kind, none. It reports whether any address was
// found.
func addTextRecipients(m *message, rep *Report) bool {
	if textDSN(m.text, rep) {
		return true
	}
	lines := strings.Split(m.text, "\n")
	own := m.ownAddrs()
	rs := scanRecipients(lines, own)
	if len(rs) == 0 {
		rs = listRecipients(toUTF8(m.header.Get("X-Failed-Recipients")), reAnyAddr)
	}
	if len(rs) == 0 {
		rs = listRecipients(m.text, reInlineRcpt)
	}
	if len(rs) == 0 {
		rs = codeLineRecipients(lines, own)
	}
	found := len(rs) > 0
	if !found {
		r := &textRcpt{line: -1}
		if !saysFailure(r.diagnostic(lines)) {
			return false
		}
		rs = []*textRcpt{r}
	}
	delay := m.isDelay()
	for _, r := range rs {
		if delay {
			rep.add(delayed(r.email, "", 0, r.diagnostic(lines)))
		} else {
			rep.add(failed(r.email, "", 0, r.diagnostic(lines)))
		}
	}
	return found
}

// textDSN adds the recipients of RFC 3464 per-recipient fields found in
// text, as a report whose MIME structure is broken shows them, and reports
// whether it found any with an address.
func textDSN(text string, rep *Report) bool {
	if !strings.Contains(strings.ToLower(text), "-recipient:") {
		return false
	}
	found := false
	for _, g := range dsnGroups([]byte(text)) {
		if rc, ok := dsnRecipient(g); ok && strings.Contains(rc.Email, "@") {
			rep.add(rc)
			found = true
		}
	}
	return found
}

// saysFailure reports whether a diagnostic found with no address says why
// mail failed: an enhanced status, a reply code or a reason Classify knows.
func saysFailure(diag string) bool {
	if enhancedStatus(diag) != "" || replyCode(diag) != 0 {
		return true
	}
	text := strings.ToLower(strings.Join(strings.Fields(diag), " "))
	for _, rs := range [][]rule{addressRules, textRules} {
		if _, ok := matchRules(rs, text, 0); ok {
			return true
		}
	}
	return false
}

// reRoleAddr is an address that a bounce text names for contact, not as
// the failed recipient.
var reRoleAddr = regexp.MustCompile(`(?i)^(?:postmaster|mailer-daemon|abuse|hostmaster|no-?reply)@`)

// codeLineRecipients finds, for bounces in no known layout (and in any
// language), the lines that name exactly one address and carry an SMTP reply
// code or enhanced status, like "Impossible de remettre à <a@b>: 550 5.1.1
// utilisateur inconnu". The rest of the line is the diagnostic.
func codeLineRecipients(lines []string, own map[string]bool) []*textRcpt {
	var rs []*textRcpt
	for i, line := range lines {
		if !reCodeLine.MatchString(line) && enhancedStatus(line) == "" {
			continue
		}
		locs := reAnyAddr.FindAllStringIndex(line, 3)
		if len(locs) != 1 {
			continue
		}
		email := line[locs[0][0]:locs[0][1]]
		if reRoleAddr.MatchString(email) {
			continue
		}
		if r := addRcpt(&rs, email, i, own); r != nil {
			r.diag = append(r.diag, strings.TrimLeft(line[locs[0][1]:], ">:;,) \t"))
		}
	}
	return rs
}

// scanRecipients finds address lines and the diagnostic lines that follow
// each, up to a blank line. Blocks for the same address are merged.
func scanRecipients(lines []string, own map[string]bool) []*textRcpt {
	var rs []*textRcpt
	var cur *textRcpt
	for i, line := range lines {
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			cur = nil
		case line[0] != ' ' && line[0] != '\t' && rePostfixLine.MatchString(t):
			sm := rePostfixLine.FindStringSubmatch(t)
			if cur = addRcpt(&rs, sm[1], i, own); cur != nil {
				cur.diag = append(cur.diag, sm[2])
			}
		case reAddrLine.MatchString(t):
			cur = addRcpt(&rs, reAddrLine.FindStringSubmatch(t)[1], i, own)
		case cur != nil && len(cur.diag) < 40:
			cur.diag = append(cur.diag, t)
		}
	}
	return rs
}

// addRcpt returns the entry for email, adding it if new. It returns nil for
// the report's own addresses and when the recipient limit is reached.
func addRcpt(rs *[]*textRcpt, email string, line int, own map[string]bool) *textRcpt {
	if own[strings.ToLower(email)] {
		return nil
	}
	for _, r := range *rs {
		if strings.EqualFold(r.email, email) {
			return r
		}
	}
	if len(*rs) >= maxRecipients {
		return nil
	}
	r := &textRcpt{email: email, line: line}
	*rs = append(*rs, r)
	return r
}

// listRecipients returns the distinct addresses that re finds in s (the
// first submatch if re has one).
func listRecipients(s string, re *regexp.Regexp) []*textRcpt {
	var rs []*textRcpt
	for _, sm := range re.FindAllStringSubmatch(s, maxRecipients) {
		addRcpt(&rs, sm[len(sm)-1], -1, nil)
	}
	return rs
}

// diagnostic returns the text explaining r's failure: its own block, or
// else the lines after its address (or the whole text), starting from the
// first line with an SMTP code if there is one.
func (r *textRcpt) diagnostic(lines []string) string {
	if len(r.diag) > 0 {
		return strings.Join(r.diag, " ")
	}
	ctx := context(lines, r.line+1)
	for i, l := range ctx {
		if reCodeLine.MatchString(l) || enhancedStatus(l) != "" {
			return strings.Join(ctx[i:min(len(ctx), i+6)], " ")
		}
	}
	return strings.Join(ctx, " ")
}

// context returns up to 12 non-blank lines from lines[from:], stopping at
// the next address line.
func context(lines []string, from int) []string {
	var out []string
	for _, l := range lines[min(from, len(lines)):] {
		t := strings.TrimSpace(l)
		if reAddrLine.MatchString(t) || len(out) >= 12 {
			break
		}
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

// ownAddrs returns the addresses of the report's own header (the bounce
// address, the reporting system), which are never failed recipients.
func (m *message) ownAddrs() map[string]bool {
	own := map[string]bool{}
	for _, n := range []string{"From", "To", "Cc", "Reply-To", "Sender", "Return-Path", "Delivered-To"} {
		for _, a := range reAnyAddr.FindAllString(m.header.Get(n), 16) {
			own[strings.ToLower(a)] = true
		}
	}
	return own
}

// isDelay reports whether a plain-text bounce is only a delay warning.
func (m *message) isDelay() bool {
	intro := truncate(m.text, 2000)
	s := decodeHeader(m.header.Get("Subject")) + "\n" + intro
	return reDelay.MatchString(s) && !rePerm.MatchString(intro)
}
