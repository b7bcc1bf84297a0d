package admin

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/bulletin/bulletin/list"
)

// trusted reports whether ip is one of the trusted proxies.
func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// remoteAddr parses the peer address of r.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// clientIP is the address of the client: the peer, or, when the peer is a
// trusted proxy, the rightmost hop of X-Forwarded-For that is not itself a
// trusted proxy (the hops left of it could be forged by the client).
func (s *Server) clientIP(r *http.Request) netip.Addr {
	ip := remoteAddr(r)
	if !ip.IsValid() || !s.trusted(ip) {
		return ip
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return ip // a garbled header: trust only what we saw
		}
		ip = hop.Unmap()
		if !s.trusted(ip) {
			return ip
		}
	}
	return ip
}

// secure reports whether the client reached us over TLS: directly,
// through a trusted proxy that says so, or as the HTTPS base URL says the
// site is served (a proxy not listed in --trusted-proxy still ends TLS).
func (s *Server) secure(r *http.Request) bool {
	if r.TLS != nil || strings.HasPrefix(strings.ToLower(s.svc.Config().BaseURL), "https://") {
		return true
	}
	if s.trusted(remoteAddr(r)) {
		return strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
	}
	return false
}

// origin describes where a request came from, for events and consent.
func (s *Server) origin(r *http.Request) list.Origin {
	o := list.Origin{UserAgent: list.Truncate(r.UserAgent(), 300), User: info(r).u.Name}
	switch {
	case info(r).api:
		o.Via = list.HowAPI
	case o.User != "":
		o.Via = list.HowAdmin
	}
	if ip := s.clientIP(r); ip.IsValid() {
		o.IP = ip.String()
	}
	return o
}
