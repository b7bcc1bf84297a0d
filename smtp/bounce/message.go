package bounce

import (
	"bytes"
	"fmt"
	"html"
	"net/mail"
	"regexp"
	"strings"
)

// message is an inbound message taken apart for the parsers.
type message struct {
	header     fields
	parts      []part
	reportType string // report-type parameter of a multipart/report, lower case
	text       string // human-readable text, before any quoted copy
	quoted     string // quoted copy of the original in the text, if any
}

// wellKnown are header fields of which a message has at least one.
var wellKnown = []string{"From", "To", "Subject", "Date", "Message-Id", "Content-Type",
	"Received", "Return-Path", "Mime-Version", "Sender", "Delivered-To"}

// newMessage splits data into header and MIME leaves and finds the text.
func newMessage(data []byte) (*message, error) {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	if bytes.HasPrefix(data, []byte("From ")) { // mbox separator
		_, data = cutLine(data)
	}
	h, body := readFields(data)
	if !hasAny(h, wellKnown) {
		return nil, fmt.Errorf("%w: no RFC 5322 header fields", ErrMalformed)
	}
	w := &walker{budget: 2 * MaxSize}
	w.walk(h, body, 0)
	m := &message{header: h, parts: w.parts, reportType: w.reportType}
	m.text, m.quoted = splitQuoted(humanText(w.parts))
	return m, nil
}

func hasAny(h fields, names []string) bool {
	for _, n := range names {
		if h.Get(n) != "" {
			return true
		}
	}
	return false
}

// mailHeader returns the top-level header as a mail.Header.
func (m *message) mailHeader() mail.Header { return m.header.mailHeader() }

// find returns the first leaf of one of the media types, or nil.
func (m *message) find(types ...string) *part {
	for i := range m.parts {
		for _, t := range types {
			if m.parts[i].mediaType == t {
				return &m.parts[i]
			}
		}
	}
	return nil
}

// isARF reports whether m is an RFC 5965 feedback report.
func (m *message) isARF() bool {
	return m.reportType == "feedback-report" || m.find("message/feedback-report") != nil
}

// isDSN reports whether m is an RFC 3464 (or RFC 6533) DSN.
func (m *message) isDSN() bool {
	return m.reportType == "delivery-status" || m.reportType == "global-delivery-status" ||
		m.find(dsnTypes...) != nil
}

// humanText returns the first non-empty text/plain leaf, else the first
// text/html leaf as text, cut to maxText bytes.
func humanText(parts []part) string {
	for _, t := range []string{"text/plain", "text/html"} {
		for _, p := range parts {
			if p.mediaType != t || len(bytes.TrimSpace(p.body)) == 0 {
				continue
			}
			s := string(p.body)
			if len(s) > maxText { // cut at a line end, not inside an address
				s = truncate(s, maxText)
				if i := strings.LastIndexByte(s, '\n'); i >= 0 {
					s = s[:i+1]
				}
			}
			s = toUTF8(s)
			if t == "text/html" {
				s = htmlToText(s)
			}
			return s
		}
	}
	return ""
}

var (
	reHTMLDrop  = regexp.MustCompile(`(?is)<(style|script|head)\b.*?</(style|script|head)>`)
	reHTMLBreak = regexp.MustCompile(`(?i)<(br|/p|/div|/tr|/li|/h[1-6]|p|div|tr)\b[^>]*>`)
	reHTMLTag   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// htmlToText makes crude text of HTML: good enough for the heuristics.
func htmlToText(s string) string {
	s = reHTMLDrop.ReplaceAllString(s, "")
	s = reHTMLBreak.ReplaceAllString(s, "\n")
	s = reHTMLTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	return strings.ReplaceAll(s, "\u00a0", " ")
}

var (
	// reQuoteMarker finds the line that introduces the quoted original in
	// plain-text bounces (qmail, Yahoo, Exim, Gmail, Exchange, ...).
	reQuoteMarker = regexp.MustCompile(`(?im)^[ \t]*[-=_*]*[ \t]*(?:below this line is a copy of the message|this is a copy of (?:the |your )?message|original message(?: headers| follows)?|the header of the original message|unsent message below|message text follows|returned message|forwarded message)\b[^\n]*$`)
	// reHeaderStart finds a quoted header block with no marker before it.
	reHeaderStart = regexp.MustCompile(`(?im)^(?:return-path|received|dkim-signature|message-id|mime-version|list-unsubscribe|x-bulletin-[a-z0-9-]+):`)
)

// splitQuoted splits bounce text into the human part and the quoted copy of
// the original message.
func splitQuoted(text string) (human, quoted string) {
	if loc := reQuoteMarker.FindStringIndex(text); loc != nil {
		return text[:loc[0]], text[loc[1]:]
	}
	if loc := reHeaderStart.FindStringIndex(text); loc != nil && loc[0] > 0 {
		return text[:loc[0]], text[loc[0]:]
	}
	return text, ""
}

var (
	reDaemonFrom = regexp.MustCompile(`(?i)mailer-daemon|postmaster|mail delivery|mail administrator|system administrator|microsoft outlook|microsoft exchange|mail router|delivery status`)
	reBounceSubj = regexp.MustCompile(`(?i)undeliver|not delivered|non-?delivery|delivery (?:status notification|failure|failed|has failed|problem|report|notification)|mail delivery failed|failure notice|returned mail|mail system error|could not be delivered|delayed mail|could not send message|message delayed|delivery delayed`)
	reReplySubj  = regexp.MustCompile(`(?i)^\s*(?:re|fwd?|aw|wg|tr|sv)\s*:`)
	reBanner     = regexp.MustCompile(`(?i)qmail-send program|created automatically by mail delivery software|this is the mail system at host|the following addresses had (?:permanent fatal|transient non-fatal) errors|did not reach some or all of the intended recipients|could not be reached|delivery has failed to these recipients|delivery to the following recipients? (?:failed|has been delayed)|unable to deliver (?:your|the) message|message could not be delivered|was not delivered to|could not be delivered to one or more|wasn't able to deliver your message|couldn't be delivered`)
)

// looksLikeBounce reports whether m is a non-standard bounce.
func (m *message) looksLikeBounce() bool {
	return m.bounceSender() || m.header.Get("X-Failed-Recipients") != "" || m.bounceSubject()
}

// bounceSender reports evidence that a mail system (not a person) sent m.
func (m *message) bounceSender() bool {
	return reDaemonFrom.MatchString(m.header.Get("From")) || reBanner.MatchString(m.text)
}

func (m *message) bounceSubject() bool {
	s := decodeHeader(m.header.Get("Subject"))
	return reBounceSubj.MatchString(s) && !reReplySubj.MatchString(s)
}

// isQuotedType reports whether a leaf holds the original message or its
// header.
func isQuotedType(mt string) bool {
	switch mt {
	case "message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers":
		return true
	}
	return false
}

// original finds the Message-IDs and selected header fields of the quoted
// original message.
func (m *message) original() ([]string, map[string]string) {
	o := &origin{own: msgID(m.header.Get("Message-Id"))}
	for _, p := range m.parts {
		if isQuotedType(p.mediaType) {
			fs, _ := readFields(p.body)
			o.addHeader(fs)
		}
	}
	if m.quoted != "" {
		fs, _ := readFields(bytes.TrimLeft([]byte(m.quoted), " \t\n"))
		o.addHeader(fs)
	}
	for _, p := range m.parts {
		if p.mediaType == "text/plain" {
			scanMessageIDs(p.body[:min(len(p.body), maxText)], o.addID)
		}
	}
	return o.ids, o.hdr
}

// scanMessageIDs calls add with the value of each "Message-ID:" line of b,
// quoted with ">" or indented or not.
func scanMessageIDs(b []byte, add func(string)) {
	const name = "message-id:"
	for len(b) > 0 {
		var line []byte
		line, b = cutLine(b)
		line = bytes.TrimLeft(line, " \t>")
		if len(line) > len(name) && strings.EqualFold(string(line[:len(name)]), name) {
			add(string(line[len(name):]))
		}
	}
}

// origin accumulates what is known of the quoted original.
type origin struct {
	own string
	ids []string
	hdr map[string]string
}

func (o *origin) addID(v string) {
	id := msgID(v)
	if id == "" || id == o.own || len(o.ids) >= 16 {
		return
	}
	for _, x := range o.ids {
		if x == id {
			return
		}
	}
	o.ids = append(o.ids, id)
}

// addHeader takes the Message-ID of a quoted header and, from the first
// quoted header only, the selected fields.
func (o *origin) addHeader(fs fields) {
	o.addID(fs.Get("Message-Id"))
	if o.hdr != nil {
		return
	}
	for _, f := range fs {
		switch {
		case f.name == "List-Unsubscribe", f.name == "List-Id", f.name == "To", f.name == "From",
			f.name == "Subject", strings.HasPrefix(f.name, "X-Bulletin-"):
			if o.hdr == nil {
				o.hdr = map[string]string{}
			}
			if _, ok := o.hdr[f.name]; !ok && f.value != "" {
				o.hdr[f.name] = truncate(decodeHeader(f.value), maxFieldValue)
			}
		}
	}
}

// msgID returns the first Message-ID in v without angle brackets, or ""
// if v does not look like one.
func msgID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	if strings.ContainsAny(v, " \t<>") || !strings.Contains(v, "@") || len(v) > 250 {
		return ""
	}
	return v
}
