package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

// loggedIn reports whether b's cookies still open the dashboard, rather
// than the login form.
func (b *browser) loggedIn(t *testing.T) bool {
	t.Helper()
	res, body := b.do(httptest.NewRequest("GET", "/admin/", nil))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/ = %d\n%s", res.StatusCode, body)
	}
	return !strings.Contains(body, `action="/admin/login"`)
}

// loginAs logs a new browser in as name (password name+"-password") and
// returns it with the CSRF token of its account page.
func (e *env) loginAs(t *testing.T, name string) (*browser, string) {
	t.Helper()
	b := e.browser()
	if res, _ := b.login(t, name, name+"-password"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s = %d", name, res.StatusCode)
	}
	_, body := b.do(httptest.NewRequest("GET", "/admin/account", nil))
	return b, csrf(t, body)
}

func TestSessionSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	b, token := e.loginAs(t, "root")
	// A login form shown before the restart, posted after it.
	late := e.browser()
	_, loginForm := late.do(httptest.NewRequest("GET", "/admin/", nil))

	e.restart()
	if !b.loggedIn(t) {
		t.Fatal("a restart logged the session out")
	}
	res, body := b.do(formReq("/admin/lists", url.Values{"csrf": {token}, "slug": {"team"}, "name": {"Team"}}))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a form rendered before the restart, posted after it = %d\n%s", res.StatusCode, body)
	}
	if _, err := e.db.ListBySlug(t.Context(), "team"); err != nil {
		t.Fatalf("the form's list was not made: %v", err)
	}
	res, _ = late.do(formReq("/admin/login", url.Values{"csrf": {csrf(t, loginForm)}, "username": {"root"}, "password": {"root-password"}}))
	if res.StatusCode != http.StatusSeeOther || !late.loggedIn(t) {
		t.Errorf("a login form rendered before the restart, posted after it = %d", res.StatusCode)
	}

	old := b.cookies[sessionCookie].Value
	if res, _ := b.do(formReq("/admin/logout", url.Values{"csrf": {token}})); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout after the restart = %d", res.StatusCode)
	}
	e.restart()
	replay := &browser{e: e, cookies: map[string]*http.Cookie{sessionCookie: {Name: sessionCookie, Value: old}}}
	if b.loggedIn(t) || replay.loggedIn(t) {
		t.Error("a session logged out of lives on after a restart")
	}
	if !late.loggedIn(t) {
		t.Error("logging one browser out ended another")
	}
}

func TestSessionExpiresAcrossRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	b, _ := e.loginAs(t, "root")
	// Used just before the idle limit: the use is stored, so the session
	// has a whole idle period again after the restart.
	e.advance(list.SessionIdle - time.Minute)
	if !b.loggedIn(t) {
		t.Fatal("session ended before its idle limit")
	}
	e.restart()
	e.advance(list.SessionIdle - time.Minute)
	if !b.loggedIn(t) {
		t.Fatal("the last use before the restart was not kept")
	}
	e.restart()
	e.advance(list.SessionIdle)
	if b.loggedIn(t) {
		t.Error("a session idle for longer than its limit is still accepted")
	}
}

func TestPasswordChangeEndsOtherSessionsAcrossRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	e.addUser("ed", list.RoleEditor)
	ed, token := e.loginAs(t, "ed")
	other, _ := e.loginAs(t, "ed")
	root, rootToken := e.loginAs(t, "root")
	e.restart()

	res, body := ed.do(formReq("/admin/account/password", url.Values{"csrf": {token}, "current": {"ed-password"},
		"new": {"new-password-1"}, "confirm": {"new-password-1"}}))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change after a restart = %d\n%s", res.StatusCode, body)
	}
	e.restart()
	if other.loggedIn(t) {
		t.Error("another session of a user whose password changed is still logged in")
	}
	if !ed.loggedIn(t) || !root.loggedIn(t) {
		t.Fatal("the password change ended the session that made it, or another user's")
	}

	// Deleting the user ends the session they still have.
	u, err := e.db.UserByName(t.Context(), "ed")
	if err != nil {
		t.Fatal(err)
	}
	res, _ = root.do(formReq(fmt.Sprintf("/admin/users/%d/delete", u.ID), url.Values{"csrf": {rootToken}}))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete user = %d", res.StatusCode)
	}
	e.restart()
	if ed.loggedIn(t) {
		t.Error("a deleted user's session is still logged in")
	}
}

func TestAPIPasswordChangeEndsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	e.addUser("ed", list.RoleEditor)
	ed, _ := e.loginAs(t, "ed")
	res, body := e.do(apiReq("PUT", "/api/v1/users/ed/password", "root", `{"password":"new-password-1"}`))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("API password change = %d %s", res.StatusCode, body)
	}
	if ed.loggedIn(t) {
		t.Error("a session outlived a password change through the API")
	}
}
