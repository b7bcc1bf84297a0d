package smtp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/bulletin/bulletin/list"
)

// tlsMode is how a relay connection is encrypted.
type tlsMode int

const (
	// tlsStartTLS upgrades with STARTTLS (RFC 3207); required unless the
	// relay is on a loopback host.
	tlsStartTLS tlsMode = iota
	// tlsImplicit speaks TLS from the first byte (RFC 8314).
	tlsImplicit
	// tlsNone never encrypts (smtp+plain://, chosen explicitly).
	tlsNone
)

// relayConfig is a parsed relay URL.
type relayConfig struct {
	mode       tlsMode
	host, port string
	user, pass string
	auth       bool
}

func (c relayConfig) addr() string { return net.JoinHostPort(c.host, c.port) }

// requireTLS reports whether a session that cannot be encrypted must be
// refused: smtp:// to anything but a loopback host (DESIGN.md, "Running it").
func (c relayConfig) requireTLS() bool {
	return c.mode == tlsStartTLS && !isLoopbackHost(c.host)
}

// CheckRelay reports whether raw is a relay URL the sender accepts, so
// that a bad one is refused at startup with the other bad settings rather
// than once the store is open.
func CheckRelay(raw string) error {
	_, err := parseRelay(raw)
	return err
}

// parseRelay parses smtp://[user:pass@]host[:port] (port 587),
// smtps://… (465) and smtp+plain://… (25).
func parseRelay(raw string) (relayConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return relayConfig{}, fmt.Errorf("smtp: relay URL: %w", err)
	}
	var c relayConfig
	var port string
	switch u.Scheme {
	case "smtp":
		c.mode, port = tlsStartTLS, "587"
	case "smtps":
		c.mode, port = tlsImplicit, "465"
	case "smtp+plain":
		c.mode, port = tlsNone, "25"
	default:
		return c, fmt.Errorf("smtp: relay URL scheme %q: want smtp, smtps or smtp+plain", u.Scheme)
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return c, errors.New("smtp: relay URL must be scheme://[user:pass@]host[:port]")
	}
	c.host, c.port = u.Hostname(), u.Port()
	if c.host == "" {
		return c, errors.New("smtp: relay URL has no host")
	}
	if c.port == "" {
		c.port = port
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
		c.auth = c.user != ""
	}
	if c.auth && c.mode == tlsNone && !isLoopbackHost(c.host) {
		return c, errors.New("smtp: relay URL: refusing to send credentials without TLS to a remote host (use smtp:// or smtps://)")
	}
	return c, nil
}

// isLoopbackHost reports whether host names the local machine without
// asking DNS: "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// stage is the step of a session an answer came at.
type stage int

const (
	stageConnect stage = iota
	stageAuth
	stageMail
	stageRcpt
	stageData // the DATA command itself
	stageEnd  // the reply after the final dot
)

// classify turns an SMTP answer or connection failure into a
// *list.DeliveryError (RFC 5321 section 4.2.1, RFC 3463): 4xx and failed
// connections are temporary, x.7.x at class 5 a policy problem, a refusal
// at MAIL FROM or AUTH sender-wide.
func classify(err error, at stage) *list.DeliveryError {
	var de *list.DeliveryError
	if errors.As(err, &de) {
		return de
	}
	var sw *deliveryErr
	if errors.As(err, &sw) {
		// A session the pool refuses to use: no retry will help.
		return &list.DeliveryError{Text: sw.text, SenderWide: true}
	}
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) {
		return &list.DeliveryError{Temporary: true, Text: err.Error(), SenderWide: at == stageAuth}
	}
	d := &list.DeliveryError{Code: se.Code, Text: strings.TrimSpace(se.Message)}
	if ec := se.EnhancedCode; ec[0] > 0 {
		d.Status = fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
	}
	d.Temporary = se.Code/100 == 4
	d.Policy = strings.HasPrefix(d.Status, "5.7.") || d.Status == "" && (se.Code == 530 || se.Code == 535)
	// A permanent refusal of the sender (at MAIL or AUTH) would meet every
	// recipient alike: the campaign pauses. A temporary one (421 before a
	// restart, 452 with a full queue) is the relay's passing state: each
	// message is deferred and retried with back-off, as at RCPT.
	d.SenderWide = (at == stageMail || at == stageAuth) && !d.Temporary
	return d
}
