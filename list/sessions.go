package list

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"time"
)

// Session lifetimes of the admin UI.
const (
	// SessionIdle ends a session unused this long.
	SessionIdle = 12 * time.Hour
	// SessionMax ends any session this long after its login.
	SessionMax = 7 * 24 * time.Hour
	// SessionTouchEvery is how stale a stored SeenAt may get before a
	// request writes it again: a page load then costs a read, not a
	// committed write (an fsync) each time. A session may so end up to
	// this much before SessionIdle.
	SessionTouchEvery = time.Minute
	// maxUserSessions bounds one user's sessions, against a script that
	// logs in in a loop; the least recently seen go first.
	maxUserSessions = 100
	// maxSessionID is longer than any id StartSession makes: a longer
	// cookie is refused before it is hashed.
	maxSessionID = 100
)

// sessionHash is what the store keeps of a session id. Ids are long and
// random, so a plain SHA-256 is enough, as for API tokens.
func sessionHash(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:]
}

// StartSession starts a session for user and returns its id, whose only
// copy goes to the browser.
func (s *Service) StartSession(ctx context.Context, user UserID) (string, error) {
	id, now := RandomSecret(32), s.Now()
	ss := Session{Hash: sessionHash(id), User: user, CreatedAt: now, SeenAt: now}
	if err := s.store.CreateSession(ctx, ss, maxUserSessions); err != nil {
		return "", err
	}
	return id, nil
}

// SessionUser returns the user of the live session id and marks the
// session seen (a write at most every SessionTouchEvery). An unknown or
// expired session, or one whose user is gone, is ErrUnauthorized.
func (s *Service) SessionUser(ctx context.Context, id string) (User, error) {
	if id == "" || len(id) > maxSessionID {
		return User{}, ErrUnauthorized
	}
	h, now := sessionHash(id), s.Now()
	ss, err := s.store.Session(ctx, h)
	if err != nil {
		return User{}, unauthorizedIfMissing(err)
	}
	if !sessionLive(ss, now) {
		// Deleted now rather than left to the sweep, so that a stolen
		// expired cookie cannot be tried again and again against a row.
		if err := s.store.DeleteSession(ctx, h); err != nil {
			return User{}, err
		}
		return User{}, ErrUnauthorized
	}
	// The user is read afresh, so that a role change applies at once and
	// a deleted user's session is dead even if its row outlived them.
	u, err := s.store.User(ctx, ss.User)
	if err != nil {
		return User{}, unauthorizedIfMissing(err)
	}
	if now.Sub(ss.SeenAt) >= SessionTouchEvery {
		if err := s.store.TouchSession(ctx, h, now); err != nil {
			return User{}, unauthorizedIfMissing(err)
		}
	}
	return u, nil
}

// unauthorizedIfMissing maps a session or user that is not there to
// ErrUnauthorized, and leaves other (store) errors as they are.
func unauthorizedIfMissing(err error) error {
	if errors.Is(err, ErrNotFound) {
		return ErrUnauthorized
	}
	return err
}

// sessionLive reports whether ss may still be used at now.
func sessionLive(ss Session, now time.Time) bool {
	return now.Sub(ss.SeenAt) < SessionIdle && now.Sub(ss.CreatedAt) < SessionMax
}

// EndSession ends session id (a logout); an unknown id is no error.
func (s *Service) EndSession(ctx context.Context, id string) error {
	if id == "" || len(id) > maxSessionID {
		return nil
	}
	return s.store.DeleteSession(ctx, sessionHash(id))
}

// EndUserSessions ends every session of user but keep ("" : all of them).
func (s *Service) EndUserSessions(ctx context.Context, user UserID, keep string) error {
	var k []byte
	if keep != "" {
		k = sessionHash(keep)
	}
	_, err := s.store.DeleteUserSessions(ctx, user, k)
	return err
}

// SweepSessions deletes the expired sessions and returns how many, so that
// sessions nobody logged out of do not pile up in the store.
func (s *Service) SweepSessions(ctx context.Context) (int, error) {
	now := s.Now()
	return s.store.SweepSessions(ctx, now.Add(-SessionIdle), now.Add(-SessionMax))
}

// DeriveKey returns a 32-byte key for purpose: an HMAC-SHA256 of the
// instance secret over a label naming the purpose. Each use of the secret
// so has its own key, one cannot stand in for another, the secret itself
// stays in this package, and the key is the same after a restart.
func (s *Service) DeriveKey(purpose string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("bulletin derived key v1\x00"))
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
