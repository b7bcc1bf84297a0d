package smtp

import (
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bulletin/bulletin/list"
)

// sortableBase32 encodes Message-IDs: base32hex in lower case, no padding,
// whose strings sort as the bytes they encode (RFC 4648 section 7).
var sortableBase32 = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// built is a built, unsigned message.
type built struct {
	raw       []byte
	messageID string // without angle brackets
	from      address
	// envelope sender (MAIL FROM) and recipient (RCPT TO).
	mailFrom, rcptTo string
	header           header
}

// newIDs makes a Message-ID local part and a MIME boundary. The
// Message-ID is the send time in milliseconds, then 80 bits from s.rand:
// the store indexes every sent Message-ID (bounces are matched by it), and
// time-ordered keys land in the last pages of that index instead of
// dirtying a random page per message; 80 random bits keep it unguessable,
// which matters because a bounce quoting it is acted upon.
func (s *Sender) newIDs() (id, boundary string, err error) {
	var b [28]byte
	ms := uint64(s.now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (8 * (5 - i)))
	}
	s.randMu.Lock()
	_, err = io.ReadFull(s.rand, b[6:])
	s.randMu.Unlock()
	if err != nil {
		return "", "", fmt.Errorf("smtp: random: %w", err)
	}
	// "=_" cannot occur in quoted-printable text, so the boundary cannot
	// either (RFC 2045 section 6.7, RFC 2046 section 5.1.1).
	return sortableBase32.EncodeToString(b[:16]), "=_" + hex.EncodeToString(b[16:]), nil
}

// validIDLocal reports whether a given Message-ID local part is plain
// letters and digits, as Bulletin makes them: nothing that could end the
// field or the angle brackets.
func validIDLocal(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// build makes the RFC 5322 message of m from its rendered parts.
func (s *Sender) build(m *list.Message, r *rendered) (*built, error) {
	h, b, err := s.headers(m, r)
	if err != nil {
		return nil, err
	}
	id, boundary, err := s.newIDs()
	if err != nil {
		return nil, err
	}
	if m.MessageID != "" {
		if !validIDLocal(m.MessageID) {
			return nil, fmt.Errorf("smtp: Message-ID %q is not letters and digits", m.MessageID)
		}
		id = m.MessageID
	}
	b.messageID = id + "@" + s.domain
	// Message-ID and Content-Type go after the identity headers.
	h = append(h[:4:4], append(header{{name: "Message-ID", value: "<" + b.messageID + ">"}}, h[4:]...)...)
	h.add("MIME-Version", "1.0")
	h.add("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.header = h

	raw := make([]byte, 0, 2048+len(r.html)*5/4+len(r.text)*9/8)
	if raw, err = h.appendTo(raw); err != nil {
		return nil, err
	}
	raw = append(raw, "\r\n"...)
	raw = appendPart(raw, boundary, "text/plain", r.text)
	raw = appendPart(raw, boundary, "text/html", r.html)
	raw = append(raw, "--"+boundary+"--\r\n"...)
	b.raw = raw
	return b, nil
}

func appendPart(raw []byte, boundary, ctype string, body []byte) []byte {
	raw = append(raw, "--"+boundary+"\r\n"...)
	raw = append(raw, "Content-Type: "+ctype+"; charset=utf-8\r\n"...)
	raw = append(raw, "Content-Transfer-Encoding: quoted-printable\r\n\r\n"...)
	raw = appendQP(raw, body)
	if n := len(raw); n < 2 || raw[n-2] != '\r' || raw[n-1] != '\n' {
		raw = append(raw, "\r\n"...)
	}
	return raw
}

// unsendable turns the refusal of a recipient's address or name into a
// failure of that recipient alone, with the status a relay would give
// (RFC 6531 section 3.7.4.2 for a non-ASCII local part, RFC 3463 5.1.3
// otherwise): every other recipient can still be sent to.
func unsendable(err error) error {
	status := "5.1.3"
	if errors.Is(err, errSMTPUTF8) {
		status = "5.6.7"
	}
	return &list.DeliveryError{Code: 553, Status: status, Text: err.Error(), Unsendable: true, Err: err}
}

// headers makes the header fields of m but Message-ID, MIME-Version and
// Content-Type: From, To, Subject, Date first, then the list headers.
func (s *Sender) headers(m *list.Message, r *rendered) (header, *built, error) {
	from, err := parseMailbox("From", m.From)
	if err != nil {
		return nil, nil, err
	}
	to, err := newAddress("To", m.ToName, m.To)
	if err != nil {
		return nil, nil, unsendable(err)
	}
	subject := r.subject
	if m.Test {
		subject = "[Test] " + subject
	}
	if err := checkValue("subject", subject); err != nil {
		return nil, nil, err
	}
	if strings.TrimSpace(subject) == "" {
		return nil, nil, fmt.Errorf("smtp: empty subject: %w", list.ErrInvalid)
	}
	b := &built{from: from, rcptTo: to.Addr, mailFrom: from.Addr}
	if m.ReturnPath != "" {
		rp, err := newAddress("return path", "", m.ReturnPath)
		if err != nil {
			return nil, nil, err
		}
		b.mailFrom = rp.Addr
	}
	h := make(header, 0, 16)
	h.add("From", from.String())
	h.add("To", to.String())
	h.add("Subject", encodeText(subject))
	h.add("Date", s.now().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	if m.Kind == "" {
		err = s.campaignHeaders(&h, m)
	} else {
		err = s.systemHeaders(&h, m)
	}
	return h, b, err
}

// campaignHeaders adds the bulk-mail headers of DESIGN.md ("Every campaign
// message") and refuses a campaign message that lacks what they need.
func (s *Sender) campaignHeaders(h *header, m *list.Message) error {
	switch {
	case strings.TrimSpace(m.PostalAddress) == "":
		return fmt.Errorf("smtp: refusing bulk mail without a postal address (set --postal-address): %w", list.ErrInvalid)
	case m.List == nil:
		return fmt.Errorf("smtp: refusing bulk mail without a list (List-Id): %w", list.ErrInvalid)
	case m.UnsubscribeURL == "":
		return fmt.Errorf("smtp: refusing bulk mail without an unsubscribe URL (List-Unsubscribe): %w", list.ErrInvalid)
	case m.Campaign == nil:
		return fmt.Errorf("smtp: campaign message without a campaign: %w", list.ErrInvalid)
	}
	if err := s.listHeaders(h, m); err != nil {
		return err
	}
	h.add("List-Post", "NO") // RFC 2369 section 3.4
	h.add("Precedence", "bulk")
	h.add("Feedback-ID", strconv.FormatUint(uint64(m.Campaign.ID), 10)+":"+
		strconv.FormatUint(uint64(m.List.ID), 10)+":bulletin:"+s.domain)
	return nil
}

// systemHeaders marks a system mail as automatic (RFC 3834 section 5); a
// mail that carries an unsubscribe link (welcome) gets the list headers too.
func (s *Sender) systemHeaders(h *header, m *list.Message) error {
	if m.UnsubscribeURL != "" && m.List != nil {
		if err := s.listHeaders(h, m); err != nil {
			return err
		}
	}
	h.add("Auto-Submitted", "auto-generated")
	return nil
}

// listHeaders adds List-Id (RFC 2919), List-Unsubscribe (RFC 2369) and
// List-Unsubscribe-Post (RFC 8058).
func (s *Sender) listHeaders(h *header, m *list.Message) error {
	slug := m.List.Slug
	if slug == "" || strings.Trim(slug, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return fmt.Errorf("%w: list slug %q is not a List-Id label", errHeader, slug)
	}
	if err := checkValue("list name", m.List.Name); err != nil {
		return err
	}
	id := "<" + slug + "." + s.domain + ">"
	if name := strings.TrimSpace(m.List.Name); name != "" {
		id = encodePhrase(name) + " " + id
	}
	h.add("List-Id", id)
	if !strings.HasPrefix(m.UnsubscribeURL, "https://") && !strings.HasPrefix(m.UnsubscribeURL, "http://") {
		return fmt.Errorf("%w: unsubscribe URL %q is not http(s)", errHeader, m.UnsubscribeURL)
	}
	if err := checkURL("unsubscribe URL", m.UnsubscribeURL); err != nil {
		return err
	}
	unsub := "<" + m.UnsubscribeURL + ">"
	if m.UnsubscribeMailto != "" {
		if _, err := newAddress("unsubscribe mailto", "", m.UnsubscribeMailto); err != nil {
			return err
		}
		if err := checkURL("unsubscribe mailto", m.UnsubscribeMailto); err != nil {
			return err
		}
		unsub += ", <mailto:" + m.UnsubscribeMailto + ">"
	}
	*h = append(*h, field{name: "List-Unsubscribe", value: unsub, list: true})
	h.add("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	return nil
}
