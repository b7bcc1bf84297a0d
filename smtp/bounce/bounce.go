package bounce

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Kind is the class of a failure, which decides what happens to the address.
type Kind string

// Kinds of failure.
const (
	KindHard      Kind = "hard"      // the address itself is bad
	KindSoft      Kind = "soft"      // temporary or about the message
	KindPolicy    Kind = "policy"    // sender-side: 5.7.x auth/reputation, blocklisted IP
	KindComplaint Kind = "complaint" // ARF feedback report
)

// Report types, the values of [Report.Type].
const (
	TypeDSN       = "dsn"       // RFC 3464 delivery status notification
	TypeARF       = "arf"       // RFC 5965 feedback report
	TypeBounce    = "bounce"    // non-standard (plain-text) bounce
	TypeAutoReply = "autoreply" // out-of-office or other RFC 3834 response
	TypeUnknown   = "unknown"   // anything else
)

// MaxSize is the number of bytes of a message that [Parse] looks at; the rest
// is ignored. Callers should limit what they accept to this size or less.
const MaxSize = 16 << 20

// Limits on the work done for one message.
const (
	maxRecipients = 64
	maxDepth      = 8
	maxParts      = 256
	maxDiagnostic = 1000
	maxText       = 64 << 10 // text read by the heuristics, per part
)

// ErrMalformed is returned (wrapped) by [Parse] for input that is not an
// RFC 5322 message at all.
var ErrMalformed = errors.New("bounce: not a message")

// errInternal marks a recovered panic; it should never happen.
var errInternal = errors.New("bounce: internal error")

// Recipient is one failed (or delayed) recipient found in a report.
type Recipient struct {
	Email      string // Original-Recipient, else Final-Recipient, else the address found in a plain-text bounce ("" if none)
	Action     string // RFC 3464 action: failed, delayed, delivered, relayed, expanded ("failed" for non-standard bounces); a complaint's RFC 5965 feedback type: abuse, fraud, virus, other
	Status     string // RFC 3463 enhanced status like "5.1.1" ("" if unknown)
	Code       int    // SMTP reply code if found (550), else 0
	Diagnostic string // diagnostic text, whitespace collapsed, at most 1000 bytes
	Kind       Kind
	Counts     bool // false for delayed and policy: recorded, never counted toward thresholds
}

// Report is the parsed result of one inbound message.
type Report struct {
	Type string // TypeDSN, TypeARF, TypeBounce, TypeAutoReply or TypeUnknown
	// Recipients has one entry per failed or delayed recipient; for ARF one
	// entry with Kind KindComplaint. At most 64. Empty when no failure is
	// recognised; an entry has no Email only when the report says why mail
	// failed but not to whom.
	Recipients []Recipient
	// MessageIDs are the Message-IDs of the original message quoted in the
	// report (from message/rfc822 or text/rfc822-headers parts, or
	// "Message-ID:" lines in the quoted body), without angle brackets.
	MessageIDs []string
	// OriginalHeaders are selected headers of the quoted original:
	// List-Unsubscribe, List-Id, To, From, Subject and X-Bulletin-*, under
	// canonical keys (textproto.CanonicalMIMEHeaderKey). Nil if none.
	OriginalHeaders map[string]string
	FeedbackType    string // ARF Feedback-Type, lower case (abuse, fraud, ...)
	Subject         string // decoded Subject of the report itself
}

// Parse reads one RFC 5322 message and reports what it is. At most [MaxSize]
// bytes are read. Parse never panics and always returns a non-nil Report; the
// error is non-nil only for a read error or input that is not a message
// ([ErrMalformed]), in which case the Report has Type TypeUnknown.
func Parse(r io.Reader) (rep *Report, err error) {
	rep = &Report{Type: TypeUnknown}
	defer func() {
		if v := recover(); v != nil {
			rep, err = &Report{Type: TypeUnknown}, fmt.Errorf("%w: %v", errInternal, v)
		}
	}()
	data, err := io.ReadAll(io.LimitReader(r, MaxSize))
	if err != nil {
		return rep, fmt.Errorf("bounce: read message: %w", err)
	}
	m, err := newMessage(data)
	if err != nil {
		return rep, err
	}
	rep.Subject = decodeHeader(m.header.Get("Subject"))
	rep.MessageIDs, rep.OriginalHeaders = m.original()
	switch {
	case m.isARF():
		parseARF(m, rep)
	case m.isDSN():
		parseDSN(m, rep)
	case m.looksLikeBounce():
		parseBounce(m, rep)
	case IsAutoReply(m.mailHeader()):
		rep.Type = TypeAutoReply
	}
	return rep, nil
}

// add appends rc to rep unless the limit is reached.
func (rep *Report) add(rc Recipient) {
	if len(rep.Recipients) < maxRecipients {
		rep.Recipients = append(rep.Recipients, rc)
	}
}

// failed builds a failed recipient, classified from its status, code and
// diagnostic. Policy failures do not count toward thresholds.
func failed(email, status string, code int, diag string) Recipient {
	diag = cleanDiagnostic(diag)
	if status == "" {
		status = enhancedStatus(diag)
	}
	if code == 0 {
		code = replyCode(diag)
	}
	k := Classify(status, code, diag)
	return Recipient{Email: email, Action: "failed", Status: status, Code: code,
		Diagnostic: diag, Kind: k, Counts: k != KindPolicy}
}

// delayed builds a delayed recipient: soft, never counted.
func delayed(email, status string, code int, diag string) Recipient {
	rc := failed(email, status, code, diag)
	rc.Action, rc.Kind, rc.Counts = "delayed", KindSoft, false
	return rc
}

// cleanDiagnostic makes s valid UTF-8, collapses whitespace and cuts it to
// maxDiagnostic bytes without splitting a UTF-8 sequence.
func cleanDiagnostic(s string) string {
	s = strings.Join(strings.Fields(toUTF8(s)), " ")
	return truncate(s, maxDiagnostic)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
