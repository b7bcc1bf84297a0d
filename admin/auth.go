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
// against the user accounts. Cookies are ignored.
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

// checkPassword verifies a name and password, through the cache, and under
// the login throttle: after repeated failures from a client address or for
// an account, each attempt waits longer before it is checked.
func (s *Server) checkPassword(r *http.Request, name, password string) (list.User, error) {
	k, now := credentialKey(name, password), s.now()
	if u, ok := s.basicCache.get(k, now); ok {
		return u, nil
	}
	ipKey, acctKey := "ip:"+clientKey(s.clientIP(r)), "user:"+strings.ToLower(name)
	d := max(s.logins.delay(ipKey, now, maxIPDelay), s.logins.delay(acctKey, now, maxAccountDelay))
	if err := s.sleep(r, d); err != nil {
		return list.User{}, err
	}
	u, err := s.svc.Authenticate(r.Context(), name, password)
	if errors.Is(err, list.ErrUnauthorized) {
		s.logins.fail(s.now(), ipKey, acctKey)
		return list.User{}, err
	}
	if err != nil {
		return list.User{}, err
	}
	s.logins.reset(ipKey, acctKey)
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
