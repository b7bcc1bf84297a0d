package admin

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bulletin/bulletin/list"
)

// ui adapts an admin page handler: a live session is required (else the
// login form), unsafe methods need the session's CSRF token and pass the
// origin check, errors become the admin error page.
func (s *Server) ui(fn handlerFunc) http.Handler {
	return s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		sess, ok, err := s.session(r)
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		if !ok {
			s.signedOut(w, r)
			return
		}
		info(r).u, info(r).sid = sess.user, sess.id
		if !safeMethod(r.Method) {
			err = checkCSRF(w, r, s.csrfToken("session", sess.id))
		}
		if err == nil {
			err = fn(w, r)
		}
		if err != nil {
			s.uiError(w, r, err)
		}
	}))
}

// uiPublic adapts the admin pages that need no session (login): the origin
// check still applies.
func (s *Server) uiPublic(fn handlerFunc) http.Handler {
	return s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := fn(w, r); err != nil {
			s.uiError(w, r, err)
		}
	}))
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// page renders an admin page in the layout, with the user, the CSRF token
// and the outbox banner.
func (s *Server) page(w http.ResponseWriter, r *http.Request, name string, data any) error {
	return s.pageStatus(w, r, http.StatusOK, name, view{Data: data})
}

// pageStatus is page with a status and the whole view (for notices).
func (s *Server) pageStatus(w http.ResponseWriter, r *http.Request, status int, name string, v view) error {
	v.Outbox = s.outbox
	// An error page for a store that fails is still rendered, without
	// the user.
	if sess, ok, _ := s.session(r); ok {
		v.User, v.Role = sess.user.Name, string(sess.user.Role)
		v.CSRF = s.csrfToken("session", sess.id)
	}
	if v.Nav == "" {
		v.Nav = name
	}
	return s.adm.render(w, status, name, v)
}

// uiError answers err with the admin error page.
func (s *Server) uiError(w http.ResponseWriter, r *http.Request, err error) {
	ei := s.errorInfo(r, err)
	if started(w) {
		return
	}
	setErrorHeaders(w, ei)
	w.Header().Set("Cache-Control", "no-store")
	v := view{Error: ei.msg, Data: errorPage{Status: ei.status, Message: ei.msg}}
	if rerr := s.pageStatus(w, r, ei.status, "error", v); rerr != nil {
		s.logger(r).Error("render error page", "err", rerr)
		http.Error(w, ei.msg, ei.status)
	}
}

// loginView is the data of the login form.
type loginView struct {
	Username string
	// Next is the page to go to once signed in (safeNext), "" for the
	// dashboard.
	Next string
	// Here, when the form answers a POST, is a GET address of the same
	// form: admin.js puts it in the browser's history in place of the
	// POST, so that Back or a reload does not send that POST again.
	Here string
}

// errSignedOut answers a form sent without a live session.
const errSignedOut = "You are signed out: your session ended, or was closed from another browser. Sign in again; what you sent was not saved."

// loginPage shows the login form, with a fresh login cookie whose CSRF
// token the form carries.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, status int, lv loginView, msg string) error {
	pre := ""
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) >= 32 {
		pre = c.Value
	} else {
		pre = randomID()
		s.setCookie(w, r, loginCookie, pre, 3600)
	}
	if r.Method == http.MethodPost {
		lv.Here = "/admin/login"
		if lv.Next != "" {
			lv.Here += "?next=" + url.QueryEscape(lv.Next)
		}
	}
	v := view{Data: lv, Error: msg, CSRF: s.csrfToken("login", pre), Nav: "login"}
	v.Outbox = s.outbox
	return s.adm.render(w, status, "login", v)
}

// loginForm shows the login form, or goes on to ?next= (safeNext) or the
// dashboard when logged in.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) error {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok, err := s.session(r); err != nil || ok {
		if err == nil {
			http.Redirect(w, r, cmp.Or(next, "/admin/"), http.StatusSeeOther)
		}
		return err
	}
	return s.loginPage(w, r, http.StatusOK, loginView{Next: next}, "")
}

// login checks the CSRF token of the login form, then the password (under
// the login limits), and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	want := ""
	if c, err := r.Cookie(loginCookie); err == nil && c.Value != "" {
		want = s.csrfToken("login", c.Value)
	}
	if err := checkCSRF(w, r, want); err != nil {
		return err
	}
	name := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	if name == "" || password == "" || len(name) > 100 || len(password) > 1000 {
		return s.loginPage(w, r, http.StatusUnauthorized, loginView{Username: list.Truncate(name, 100), Next: next}, "Wrong user name or password.")
	}
	u, err := s.checkPassword(r, name, password)
	if errors.Is(err, list.ErrUnauthorized) {
		s.logger(r).Info("login failed")
		return s.loginPage(w, r, http.StatusUnauthorized, loginView{Username: name, Next: next}, "Wrong user name or password.")
	}
	if msg, ok := lockedMessage(w, err); ok {
		return s.loginPage(w, r, http.StatusTooManyRequests, loginView{Username: name, Next: next}, msg)
	}
	if err != nil {
		return err
	}
	if c, err := r.Cookie(sessionCookie); err == nil { // no fixation: always a new id
		if err := s.svc.EndSession(r.Context(), c.Value); err != nil {
			return err
		}
	}
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	s.setCookie(w, r, loginCookie, "", -1)
	s.logger(r).Info("login", "user_id", u.ID)
	http.Redirect(w, r, cmp.Or(next, "/admin/"), http.StatusSeeOther)
	return nil
}

// lockedMessage words a login lock for a form, and sets its Retry-After
// header; ok is false when err is no lock.
func lockedMessage(w http.ResponseWriter, err error) (msg string, ok bool) {
	var le *limitedError
	if !errors.As(err, &le) {
		return "", false
	}
	setErrorHeaders(w, classify(le))
	return fmt.Sprintf("Too many wrong passwords. Try again in %s.", waitWords(le.after)), true
}

// logout ends the session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.svc.EndSession(r.Context(), c.Value); err != nil {
			return err
		}
	}
	s.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
	return nil
}
