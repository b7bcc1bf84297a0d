package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// checkRelay connects to the relay as the sender would: the connection and
// greeting, STARTTLS (RFC 3207) or implicit TLS, and AUTH (RFC 4954) when
// credentials are configured. It sends no mail.
func (d *Doctor) checkRelay(ctx context.Context) []Check {
	const name = "relay"
	if d.RelayURL == "" {
		return []Check{warn(name, "no relay is configured: mail goes to the outbox Maildir and nothing is really sent",
			"set --relay smtp://user:password@smtp.example.com:587")}
	}
	rc, err := parseRelay(d.RelayURL)
	if err != nil {
		return []Check{fail(name, err.Error(), "fix --relay: smtp://[user:pass@]host:port, smtps://… or smtp+plain://…")}
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	cl, out := d.relayClient(ctx, rc)
	if cl == nil {
		return out
	}
	defer cl.Close()
	if rc.auth {
		out = append(out, d.checkAuth(cl, rc))
	}
	cl.Quit()
	return out
}

// relayClient opens a session and returns it with the connection and TLS
// verdicts; the client is nil when the session could not be made.
func (d *Doctor) relayClient(ctx context.Context, rc relayConfig) (*gosmtp.Client, []Check) {
	const name, tlsName = "relay", "relay TLS"
	connFix := "check --relay's host and port, and that this machine may connect to it (firewall, provider port blocks)"
	tlsCfg := d.relayTLS(rc)
	connected := pass(name, "connected to "+rc.addr())
	switch rc.mode {
	case tlsImplicit:
		cl, err := d.dialRelay(ctx, rc, func(c net.Conn) (*gosmtp.Client, error) {
			tc := tls.Client(c, tlsCfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				return nil, err
			}
			return gosmtp.NewClient(tc), nil
		})
		if err != nil {
			return nil, []Check{fail(name, "implicit TLS session with "+rc.addr()+" failed: "+err.Error(), connFix)}
		}
		return cl, []Check{connected, pass(tlsName, "implicit TLS (smtps)")}
	case tlsNone:
		cl, err := d.dialRelay(ctx, rc, func(c net.Conn) (*gosmtp.Client, error) { return gosmtp.NewClient(c), nil })
		if err != nil {
			return nil, []Check{fail(name, "cannot reach "+rc.addr()+": "+err.Error(), connFix)}
		}
		return cl, []Check{connected, warn(tlsName, "smtp+plain: mail crosses the network unencrypted", "use smtp:// (STARTTLS) or smtps:// unless the relay is on a trusted network")}
	}
	plain, err := d.dialRelay(ctx, rc, func(c net.Conn) (*gosmtp.Client, error) { return gosmtp.NewClient(c), nil })
	if err != nil {
		return nil, []Check{fail(name, "cannot reach "+rc.addr()+": "+err.Error(), connFix)}
	}
	offered, _ := plain.Extension("STARTTLS")
	if !offered {
		if !rc.requireTLS() {
			return plain, []Check{connected, warn(tlsName, "the relay on this machine does not offer STARTTLS", "fine on loopback; use smtps:// or enable STARTTLS otherwise")}
		}
		plain.Close()
		return nil, []Check{connected,
			fail(tlsName, "the relay does not offer STARTTLS, which smtp:// requires: the sender refuses to send", "enable STARTTLS on the relay, or use smtps:// (port 465)")}
	}
	plain.Quit()
	plain.Close()
	cl, err := d.dialRelay(ctx, rc, func(c net.Conn) (*gosmtp.Client, error) { return gosmtp.NewClientStartTLS(c, tlsCfg) })
	if err != nil {
		return nil, []Check{connected,
			fail(tlsName, "STARTTLS failed: "+err.Error(), "the relay's certificate must be valid for "+rc.host+"; use the name on its certificate in --relay")}
	}
	return cl, []Check{connected, pass(tlsName, "STARTTLS, certificate valid for "+rc.host)}
}

// dialRelay connects, wraps the connection with mk and says EHLO; the
// context closes the connection if it ends first.
func (d *Doctor) dialRelay(ctx context.Context, rc relayConfig, mk func(net.Conn) (*gosmtp.Client, error)) (*gosmtp.Client, error) {
	addr := rc.addr()
	if d.dialAddr != "" {
		addr = d.dialAddr
	}
	nc, err := d.relayDialer().DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	cl, err := mk(nc)
	if err == nil {
		cl.CommandTimeout = d.Timeout
		err = cl.Hello(d.HeloName)
	}
	if err != nil {
		stop()
		nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return cl, nil
}

// relayDialer is the dialer of the relay check: with ResolveRelay, the
// relay's host is looked up at Resolver, as the DNS checks' names are.
func (d *Doctor) relayDialer() *net.Dialer {
	nd := &net.Dialer{}
	if d.ResolveRelay && d.Resolver != "" {
		var ns net.Dialer
		nd.Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return ns.DialContext(ctx, network, d.Resolver)
		}}
	}
	return nd
}

func (d *Doctor) relayTLS(rc relayConfig) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if d.TLSConfig != nil {
		cfg = d.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = rc.host
	}
	return cfg
}

// checkAuth logs in with the configured credentials.
func (d *Doctor) checkAuth(cl *gosmtp.Client, rc relayConfig) Check {
	const name = "relay AUTH"
	var a sasl.Client
	switch {
	case cl.SupportsAuth(sasl.Plain):
		a = sasl.NewPlainClient("", rc.user, rc.pass)
	case cl.SupportsAuth(sasl.Login):
		a = sasl.NewLoginClient(rc.user, rc.pass)
	default:
		return fail(name, "credentials are configured but the relay offers neither AUTH PLAIN nor AUTH LOGIN", "check the relay's port: submission (587/465) usually offers AUTH")
	}
	if err := cl.Auth(a); err != nil {
		var se *gosmtp.SMTPError
		detail := err.Error()
		if errors.As(err, &se) {
			detail = strings.TrimSpace(se.Error())
		}
		return fail(name, "the relay refused the credentials of "+rc.user+": "+detail, "check the user and password in --relay (URL-encode special characters)")
	}
	return pass(name, "logged in as "+rc.user)
}
