package admin

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"time"
)

// Limits on failed password checks (login form, HTTP Basic on the API,
// the current password of a password change). A key that reaches its
// limit within loginWindow of its first failure is locked for loginWindow:
// every check under it answers 429 without looking at the password, so a
// right guess during the lock tells nothing. Keys count alike whether the
// account exists or not, so a lock reveals no account names.
//
//   - loginAddrMax per client address (clientKey: the IP, an IPv6 /64):
//     one address cannot spray guesses over many accounts; 10 leaves room
//     for a person who mistypes two accounts' passwords.
//   - loginAcctAddrMax per account and client address: a person who has
//     mistyped five times is told to wait rather than guess on, and a
//     stranger elsewhere cannot lock that person out with it.
//   - loginAcctMax per account from any address: guessing spread over many
//     addresses (a botnet, or IPv6 /64s, which are cheap) still meets a
//     bound, 4,800 guesses a day. It is ten times the per-address limit, so
//     reaching it takes many addresses, and it never applies to an address
//     the account signed in from within loginKnownFor: an attacker can keep
//     the owner out only of addresses the owner has not used, and only while
//     the attack goes on. A restart clears every counter.
//
// A success forgets only its own account-and-address counter: the
// address's counter stays, or anyone with one valid account could reset it
// between guesses at another, and other addresses' counters are not its
// business.
//
// The window is short, so that a locked-out person waits minutes, not
// hours, and long enough that an address gets under a thousand guesses a
// day. Bearer API tokens are not limited: they hold 192 random bits.
const (
	loginWindow      = 15 * time.Minute
	loginAddrMax     = 10
	loginAcctAddrMax = 5
	loginAcctMax     = 50
	loginKnownFor    = 30 * 24 * time.Hour
)

// failCount is the failures of one key in the window opened by the first.
type failCount struct {
	n     int
	first time.Time
	until time.Time // locked before this
}

// failTable counts failures per key; it is guarded by its loginGuard.
type failTable struct {
	limit int
	max   int
	m     map[string]*failCount
}

func newFailTable(limit int) *failTable {
	return &failTable{limit: limit, max: maxLimiterKeys, m: make(map[string]*failCount)}
}

// wait is how long key stays locked at now; 0 when it is not.
func (t *failTable) wait(key string, now time.Time) time.Duration {
	if f := t.m[key]; f != nil && now.Before(f.until) {
		return f.until.Sub(now)
	}
	return 0
}

// fail counts a failure of key and reports whether it locked the key.
func (t *failTable) fail(key string, now time.Time) bool {
	f := t.m[key]
	if f == nil {
		if len(t.m) >= t.max {
			t.sweep(now)
		}
		f = &failCount{}
		t.m[key] = f
	}
	if now.Sub(f.first) >= loginWindow {
		f.n, f.first = 0, now
	}
	f.n++
	if f.n < t.limit {
		return false
	}
	f.n, f.first, f.until = 0, now, now.Add(loginWindow)
	return true
}

// sweep forgets the keys that hold no information; then, while more than
// half the table is left, keys not locked (a locked key cost an attacker
// its limit in failures, so a flood of fresh keys does not push it out),
// and last any key. Halving it leaves room for many keys before the next
// sweep.
func (t *failTable) sweep(now time.Time) {
	for k, f := range t.m {
		if now.Sub(f.first) >= loginWindow && !now.Before(f.until) {
			delete(t.m, k)
		}
	}
	for _, locked := range []bool{false, true} {
		for k, f := range t.m {
			if len(t.m) < t.max/2 {
				return
			}
			if now.Before(f.until) == locked {
				delete(t.m, k)
			}
		}
	}
}

// loginGuard applies the login limits, in memory, with a bounded number of
// keys in each table.
type loginGuard struct {
	mu       sync.Mutex
	addr     *failTable
	acctAddr *failTable
	acct     *failTable
	// known holds, per account and address, the last successful check.
	known map[string]time.Time
	// gates lets one password check at a time run per client address, so
	// that parallel guesses cannot all pass the limit before the first
	// failure is counted. An entry lives while a check holds or awaits it.
	gates map[string]*gate
}

type gate struct {
	ch    chan struct{}
	users int
}

func newLoginGuard() *loginGuard {
	return &loginGuard{addr: newFailTable(loginAddrMax), acctAddr: newFailTable(loginAcctAddrMax),
		acct: newFailTable(loginAcctMax), known: make(map[string]time.Time), gates: make(map[string]*gate)}
}

// loginKeys are the keys of one password check. The account part is a
// hash of the lower-cased name: case variants share a counter, and a long
// name costs no memory.
type loginKeys struct {
	addr, acct, acctAddr string
}

func newLoginKeys(addr, name string) loginKeys {
	sum := sha256.Sum256([]byte(strings.ToLower(name)))
	acct := string(sum[:])
	return loginKeys{addr: addr, acct: acct, acctAddr: acct + "\x00" + addr}
}

// enter waits for the address's turn to check a password; leave ends it.
func (g *loginGuard) enter(ctx context.Context, addr string) (leave func(), err error) {
	g.mu.Lock()
	gt := g.gates[addr]
	if gt == nil {
		gt = &gate{ch: make(chan struct{}, 1)}
		g.gates[addr] = gt
	}
	gt.users++
	g.mu.Unlock()
	done := func() {
		g.mu.Lock()
		if gt.users--; gt.users == 0 {
			delete(g.gates, addr)
		}
		g.mu.Unlock()
	}
	select {
	case gt.ch <- struct{}{}:
		return func() { <-gt.ch; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}

// wait is how long a check under k must wait at now; 0 when it may run.
func (g *loginGuard) wait(k loginKeys, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := max(g.addr.wait(k.addr, now), g.acctAddr.wait(k.acctAddr, now))
	if seen, ok := g.known[k.acctAddr]; !ok || now.Sub(seen) > loginKnownFor {
		d = max(d, g.acct.wait(k.acct, now))
	}
	return d
}

// fail counts a failed check under k and returns the names of the limits
// it locked.
func (g *loginGuard) fail(k loginKeys, now time.Time) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var locked []string
	if g.addr.fail(k.addr, now) {
		locked = append(locked, "address")
	}
	if g.acctAddr.fail(k.acctAddr, now) {
		locked = append(locked, "account at address")
	}
	if g.acct.fail(k.acct, now) {
		locked = append(locked, "account")
	}
	return locked
}

// succeed forgets the failures of k's account at k's address, and notes
// the address as one the account signs in from.
func (g *loginGuard) succeed(k loginKeys, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.acctAddr.m, k.acctAddr)
	if _, ok := g.known[k.acctAddr]; !ok && len(g.known) >= maxLimiterKeys {
		for key, seen := range g.known {
			if now.Sub(seen) > loginKnownFor {
				delete(g.known, key)
			}
		}
		for key := range g.known {
			if len(g.known) < maxLimiterKeys/2 {
				break
			}
			delete(g.known, key)
		}
	}
	g.known[k.acctAddr] = now
}
