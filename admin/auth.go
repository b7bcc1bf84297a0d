package admin

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bulletin/bulletin/list"
)

const (
	// basicCacheTTL is how long a verified Basic-auth pair is trusted
	// without running argon2id again.
	basicCacheTTL = 60 * time.Second
	// maxAuthCache bounds the cache of verified pairs.
	maxAuthCache = 1000
)

// authCache remembers recently verified credentials, keyed by a SHA-256 of
// name and password, so that the API does not pay argon2id on every call.
type authCache struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	m   map[[32]byte]authEntry
}

type authEntry struct {
	user list.User
	exp  time.Time
}

func newAuthCache(ttl time.Duration, max int) *authCache {
	return &authCache{ttl: ttl, max: max, m: make(map[[32]byte]authEntry)}
}

func credentialKey(name, password string) [32]byte {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (c *authCache) get(k [32]byte, now time.Time) (list.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.After(e.exp) {
		delete(c.m, k)
		return list.User{}, false
	}
	return e.user, true
}

func (c *authCache) put(k [32]byte, u list.User, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if now.After(e.exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[k] = authEntry{user: u, exp: now.Add(c.ttl)}
}

// apiAuth finds the user of an API request: a bearer token, or HTTP Basic
// against the user accounts. Cookies are ignored. Bearer tokens are not
// under the login limits: 192 random bits are not guessed, and a wrong one
// costs a hash and a lookup, not argon2id.
func (s *Server) apiAuth(r *http.Request) (list.User, error) {
	h := r.Header.Get("Authorization")
	if scheme, token, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return s.svc.AuthenticateToken(r.Context(), strings.TrimSpace(token))
	}
	name, password, ok := r.BasicAuth()
	if !ok {
		return list.User{}, list.ErrUnauthorized
	}
	return s.checkPassword(r, name, password)
}

// checkPassword verifies a name and password under the login limits
// (logins.go): while a limit holds, it answers a *limitedError without
// looking at the password, not even in the cache, so that a right guess
// during a lock is not revealed. Checks from one client address run one at
// a time, so that parallel guesses are each counted before the next.
func (s *Server) checkPassword(r *http.Request, name, password string) (list.User, error) {
	keys := newLoginKeys(clientKey(s.clientIP(r)), name)
	leave, err := s.logins.enter(r.Context(), keys.addr)
	if err != nil {
		return list.User{}, err
	}
	defer leave()
	if wait := s.logins.wait(keys, s.now()); wait > 0 {
		s.loginFailed("locked")
		return list.User{}, &limitedError{after: wait}
	}
	k := credentialKey(name, password)
	if u, ok := s.basicCache.get(k, s.now()); ok {
		return u, nil
	}
	u, err := s.svc.Authenticate(r.Context(), name, password)
	if errors.Is(err, list.ErrUnauthorized) {
		s.loginFailed("wrong")
		if locked := s.logins.fail(keys, s.now()); len(locked) > 0 {
			// The address, so that it can be blocked; not the name, which
			// may be a password typed into the wrong field.
			s.logger(r).Warn("too many failed password checks: locked", "limits", strings.Join(locked, ", "),
				"client", keys.addr, "for", loginWindow)
		}
		return list.User{}, err
	}
	if err != nil {
		return list.User{}, err
	}
	s.logins.succeed(keys, s.now())
	s.basicCache.put(k, u, s.now())
	return u, nil
}

// user is the authenticated user of the request, if any.
func user(r *http.Request) (list.User, bool) {
	ri := info(r)
	return ri.u, ri.u.ID != 0
}

// requireRole refuses a request whose user has none of roles.
func requireRole(r *http.Request, roles ...list.Role) error {
	u, ok := user(r)
	if !ok {
		return list.ErrUnauthorized
	}
	for _, role := range roles {
		if u.Role == role {
			return nil
		}
	}
	return list.ErrForbidden
}

// adminOnly wraps a handler that editors may not use: users, settings and
// backup.
func adminOnly(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := requireRole(r, list.RoleAdmin); err != nil {
			return err
		}
		return fn(w, r)
	}
}
