package smtp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"strings"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp/bounce"
	gosmtp "github.com/emersion/go-smtp"
)

// Replies of the inbound server. go-smtp sends the text of any other error
// to the peer, so the session returns only these, with generic text.
var (
	// errNoRelay refuses every address but Bulletin's own: never an open
	// relay (RFC 5321 section 3.6.2, RFC 3463 5.7.1).
	errNoRelay = &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "Recipient not accepted here"}
	// errTryLater asks the sender to retry: the report could not be stored.
	errTryLater = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
	// errLineTooLong refuses a message with a line over maxLineLength for
	// good: it would be refused again (RFC 5321 section 4.5.3.1.6).
	errLineTooLong = &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 6, 0}, Message: "Message has a line too long"}
	// errReadTimeout ends a message whose data stopped coming.
	errReadTimeout = &gosmtp.SMTPError{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 4, 2}, Message: "Timeout, closing connection"}
)

// inboundRcpt is an accepted recipient: which address, and its token.
type inboundRcpt struct {
	kind  list.RcptKind
	token string
}

// inboundSession is one SMTP session.
type inboundSession struct {
	in    *Inbound
	conn  *gosmtp.Conn
	ip    string
	from  string
	rcpts []inboundRcpt
}

func (in *Inbound) newSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	ip := ""
	if a := c.Conn().RemoteAddr(); a != nil {
		ip, _, _ = net.SplitHostPort(a.String())
	}
	return &inboundSession{in: in, conn: c, ip: ip}, nil
}

func (s *inboundSession) Reset() {
	s.from, s.rcpts = "", nil
}

func (s *inboundSession) Logout() error { return nil }

// Mail accepts any sender: bounces come from the null sender <>.
func (s *inboundSession) Mail(from string, opts *gosmtp.MailOptions) error {
	s.from, s.rcpts = from, nil
	if opts != nil && opts.Size > 0 && !s.in.budget.fits(opts.Size) {
		// The sender said how large its message is (RFC 1870): it gets the
		// memory budget's 452 now rather than after sending it all.
		s.in.log.Warn("inbound message refused at MAIL: memory budget spent", "ip", s.ip, "size", opts.Size)
		return errNoMemory
	}
	return nil
}

// Rcpt accepts only Bulletin's own addresses at its domains.
func (s *inboundSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	r, ok := s.in.parseRcpt(to)
	if !ok {
		s.in.log.Debug("inbound recipient refused", "ip", s.ip)
		return errNoRelay
	}
	if uc, can := s.in.opts.Handler.(UnsubscribeChecker); can && r.kind == list.RcptUnsubscribe {
		if err := uc.CheckUnsubscribeToken(r.token); err != nil {
			s.in.log.Info("mailto unsubscribe with an invalid token refused", "ip", s.ip, "err", err)
			return errNoRelay
		}
	}
	s.rcpts = append(s.rcpts, r)
	return nil
}

// parseRcpt recognises bounces+TOKEN@, bounces@, postmaster@,
// unsubscribe+TOKEN@ and feedback@ at a configured domain, and a bare
// Postmaster, without regard to case. The token is only checked for its
// shape here; Rcpt has the list package check an
// unsubscribe token's MAC (UnsubscribeChecker), and a bounce token's is
// checked with the report.
//
// bounces+ with anything that is not token-shaped (a token mangled by a
// forwarding MTA) is still taken, as a report to bounces@ without a token:
// it is recorded and may act through a quoted Message-ID, as DESIGN
// "Receiving" says. unsubscribe+ needs a token-shaped one: without a token
// there is nothing to do with the mail.
func (in *Inbound) parseRcpt(to string) (inboundRcpt, bool) {
	// "<Postmaster>" without a domain is the one address RFC 5321 section
	// 4.1.1.3 lets a forward-path lack one for, meaning this host's.
	if strings.EqualFold(to, "postmaster") {
		return inboundRcpt{kind: list.RcptBounce}, true
	}
	at := strings.LastIndexByte(to, '@')
	if at <= 0 || !in.domains[normalizeDomain(to[at+1:])] {
		return inboundRcpt{}, false
	}
	local := strings.ToLower(to[:at])
	switch local {
	case "bounces", "postmaster":
		// RFC 5321 section 4.5.1 has every mail domain take postmaster@;
		// what reaches it here is mostly delivery reports, recorded as
		// those to bounces@ are (one that is not a report is kept too).
		return inboundRcpt{kind: list.RcptBounce}, true
	case "feedback":
		return inboundRcpt{kind: list.RcptFeedback}, true
	}
	tag, tok, ok := strings.Cut(local, "+")
	if !ok {
		return inboundRcpt{}, false
	}
	switch {
	case tag == "bounces" && tokenShaped(tok):
		return inboundRcpt{kind: list.RcptBounceToken, token: tok}, true
	case tag == "bounces" && mangledToken(tok):
		return inboundRcpt{kind: list.RcptBounce}, true
	case tag == "unsubscribe" && tokenShaped(tok):
		return inboundRcpt{kind: list.RcptUnsubscribe, token: tok}, true
	}
	return inboundRcpt{}, false
}

// mangledToken reports whether s may be a VERP token rewritten on the way:
// at most as long as a token (so the local part stays within the limits a
// real one has) and made of dot-atom characters (RFC 5322 section 3.2.3),
// without the '%' and '!' of old source routing, so that nothing accepted
// even looks like an address to relay to.
func mangledToken(s string) bool {
	if len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte(".#$&'*+-/=?^_`{|}~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// maxTokenLen is the longest token taken in an address.
const maxTokenLen = 128

// tokenShaped reports whether s looks like a token: 20 to maxTokenLen
// lower-case base32 letters.
func tokenShaped(s string) bool {
	if len(s) < 20 || len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// Data reads the message, parses it and hands one report per recipient to
// the handler. A message that cannot be parsed is still taken (250), kept
// as an unknown report, so that the sending MTA does not retry it forever;
// only a failure to store answers 451.
func (s *inboundSession) Data(r io.Reader) (err error) {
	var held int64
	defer func() {
		s.in.budget.give(held)
		if v := recover(); v != nil {
			s.in.log.Error("inbound message panic", "err", v, "stack", string(debug.Stack()))
			err = errTryLater
		}
	}()
	raw, err := readBudgeted(r, s.in.budget, &held)
	if err != nil {
		return s.readFailed(err)
	}
	var rep *bounce.Report
	for _, rc := range s.rcpts {
		if rc.kind != list.RcptUnsubscribe && rep == nil {
			rep = s.in.parse(raw)
		}
		if err := s.handle(s.report(rc, rep, raw)); err != nil {
			s.in.log.Error("inbound report not stored", "rcpt", string(rc.kind), "err", err)
			return errTryLater
		}
	}
	return nil
}

// handle hands one report to the handler. Each report has the whole
// HandlerTimeout, counted from its own start: the reports of one message
// wait for the store one after the other, and parsing is not theirs.
func (s *inboundSession) handle(r list.InboundReport) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.in.opts.HandlerTimeout)
	defer cancel()
	return s.in.opts.Handler.HandleInbound(ctx, r)
}

// readFailed gives the reply to a message whose data could not be read.
func (s *inboundSession) readFailed(err error) error {
	var se *gosmtp.SMTPError
	switch {
	case errors.As(err, &se):
		if se == errNoMemory {
			s.in.log.Warn("inbound message refused: memory budget spent", "ip", s.ip)
		}
		return se // 552 for an oversized message, 452 over the memory budget
	case errors.Is(err, gosmtp.ErrTooLongLine):
		// go-smtp's line reader now fails for the rest of the session:
		// after this reply, it answers the next command 500 and closes.
		s.in.log.Info("inbound message refused: line too long", "ip", s.ip)
		return errLineTooLong
	}
	s.in.log.Info("inbound message read failed", "ip", s.ip, "err", err)
	s.conn.Conn().Close() // the rest of the data would be read as commands
	return errReadTimeout
}

// parse parses a message; a malformed one is logged and reported as unknown.
func (in *Inbound) parse(raw []byte) *bounce.Report {
	rep, err := bounce.Parse(bytes.NewReader(raw))
	if err != nil {
		in.log.Info("inbound message malformed, kept as unknown", "size", len(raw), "err", err)
	}
	if rep == nil {
		rep = &bounce.Report{Type: bounce.TypeUnknown}
	}
	return rep
}

// report maps a parsed message to the report for one recipient.
func (s *inboundSession) report(rc inboundRcpt, rep *bounce.Report, raw []byte) list.InboundReport {
	r := list.InboundReport{Rcpt: rc.kind, Token: rc.token, Raw: raw, From: s.from, IP: s.ip}
	if rep == nil {
		return r
	}
	r.MessageIDs, r.OriginalHeaders, r.FeedbackType = rep.MessageIDs, rep.OriginalHeaders, rep.FeedbackType
	r.AutoReply = rep.Type == bounce.TypeAutoReply
	seen := map[string]int{} // one record per address, even if a report names it twice
	for _, p := range rep.Recipients {
		b := list.Bounce{Email: p.Email, Kind: list.BounceKind(p.Kind), Action: p.Action, Status: p.Status, Diagnostic: p.Diagnostic}
		key := strings.ToLower(p.Email)
		if i, ok := seen[key]; ok && key != "" {
			if r.Bounces[i].Status == "" && b.Status != "" {
				r.Bounces[i] = b
			}
			continue
		}
		seen[key] = len(r.Bounces)
		r.Bounces = append(r.Bounces, b)
	}
	s.in.log.Debug("inbound report", "rcpt", string(rc.kind), "type", rep.Type, "recipients", len(r.Bounces))
	return r
}
