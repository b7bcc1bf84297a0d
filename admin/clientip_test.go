package admin

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	s := &Server{proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	cases := []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.1:5000", nil, "192.0.2.1"},
		{"192.0.2.1:5000", []string{"198.51.100.1"}, "192.0.2.1"},            // untrusted peer: header ignored
		{"10.0.0.1:5000", nil, "10.0.0.1"},                                   // trusted peer, no header
		{"10.0.0.1:5000", []string{"198.51.100.1"}, "198.51.100.1"},          // one proxy
		{"10.0.0.1:5000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"}, // client-forged left hop ignored
		{"10.0.0.1:5000", []string{"198.51.100.1, 10.0.0.2"}, "198.51.100.1"},
		{"10.0.0.1:5000", []string{"198.51.100.1", "10.0.0.2"}, "198.51.100.1"}, // several headers
		{"10.0.0.1:5000", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},           // all trusted: leftmost
		{"10.0.0.1:5000", []string{"garbage"}, "10.0.0.1"},
		{"[fd00::1]:5000", []string{"2001:db8::5"}, "2001:db8::5"},
		{"[::ffff:192.0.2.9]:5000", nil, "192.0.2.9"},
	}
	for _, c := range cases {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = c.remote
		for _, v := range c.xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		if got := s.clientIP(req).String(); got != c.want {
			t.Errorf("clientIP(%q, %q) = %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
	} {
		if got := clientKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLimiterBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1e9, 0)
	l := newLimiter(2, time.Minute, 100)
	for i := range 1000 {
		l.allow(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String(), now)
	}
	if n := len(l.buckets); n > 100 {
		t.Errorf("limiter holds %d keys, max 100", n)
	}
	ok1, _ := l.allow("k", now)
	ok2, _ := l.allow("k", now)
	ok3, wait := l.allow("k", now)
	if !ok1 || !ok2 || ok3 || wait != 30*time.Second {
		t.Errorf("allow = %v %v %v (wait %v)", ok1, ok2, ok3, wait)
	}
	if ok, _ := l.allow("k", now.Add(30*time.Second)); !ok {
		t.Error("no token after the refill time")
	}
}
