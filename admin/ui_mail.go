package admin

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"strings"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// shownMail is a message taken apart for display: its headers and its text
// and HTML parts, decoded.
type shownMail struct {
	Subject string
	Headers [][2]string
	Text    string
	HTML    string
}

// maxShownPart bounds a decoded part shown in the UI.
const maxShownPart = 4 << 20

// parseMail parses a raw RFC 5322 message for display.
func parseMail(raw []byte) (shownMail, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		// Not a message we can take apart: show it as it is.
		return shownMail{Text: string(raw[:min(len(raw), maxShownPart)])}, nil
	}
	var dec mime.WordDecoder
	var out shownMail
	for _, h := range headerOrder(raw) {
		for _, v := range m.Header[h.key] {
			if d, err := dec.DecodeHeader(v); err == nil {
				v = d
			}
			out.Headers = append(out.Headers, [2]string{h.name, v})
		}
	}
	out.Subject, _ = dec.DecodeHeader(m.Header.Get("Subject"))
	err = walkPart(m.Header, m.Body, &out, 0)
	return out, err
}

// headerName is a header field's name as the message writes it (shown:
// DKIM-Signature, Message-ID) and as net/mail keys it.
type headerName struct{ name, key string }

// headerOrder lists the header names in the order they appear, once each.
func headerOrder(raw []byte) []headerName {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = bytes.Index(raw, []byte("\n\n"))
	}
	if end < 0 {
		end = len(raw)
	}
	seen := map[string]bool{}
	var out []headerName
	for _, line := range strings.Split(string(raw[:end]), "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, _, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name := strings.TrimSpace(k)
		key := http.CanonicalHeaderKey(name)
		if !seen[key] {
			seen[key] = true
			out = append(out, headerName{name: name, key: key})
		}
	}
	return out
}

// partHeader is a message's or a part's header.
type partHeader interface{ Get(string) string }

// walkPart collects the first text/plain and text/html parts.
func walkPart(h partHeader, body io.Reader, out *shownMail, depth int) error {
	if depth > 10 {
		return nil
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("admin: parse message part: %w", err)
			}
			if err := walkPart(p.Header, p, out, depth+1); err != nil {
				return err
			}
		}
	}
	var r io.Reader = io.LimitReader(body, maxShownPart)
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, newlineStripper{r})
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("admin: decode message part: %w", err)
	}
	switch {
	case mt == "text/plain" && out.Text == "":
		out.Text = string(b)
	case mt == "text/html" && out.HTML == "":
		out.HTML = string(b)
	}
	return nil
}

// newlineStripper drops CR and LF, which base64 bodies wrap with.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		c, err := n.r.Read(p)
		j := 0
		for _, b := range p[:c] {
			if b != '\r' && b != '\n' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// mailPage shows one message: headers, the HTML part in a sandboxed frame
// (loaded from HTMLURL) and the text part.
type mailPage struct {
	Title    string
	Mail     shownMail
	Findings []list.Finding
	Back     string
	Raw      string
	HTMLURL  string
}

// mailFrameCSP is the policy of a mail's HTML part shown in a frame: a
// sandbox with no scripts and no origin, inline styles as mail uses them,
// no remote resources (no tracking pixel fires), framed by the UI only.
const mailFrameCSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"

// writeMailHTML answers the HTML part of a message for a frame of the UI.
func writeMailHTML(w http.ResponseWriter, html string) error {
	h := w.Header()
	h.Set("Content-Security-Policy", mailFrameCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	if html == "" {
		html = "<p>(this message has no HTML part)</p>"
	}
	_, err := io.WriteString(w, html)
	return err
}

// uiOutboxHTML answers the HTML part of an outbox message.
func (s *Server) uiOutboxHTML(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.svc.OutboxMessage(r.Context(), mux.Vars(r)["name"])
	if err != nil {
		return err
	}
	return writeHTMLPart(w, raw)
}

// writeHTMLPart answers the HTML part of a whole message for its frame.
func writeHTMLPart(w http.ResponseWriter, raw []byte) error {
	m, err := parseMail(raw)
	if err != nil {
		return err
	}
	return writeMailHTML(w, m.HTML)
}

// outboxPage lists the outbox.
type outboxPage struct {
	Messages []list.OutboxMessage
	Relay    bool
	// Full says the page shows only the newest messages, not all.
	Full bool
}

// Link is the page of one message.
func (outboxPage) Link(name string) string { return "/admin/outbox/" + url.PathEscape(name) }

func (s *Server) uiOutbox(w http.ResponseWriter, r *http.Request) error {
	ms, ok, err := s.svc.Outbox(r.Context(), s.outboxShown)
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "outbox", "outbox", outboxPage{Messages: ms, Relay: !ok || !s.outbox, Full: len(ms) == s.outboxShown}, "")
}

func (s *Server) uiOutboxMessage(w http.ResponseWriter, r *http.Request) error {
	name := mux.Vars(r)["name"]
	raw, err := s.svc.OutboxMessage(r.Context(), name)
	if err != nil {
		return err
	}
	m, err := parseMail(raw)
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "mail", "outbox", mailPage{Title: m.Subject, Mail: m, Back: "/admin/outbox",
		Raw: "/admin/outbox/" + url.PathEscape(name) + "/raw", HTMLURL: "/admin/outbox/" + url.PathEscape(name) + "/html"}, "")
}

// uiOutboxRaw answers the message as sent, as plain text.
func (s *Server) uiOutboxRaw(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.svc.OutboxMessage(r.Context(), mux.Vars(r)["name"])
	if err != nil {
		return err
	}
	return writeRawMail(w, raw)
}

// writeRawMail answers a whole message as plain text, in a sandbox: a
// received one comes from anyone who can send mail.
func writeRawMail(w http.ResponseWriter, raw []byte) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "sandbox")
	_, err := w.Write(raw)
	return err
}
