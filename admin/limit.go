package admin

import (
	"net/netip"
	"sync"
	"time"
)

// maxLimiterKeys bounds the memory of each per-client table.
const maxLimiterKeys = 20000

// clientKey is the rate-limit key of a client address: the address for
// IPv4, its /64 for IPv6 (one subscriber line usually holds a whole /64).
func clientKey(ip netip.Addr) string {
	if !ip.IsValid() {
		return "unknown"
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// limiter is a token bucket per key, in memory, with a bounded number of
// keys.
type limiter struct {
	mu      sync.Mutex
	burst   float64
	refill  time.Duration // time to earn one token
	max     int
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newLimiter allows rate requests per every, in bursts of up to rate.
func newLimiter(rate int, every time.Duration, maxKeys int) *limiter {
	return &limiter{burst: float64(rate), refill: every / time.Duration(rate), max: maxKeys,
		buckets: make(map[string]*bucket)}
}

// allow takes a token for key; when there is none it says how long until
// there is one.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	l.fill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) * float64(l.refill))
	return false, wait
}

func (l *limiter) fill(b *bucket, now time.Time) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(l.burst, b.tokens+float64(el)/float64(l.refill))
		b.last = now
	}
}

// sweep forgets full buckets (they hold no information); if the table is
// still full, it forgets half of it, arbitrarily.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if l.fill(b, now); b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max/2 {
			break
		}
		delete(l.buckets, k)
	}
}
