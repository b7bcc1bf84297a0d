package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/bulletin/bulletin/list"
)

// Cookies of the admin UI; both live under /admin only, so they never
// reach the public pages or the API. The session cookie holds a random id
// whose SHA-256 the store keeps (list.Service.StartSession).
const (
	sessionCookie = "bulletin_session"
	// loginCookie ties the login form's CSRF token to the browser before
	// there is a session.
	loginCookie = "bulletin_login"
	cookiePath  = "/admin"
	csrfField   = "csrf"
	csrfHeader  = "X-CSRF-Token"
	// csrfPurpose names the CSRF key among the keys derived from the
	// instance secret.
	csrfPurpose = "admin csrf"
	// maxUIForm bounds admin form bodies.
	maxUIForm = 1 << 20
	// newTokenTTL is how long a new API token waits for the page that
	// shows it; maxNewTokens bounds how many wait.
	newTokenTTL  = 10 * time.Minute
	maxNewTokens = 1000
)

// randomID returns a random id for the login cookie.
func randomID() string {
	b := make([]byte, 32)
	rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// session is a logged-in browser: its id (the cookie) and its user.
type session struct {
	id   string
	user list.User
}

// session returns the request's live session, kept in the store by the
// list service; ok is false when there is none. The ui wrappers note it
// in the request, so that a page rendered after them does not read it
// again. A store error is returned, so that a failing disk shows an
// error page rather than a login form.
func (s *Server) session(r *http.Request) (sess session, ok bool, err error) {
	if ri := info(r); ri.sid != "" {
		return session{id: ri.sid, user: ri.u}, true, nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, false, nil
	}
	u, err := s.svc.SessionUser(r.Context(), c.Value)
	if errors.Is(err, list.ErrUnauthorized) {
		return session{}, false, nil
	}
	if err != nil {
		return session{}, false, err
	}
	return session{id: c.Value, user: u}, true, nil
}

// startSession starts a session for u and hands its id to the browser.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u list.User) error {
	id, err := s.svc.StartSession(r.Context(), u.ID)
	if err != nil {
		return err
	}
	s.setCookie(w, r, sessionCookie, id, int(list.SessionMax.Seconds()))
	return nil
}

// newTokens keeps each API token just made for the one page that shows
// it after the redirect (POST-redirect-GET): never in a URL, and gone once
// shown. They stay in memory: a restart in between costs only a token to
// revoke and make again. The key is the SHA-256 of the session id, so
// that the map holds no cookie.
type newTokens struct {
	mu sync.Mutex
	m  map[[32]byte]pendingToken
}

type pendingToken struct {
	secret string
	exp    time.Time
}

func newNewTokens() *newTokens { return &newTokens{m: make(map[[32]byte]pendingToken)} }

// put keeps secret for session id's next account page.
func (nt *newTokens) put(id, secret string, now time.Time) {
	if id == "" {
		return
	}
	nt.mu.Lock()
	defer nt.mu.Unlock()
	if len(nt.m) >= maxNewTokens {
		for k, p := range nt.m {
			if now.After(p.exp) {
				delete(nt.m, k)
			}
		}
		if len(nt.m) >= maxNewTokens {
			clear(nt.m)
		}
	}
	nt.m[sha256.Sum256([]byte(id))] = pendingToken{secret: secret, exp: now.Add(newTokenTTL)}
}

// take returns the token kept for session id and forgets it, so that a
// reload does not show it again.
func (nt *newTokens) take(id string, now time.Time) string {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	k := sha256.Sum256([]byte(id))
	p, ok := nt.m[k]
	delete(nt.m, k)
	if !ok || now.After(p.exp) {
		return ""
	}
	return p.secret
}

// csrfToken derives the CSRF token of a session (or of a login cookie):
// an HMAC of its id, so nothing more is stored. The key comes from the
// instance secret, so that a form rendered before a restart still posts
// after it.
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
