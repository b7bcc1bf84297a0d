package admin

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"
)

// maxNext bounds the page a sign-in goes back to.
const maxNext = 2000

// safeNext returns p when it is a page of the admin UI to go to once
// signed in, and "" otherwise, so that a crafted link cannot send the
// browser elsewhere after a sign-in (an open redirect): a path under
// "/admin/" only, so never "//host" nor "https://host"; no backslash,
// which browsers read as a slash; no control character; not the sign-in
// or sign-out routes themselves.
func safeNext(p string) string {
	if !strings.HasPrefix(p, "/admin/") || len(p) > maxNext || strings.Contains(p, `\`) {
		return ""
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return ""
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.Path == "/admin/login" || u.Path == "/admin/logout" {
		return ""
	}
	return p
}

// formPage is the page a form posted to r was on, to go back to once
// signed in: the route's "…/new" page when it has one (a form that makes
// a thing posts to the collection), else the nearest page at or above the
// path ("/admin/campaigns/7/send" comes from "/admin/campaigns/7"), else
// the dashboard. A page is a path a GET route of the router serves.
func formPage(r *http.Request) string {
	router := info(r).router
	isPage := func(p string, exact bool) bool {
		if router == nil {
			return false
		}
		var m mux.RouteMatch
		req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: p}}
		if !router.Match(req, &m) || m.MatchErr != nil || m.Route == nil {
			return false
		}
		tpl, err := m.Route.GetPathTemplate()
		return err == nil && (!exact || tpl == p)
	}
	p := strings.TrimSuffix(r.URL.Path, "/")
	// "/admin/import/new" is the import job named "new", not a form.
	if isPage(p+"/new", true) {
		return p + "/new"
	}
	for ; strings.HasPrefix(p, "/admin/"); p = p[:strings.LastIndex(p, "/")] {
		if isPage(p, false) {
			return p
		}
	}
	return "/admin/"
}

// signedOut answers a request without a live session with the sign-in
// form, which goes on to the page asked for (a GET) or to the page the
// form sent came from (a POST: with 401 and errSignedOut, as what was
// sent is not saved).
func (s *Server) signedOut(w http.ResponseWriter, r *http.Request) {
	status, msg, next := http.StatusOK, "", r.URL.RequestURI()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// A form sent after the session ended (a logout or a password
		// change elsewhere, the idle limit): "the form expired" would
		// send the editor reloading a page that only shows this form.
		status, msg, next = http.StatusUnauthorized, errSignedOut, formPage(r)
	}
	if err := s.loginPage(w, r, status, loginView{Next: safeNext(next)}, msg); err != nil {
		s.uiError(w, r, err)
	}
}
