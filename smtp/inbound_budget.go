package smtp

import (
	"io"
	"sync"

	gosmtp "github.com/emersion/go-smtp"
)

// errNoMemory refuses a message that would take the inbound server over its
// memory budget: the sender keeps it and retries (RFC 5321 section 4.2.2,
// RFC 3463 4.3.1).
var errNoMemory = &gosmtp.SMTPError{Code: 452, EnhancedCode: gosmtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage, try again later"}

// budgetStep is the least a message buffer grows by, so that a small report
// takes the budget once or twice rather than for every read.
const budgetStep = 64 << 10

// memoryBudget bounds the bytes of message data all sessions hold at once.
// Each message is held whole in memory from its first byte until it is
// handled, so without a bound the connection limit times the size limit
// (2 GB by default) could be taken by anyone who can connect.
type memoryBudget struct {
	mu   sync.Mutex
	used int64
	max  int64
}

// take reserves n bytes, or reports false when they do not fit. It never
// waits: sessions waiting for each other's budget could all stall halfway
// through their messages.
func (b *memoryBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

// fits reports whether n bytes would fit now, without taking them.
func (b *memoryBudget) fits(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used+n <= b.max
}

// give returns n bytes taken before.
func (b *memoryBudget) give(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

// readBudgeted reads r whole, taking the budget for its buffer as the buffer
// grows and adding what it took to *held, which the caller gives back once
// the data is no longer needed (even when readBudgeted fails). The budget
// counts what a message really occupies, so that many small reports are
// never refused for room that a large one might have needed; a message that
// does not fit fails with errNoMemory, and go-smtp then discards the rest
// of its data as it reads it.
func readBudgeted(r io.Reader, b *memoryBudget, held *int64) ([]byte, error) {
	var buf []byte
	for {
		if len(buf) == cap(buf) {
			// A quarter more each time, as append does for large slices:
			// few copies, and at most a quarter of the buffer unused.
			grow := max(budgetStep, cap(buf)/4)
			if !b.take(int64(grow)) {
				return nil, errNoMemory
			}
			*held += int64(grow)
			buf = append(make([]byte, 0, cap(buf)+grow), buf...)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
