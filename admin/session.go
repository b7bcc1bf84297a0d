package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/bulletin/bulletin/list"
)

// Cookies of the admin UI; both live under /admin only, so they never
// reach the public pages or the API.
const (
	sessionCookie = "bulletin_session"
	// loginCookie ties the login form's CSRF token to the browser before
	// there is a session.
	loginCookie = "bulletin_login"
	cookiePath  = "/admin"
	csrfField   = "csrf"
	csrfHeader  = "X-CSRF-Token"
	// sessionIdle ends a session unused this long; sessionMax ends any.
	sessionIdle = 12 * time.Hour
	sessionMax  = 7 * 24 * time.Hour
	maxSessions = 10000
	// maxUIForm bounds admin form bodies.
	maxUIForm = 1 << 20
)

// session is a logged-in browser.
type session struct {
	id      string
	user    list.User
	created time.Time
	seen    time.Time
	// newToken is an API token just made, kept for the one page that
	// shows it after the redirect (POST-redirect-GET): never in a URL, and
	// gone once shown.
	newToken string
}

// sessions are kept in memory: a restart logs everyone out.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func newSessions() *sessions { return &sessions{m: make(map[string]*session)} }

func randomID() string {
	b := make([]byte, 32)
	rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for u and returns it.
func (ss *sessions) create(u list.User, now time.Time) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= maxSessions {
		ss.expire(now)
		if len(ss.m) >= maxSessions { // drop the least recently seen
			var old *session
			for _, s := range ss.m {
				if old == nil || s.seen.Before(old.seen) {
					old = s
				}
			}
			delete(ss.m, old.id)
		}
	}
	s := &session{id: randomID(), user: u, created: now, seen: now}
	ss.m[s.id] = s
	return s
}

func (ss *sessions) expire(now time.Time) {
	for id, s := range ss.m {
		if !s.live(now) {
			delete(ss.m, id)
		}
	}
}

func (s *session) live(now time.Time) bool {
	return now.Sub(s.seen) < sessionIdle && now.Sub(s.created) < sessionMax
}

// get returns the live session id names and marks it seen.
func (ss *sessions) get(id string, now time.Time) (session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return session{}, false
	}
	if !s.live(now) {
		delete(ss.m, id)
		return session{}, false
	}
	s.seen = now
	return *s, true
}

// setNewToken keeps secret in session id for one display.
func (ss *sessions) setNewToken(id, secret string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s, ok := ss.m[id]; ok {
		s.newToken = secret
	}
}

// takeNewToken returns the token kept in session id and forgets it, so
// that a reload does not show it again.
func (ss *sessions) takeNewToken(id string) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return ""
	}
	v := s.newToken
	s.newToken = ""
	return v
}

func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

// session returns the request's live session.
func (s *Server) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, false
	}
	return s.sessions.get(c.Value, s.now())
}

// csrfToken derives the CSRF token of a session (or of a login cookie):
// an HMAC of its id, so nothing more is stored.
func (s *Server) csrfToken(kind, id string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF compares the request's token (form field or header) with want.
func checkCSRF(w http.ResponseWriter, r *http.Request, want string) error {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		if err := parseBody(w, r, maxUIForm); err != nil {
			return err
		}
		got = r.PostForm.Get(csrfField)
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errCSRF
	}
	return nil
}

var errCSRF = newHTTPError(http.StatusForbidden, "The form expired or did not come from this site. Reload the page and try again.")

// setCookie sets an admin cookie: HttpOnly, SameSite=Lax, Secure when the
// request came over TLS. maxAge < 0 deletes it.
func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
}

// denyCrossOrigin answers a request refused by the origin check.
func (s *Server) denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	s.uiError(w, r, newHTTPError(http.StatusForbidden, "Cross-origin request refused."))
}
