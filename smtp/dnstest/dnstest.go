// Package dnstest runs DNS servers on 127.0.0.1 for tests, as httptest
// runs HTTP servers: no test of Bulletin's may ask a resolver beyond the
// loopback interface.
package dnstest

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Serve runs h on a UDP server on 127.0.0.1 until the test ends and
// returns its address.
func Serve(t testing.TB, h dns.Handler) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// Zone serves a fixed set of records: the records of the asked name and
// type, none for a name that has records of other types only, NXDOMAIN for
// a name with no record at all.
func Zone(t testing.TB, rrs ...dns.RR) string {
	t.Helper()
	return Serve(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		known := false
		for _, rr := range rrs {
			if strings.EqualFold(rr.Header().Name, q.Name) {
				known = true
				if rr.Header().Rrtype == q.Qtype {
					m.Answer = append(m.Answer, rr)
				}
			}
		}
		if !known {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	}))
}
