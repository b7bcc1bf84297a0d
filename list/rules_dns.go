package list

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// ResolverLookupMX returns an Options.LookupMX that asks the DNS server at
// server ("host:port"; empty: the system resolver), giving up after twice
// timeout. A domain can receive
// mail when it has an MX record that is not the null MX of RFC 7505, or no
// MX but an A or AAAA record (the implicit MX of RFC 5321 §5.1). A lookup
// error other than "no such domain or record" is returned, and then the
// caller accepts the address.
func ResolverLookupMX(server string, timeout time.Duration) func(ctx context.Context, domain string) (bool, error) {
	r := net.DefaultResolver
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	if server != "" {
		d := net.Dialer{Timeout: timeout}
		r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, server)
		}}
	}
	return func(ctx context.Context, domain string) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*timeout)
		defer cancel()
		return lookupMail(ctx, r, domain)
	}
}

func lookupMail(ctx context.Context, r *net.Resolver, domain string) (bool, error) {
	mxs, err := r.LookupMX(ctx, domain)
	if err == nil && len(mxs) > 0 {
		if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
			return false, nil // null MX: the domain accepts no mail (RFC 7505)
		}
		return true, nil
	}
	if err != nil && !notFound(err) {
		return false, fmt.Errorf("lookup mx: %w", err)
	}
	ips, err := r.LookupIPAddr(ctx, domain)
	switch {
	case err == nil && len(ips) > 0:
		return true, nil
	case err == nil, notFound(err):
		return false, nil
	}
	return false, fmt.Errorf("lookup a: %w", err)
}

// notFound reports a definite "no such domain" or "no such record" answer
// (NXDOMAIN or NODATA), as opposed to a DNS that failed to answer.
func notFound(err error) bool {
	var de *net.DNSError
	if !errors.As(err, &de) {
		return false
	}
	if de.IsNotFound {
		return true
	}
	// Some Go versions report NODATA as "no such host" without IsNotFound.
	return !de.IsTimeout && !de.IsTemporary && strings.Contains(de.Err, "no such host")
}
