package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

// from makes a browser whose requests come from addr.
func (e *env) from(addr string) *browser {
	b := e.browser()
	b.mod = func(r *http.Request) { r.RemoteAddr = addr }
	return b
}

// basic calls the API from addr with HTTP Basic name and password.
func (e *env) basic(addr, name, password string) (*http.Response, string) {
	req := httptest.NewRequest("GET", "/api/v1/lists", nil)
	req.RemoteAddr = addr
	req.SetBasicAuth(name, password)
	return e.do(req)
}

// wantLocked checks a lock's answer: 429, a Retry-After of the whole
// window or less, and, for a page, the message saying when to try again.
func wantLocked(t *testing.T, what string, res *http.Response, body, text string) {
	t.Helper()
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%s = %d, want 429\n%s", what, res.StatusCode, body)
	}
	var secs int
	if _, err := fmt.Sscan(res.Header.Get("Retry-After"), &secs); err != nil || secs < 1 || secs > int(loginWindow/time.Second) {
		t.Errorf("%s: Retry-After %q, want 1 to %d seconds", what, res.Header.Get("Retry-After"), int(loginWindow/time.Second))
	}
	if !strings.Contains(body, text) {
		t.Errorf("%s: body lacks %q\n%s", what, text, body)
	}
}

func TestLoginFormLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	b := e.from("192.0.2.1:1234")
	for i := range loginAcctAddrMax {
		if res, body := b.login(t, "root", "guess"); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password.") {
			t.Fatalf("wrong password %d = %d, want 401", i+1, res.StatusCode)
		}
	}
	res, body := b.login(t, "root", "guess")
	wantLocked(t, "wrong password past the limit", res, body, "Too many wrong passwords. Try again in 15 minutes.")
	if !strings.Contains(body, `value="root"`) {
		t.Error("the locked form lost the user name")
	}
	res, body = b.login(t, "root", "root-password")
	wantLocked(t, "right password during the lock", res, body, "Try again in 15 minutes.")
	if b.loggedIn(t) {
		t.Fatal("the right password during the lock logged in")
	}
	// Another address is not locked out of the account.
	if res, _ := e.from("198.51.100.9:1").login(t, "root", "root-password"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("right password from another address = %d, want 303", res.StatusCode)
	}
	// Nor did that success end this address's lock.
	e.advance(loginWindow - time.Minute)
	res, body = b.login(t, "root", "root-password")
	wantLocked(t, "a minute before the end of the lock", res, body, "Try again in 1 minute.")
	e.advance(time.Minute)
	if res, _ := b.login(t, "root", "root-password"); res.StatusCode != http.StatusSeeOther || !b.loggedIn(t) {
		t.Fatalf("right password after the lock = %d, want 303", res.StatusCode)
	}
}

func TestBasicAuthLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	const addr = "192.0.2.1:1234"
	// A verified pair is cached; the lock must not answer from the cache.
	if res, body := e.basic(addr, "root", "root-password"); res.StatusCode != http.StatusOK {
		t.Fatalf("right password = %d %s", res.StatusCode, body)
	}
	for i := range loginAcctAddrMax {
		if res, _ := e.basic(addr, "root", "guess"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d = %d, want 401", i+1, res.StatusCode)
		}
	}
	res, body := e.basic(addr, "root", "guess")
	wantLocked(t, "wrong password past the limit", res, body, `"error":`)
	var v struct{ Error string }
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Error == "" {
		t.Errorf("429 body %q is not the API's error shape", body)
	}
	res, body = e.basic(addr, "root", "root-password")
	wantLocked(t, "right (cached) password during the lock", res, body, `"error":`)
	if res, _ := e.basic("198.51.100.9:1", "root", "root-password"); res.StatusCode != http.StatusOK {
		t.Fatalf("right password from another address = %d, want 200", res.StatusCode)
	}
	e.advance(loginWindow)
	if res, _ := e.basic(addr, "root", "root-password"); res.StatusCode != http.StatusOK {
		t.Fatalf("right password after the lock = %d, want 200", res.StatusCode)
	}
	// The login form and the API count together.
	for range loginAcctAddrMax {
		e.basic(addr, "root", "guess")
	}
	res, body = e.from(addr).login(t, "root", "root-password")
	wantLocked(t, "login form after API failures", res, body, "Try again in 15 minutes.")
	// A bearer token is no password guess: not limited, not locked out.
	root, err := e.db.UserByName(t.Context(), "root")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.svc.CreateAPIToken(t.Context(), root.ID, "ci", list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/v1/lists", nil)
	req.RemoteAddr = addr
	req.Header.Set("Authorization", "Bearer "+tok)
	if res, _ := e.do(req); res.StatusCode != http.StatusOK {
		t.Errorf("bearer token from a locked address = %d, want 200", res.StatusCode)
	}
}

// TestLoginAddressLockout sprays wrong passwords over many accounts from
// one client address, as the client-IP logic of the sign-up limit sees it.
func TestLoginAddressLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	e.addUser("root", list.RoleAdmin)
	viaProxy := func(client string) func(*http.Request) {
		return func(r *http.Request) { r.RemoteAddr = "10.0.0.1:1"; r.Header.Set("X-Forwarded-For", client) }
	}
	b := e.browser()
	b.mod = viaProxy("203.0.113.5")
	for i := range loginAddrMax {
		if i == loginAddrMax-1 {
			// A success does not reset the address's count, or one valid
			// account would let an address guess at the others without end.
			req := httptest.NewRequest("GET", "/api/v1/lists", nil)
			viaProxy("203.0.113.5")(req)
			req.SetBasicAuth("root", "root-password")
			if res, _ := e.do(req); res.StatusCode != http.StatusOK {
				t.Fatalf("right password between guesses = %d, want 200", res.StatusCode)
			}
		}
		if res, _ := b.login(t, fmt.Sprintf("user%d", i), "guess"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d = %d, want 401", i+1, res.StatusCode)
		}
	}
	res, body := b.login(t, "root", "root-password")
	wantLocked(t, "right password from a locked address", res, body, "Try again in 15 minutes.")
	other := e.browser()
	other.mod = viaProxy("203.0.113.6")
	if res, _ := other.login(t, "root", "root-password"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("another client behind the same proxy = %d, want 303", res.StatusCode)
	}

	// An untrusted peer cannot escape its lock with a forged header.
	for i := range loginAddrMax {
		e.basic("198.51.100.7:1", fmt.Sprintf("user%d", i), "guess")
	}
	req := httptest.NewRequest("GET", "/api/v1/lists", nil)
	req.RemoteAddr = "198.51.100.7:1"
	req.Header.Set("X-Forwarded-For", "203.0.113.99")
	req.SetBasicAuth("root", "root-password")
	res, body = e.do(req)
	wantLocked(t, "forged X-Forwarded-For from a locked peer", res, body, `"error":`)

	// An IPv6 client is its /64.
	for i := range loginAddrMax {
		e.basic("[2001:db8::1]:1", fmt.Sprintf("user%d", i), "guess")
	}
	res, body = e.basic("[2001:db8::2]:1", "root", "root-password")
	wantLocked(t, "another address of a locked /64", res, body, `"error":`)
	if res, _ := e.basic("[2001:db8:0:1::1]:1", "root", "root-password"); res.StatusCode != http.StatusOK {
		t.Errorf("another /64 = %d, want 200", res.StatusCode)
	}
}

// TestLoginAccountLockout spreads guesses at one account over many
// addresses: the account locks, except at the addresses it signs in from.
func TestLoginAccountLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	const home = "192.0.2.1:1"
	if res, _ := e.basic(home, "root", "root-password"); res.StatusCode != http.StatusOK {
		t.Fatalf("right password = %d", res.StatusCode)
	}
	for i := range loginAcctMax {
		addr := fmt.Sprintf("198.51.100.%d:1", i/loginAcctAddrMax+1)
		if res, _ := e.basic(addr, "root", "guess"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d = %d, want 401", i+1, res.StatusCode)
		}
	}
	res, body := e.basic("203.0.113.1:1", "root", "root-password")
	wantLocked(t, "right password from a new address", res, body, `"error":`)
	if res, _ := e.basic(home, "root", "root-password"); res.StatusCode != http.StatusOK {
		t.Errorf("right password from an address the account used = %d, want 200", res.StatusCode)
	}
	if res, _ := e.basic("203.0.113.1:1", "other", "guess"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("another account from a new address = %d, want 401", res.StatusCode)
	}
	e.advance(loginWindow)
	if res, _ := e.basic("203.0.113.1:1", "root", "root-password"); res.StatusCode != http.StatusOK {
		t.Errorf("right password from a new address after the lock = %d, want 200", res.StatusCode)
	}
}

// TestLoginLockoutNoEnumeration runs the same guesses at an account and at
// a name that is none: the answers are the same, lock included.
func TestLoginLockoutNoEnumeration(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	type answer struct {
		status     int
		retryAfter string
		body       string
	}
	run := func(name, addr string) []answer {
		var as []answer
		for range loginAcctAddrMax + 2 {
			res, body := e.basic(addr, name, "guess")
			as = append(as, answer{res.StatusCode, res.Header.Get("Retry-After"), body})
		}
		return as
	}
	real, none := run("root", "192.0.2.1:1"), run("nobody", "192.0.2.2:1")
	if fmt.Sprint(real) != fmt.Sprint(none) {
		t.Errorf("answers for an account %v\ndiffer from those for no account %v", real, none)
	}
	if real[len(real)-1].status != http.StatusTooManyRequests {
		t.Errorf("last answer %v, want a lock", real[len(real)-1])
	}
}

func TestPasswordChangeLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("ed", list.RoleEditor)
	b, token := e.loginAs(t, "ed")
	change := func(current string) (*http.Response, string) {
		return b.do(formReq("/admin/account/password", url.Values{"csrf": {token}, "current": {current},
			"new": {"new-password-1"}, "confirm": {"new-password-1"}}))
	}
	for i := range loginAcctAddrMax {
		if res, _ := change("guess"); res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("wrong current password %d = %d, want 422", i+1, res.StatusCode)
		}
	}
	res, body := change("ed-password")
	wantLocked(t, "right current password during the lock", res, body, "Too many wrong passwords. Try again in 15 minutes.")
	if _, err := e.svc.Authenticate(t.Context(), "ed", "ed-password"); err != nil {
		t.Fatal("the password changed during the lock")
	}
	e.advance(loginWindow)
	if res, _ := change("ed-password"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("password change after the lock = %d, want 303", res.StatusCode)
	}
}

// TestLoginParallelGuesses sends guesses at once from one address: each is
// counted before the next is checked, so no more get through than the
// limit allows.
func TestLoginParallelGuesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	const n = 4 * loginAcctAddrMax
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req := httptest.NewRequest("GET", "/api/v1/lists", nil)
			req.SetBasicAuth("root", "guess")
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			codes <- rec.Code
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[http.StatusUnauthorized] != loginAcctAddrMax || count[http.StatusTooManyRequests] != n-loginAcctAddrMax {
		t.Errorf("answers to %d parallel guesses = %v, want %d checked and the rest 429", n, count, loginAcctAddrMax)
	}
}

func TestFailTableBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ft := newFailTable(2)
	ft.max = 100
	ft.fail("locked", now)
	if !ft.fail("locked", now) {
		t.Fatal("the limit-th failure did not lock")
	}
	for i := range 1000 {
		ft.fail(fmt.Sprint("k", i), now)
	}
	if len(ft.m) > ft.max {
		t.Errorf("table holds %d keys, want at most %d", len(ft.m), ft.max)
	}
	if ft.wait("locked", now) != loginWindow {
		t.Error("a flood of new keys pushed a locked one out")
	}
	// Old keys go first.
	later := now.Add(loginWindow + time.Second)
	for i := range ft.max {
		ft.fail(fmt.Sprint("new", i), later)
	}
	for k, f := range ft.m {
		if f.first.Equal(now) && k != "locked" {
			t.Fatalf("key %s from before the window outlived a sweep", k)
		}
	}

	g := newLoginGuard()
	for i := range 2 * maxLimiterKeys {
		g.succeed(newLoginKeys(fmt.Sprint(i), "root"), now)
	}
	if len(g.known) > maxLimiterKeys || len(g.acctAddr.m) != 0 {
		t.Errorf("known addresses = %d, want at most %d", len(g.known), maxLimiterKeys)
	}
	if len(g.gates) != 0 {
		t.Errorf("gates left behind: %d", len(g.gates))
	}
}
