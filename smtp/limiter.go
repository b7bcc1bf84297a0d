package smtp

import (
	"context"
	"sync"
	"time"
)

// limiter spaces messages evenly at a rate shared by all callers: a token
// bucket holding one token, so that the relay never sees a burst.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time // when the next message may go
}

func newLimiter(perSecond float64) *limiter {
	return &limiter{interval: time.Duration(float64(time.Second) / perSecond)}
}

// wait blocks until the caller may send one message, or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
