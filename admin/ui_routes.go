package admin

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// uiRoutes registers the admin UI pages beyond login and logout, and the
// import API. It is called before the base admin routes, so its dashboard
// is the one served at /admin/.
func (s *Server) uiRoutes(r *mux.Router) {
	jobs := newImportJobs()
	get, post := []string{"GET", "HEAD"}, []string{"POST"}
	ui := func(path string, fn handlerFunc, methods []string) { r.Handle(path, s.ui(fn)).Methods(methods...) }
	admin := func(path string, fn handlerFunc, methods []string) { ui(path, adminOnly(fn), methods) }

	ui("/admin/", s.uiHome, get)

	// Account, users and API tokens.
	ui("/admin/account", s.uiAccount, get)
	ui("/admin/account/password", s.uiPassword, post)
	ui("/admin/account/tokens", s.uiCreateToken, post)
	ui("/admin/account/tokens/{id:[0-9]+}/delete", s.uiDeleteToken, post)
	admin("/admin/users", s.uiUsers, get)
	admin("/admin/users", s.uiAddUser, post)
	admin("/admin/users/{id:[0-9]+}/delete", s.uiDeleteUser, post)
	admin("/admin/settings", s.uiSettings, get)
	admin("/admin/settings", s.uiSaveSettings, post)
	admin("/admin/settings/bounces", s.uiSaveBounceRules, post)
	admin("/admin/settings/check", s.uiCheckSettings, post)
	admin("/admin/backup", s.uiBackup, get)

	// Lists.
	ui("/admin/lists", s.uiLists, get)
	ui("/admin/lists", s.uiCreateList, post)
	ui("/admin/lists/new", s.uiNewList, get)
	ui("/admin/lists/{slug}", s.uiList, get)
	ui("/admin/lists/{slug}", s.uiSaveList, post)
	ui("/admin/lists/{slug}/delete", s.uiDeleteListForm, get)
	ui("/admin/lists/{slug}/delete", s.uiDeleteList, post)

	// Subscribers and CSV.
	ui("/admin/subscribers", s.uiSubscribers, get)
	ui("/admin/subscribers", s.uiAddSubscriber, post)
	ui("/admin/subscribers/new", s.uiNewSubscriber, get)
	ui("/admin/subscribers/export", s.uiExport, get)
	ui("/admin/subscribers/{id:[0-9]+}", s.uiSubscriber, get)
	ui("/admin/subscribers/{id:[0-9]+}", s.uiSaveSubscriber, post)
	ui("/admin/subscribers/{id:[0-9]+}/blocklist", s.uiBlocklist, post)
	ui("/admin/subscribers/{id:[0-9]+}/lists", s.uiSubscribeToLists, post)
	ui("/admin/subscribers/{id:[0-9]+}/lists/{slug}/unsubscribe", s.uiUnsubscribeFromList, post)
	ui("/admin/subscribers/{id:[0-9]+}/export", s.uiExportSubscriber, get)
	ui("/admin/subscribers/{id:[0-9]+}/delete", s.uiEraseForm, get)
	ui("/admin/subscribers/{id:[0-9]+}/delete", s.uiErase, post)
	ui("/admin/import", s.uiImportForm, get)
	r.Handle("/admin/import", s.uiStream(jobs.uiUpload(s))).Methods(post...)
	ui("/admin/import/{job}", jobs.uiJob(s), get)
	ui("/admin/import/{job}/status", jobs.jobStatus(s), get)
	r.Handle("/api/v1/import", s.api(jobs.apiImport(s))).Methods(post...)
	r.Handle("/api/v1/import/{job}", s.api(jobs.jobStatus(s))).Methods(get...)

	// Campaigns.
	ui("/admin/campaigns", s.uiCampaigns, get)
	ui("/admin/campaigns", s.uiCreateCampaign, post)
	ui("/admin/campaigns/new", s.uiNewCampaign, get)
	ui("/admin/campaigns/preview", s.uiPreviewCampaign, post)
	ui("/admin/campaigns/preview.html", s.uiPreviewHTML, post)
	ui("/admin/campaigns/{id:[0-9]+}", s.uiCampaign, get)
	ui("/admin/campaigns/{id:[0-9]+}", s.uiSaveCampaign, post)
	ui("/admin/campaigns/{id:[0-9]+}/preview", s.uiPreviewPage, get)
	ui("/admin/campaigns/{id:[0-9]+}/preview", s.uiPreviewCampaign, post)
	ui("/admin/campaigns/{id:[0-9]+}/preview.html", s.uiPreviewHTML, get)
	ui("/admin/campaigns/{id:[0-9]+}/preview.html", s.uiPreviewHTML, post)
	ui("/admin/campaigns/{id:[0-9]+}/progress", s.apiCampaignProgress, get)
	ui("/admin/campaigns/{id:[0-9]+}/{action}", s.uiCampaignAction, post)

	// Templates, bounces and the outbox.
	ui("/admin/templates", s.uiTemplates, get)
	ui("/admin/templates/{slug}", s.uiSaveTemplates, post)
	ui("/admin/templates/{slug}/preview", s.uiTemplatePreview, get)
	ui("/admin/templates/{slug}/preview", s.uiTemplatePreviewPost, post)
	ui("/admin/templates/{slug}/preview.html", s.uiTemplatePreviewHTML, get)
	ui("/admin/templates/{slug}/preview.html", s.uiTemplatePreviewHTML, post)
	ui("/admin/layout", s.uiLayout, get)
	ui("/admin/layout", s.uiSaveLayout, post)
	ui("/admin/layout/reset", s.uiResetLayout, post)
	ui("/admin/layout/preview.html", s.uiLayoutPreviewHTML, get)
	ui("/admin/layout/preview.html", s.uiLayoutPreviewHTML, post)
	ui("/admin/layout/system", s.uiSystemLayout, get)
	ui("/admin/layout/system", s.uiSaveSystemLayout, post)
	ui("/admin/layout/system/reset", s.uiResetSystemLayout, post)
	ui("/admin/layout/system/preview.html", s.uiSystemLayoutPreviewHTML, get)
	ui("/admin/layout/system/preview.html", s.uiSystemLayoutPreviewHTML, post)
	ui("/admin/bounces", s.uiBounces, get)
	ui("/admin/bounces/{id:[0-9]+}", s.uiBounce, get)
	ui("/admin/bounces/{id:[0-9]+}/raw", s.uiBounceRaw, get)
	ui("/admin/bounces/{id:[0-9]+}/html", s.uiBounceHTML, get)
	ui("/admin/outbox", s.uiOutbox, get)
	ui("/admin/outbox/{name}", s.uiOutboxMessage, get)
	ui("/admin/outbox/{name}/raw", s.uiOutboxRaw, get)
	ui("/admin/outbox/{name}/html", s.uiOutboxHTML, get)
}

// uiStream adapts an admin handler that reads a large body itself (an
// upload): like ui, but the CSRF token comes from the X-CSRF-Token header
// or the csrf query parameter, so that the body is never parsed up front.
func (s *Server) uiStream(fn handlerFunc) http.Handler {
	return s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		sess, ok, err := s.session(r)
		if err == nil && !ok {
			s.signedOut(w, r)
			return
		}
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		info(r).u, info(r).sid = sess.user, sess.id
		got := r.Header.Get(csrfHeader)
		if got == "" {
			got = r.URL.Query().Get(csrfField)
		}
		want := s.csrfToken("session", sess.id)
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			s.uiError(w, r, errCSRF)
			return
		}
		if err := fn(w, r); err != nil {
			s.uiError(w, r, err)
		}
	}))
}

// notices are the messages a redirect after a successful form may show
// (?done=key): fixed texts, so a link cannot make the page say anything.
var notices = map[string]string{
	"list-created": "The list was created.", "list-saved": "The list was saved.", "list-deleted": "The list was deleted.",
	"sub-added": "The subscriber was added.", "sub-saved": "The subscriber was saved.", "sub-erased": "The subscriber was erased; their address stays suppressed.",
	"blocklisted": "The address is blocklisted.", "unblocklisted": "The address is no longer blocklisted.",
	"sub-subscribed": "The subscription was saved: its state is below.", "sub-unsubscribed": "The subscriber was unsubscribed from the list.",
	"campaign-created": "The draft was created.", "campaign-saved": "The draft was saved.", "campaign-deleted": "The draft was deleted.",
	"test-sent": "The test was sent.", "send": "The campaign was started.", "pause": "The campaign was paused.",
	"resume": "The campaign was resumed.", "cancel": "The campaign was cancelled.", "unschedule": "The campaign is a draft again.",
	"scheduled": "The campaign is scheduled.", "cloned": "This is a copy: a new draft.",
	"password": "Your password was changed.", "token-deleted": "The token was revoked.", "token-created": "The token was made.",
	"user-added": "The user was added.", "user-deleted": "The user was deleted.", "templates-saved": "The texts were saved.",
	"layout-saved": "The layout was saved.", "layout-reset": "The built-in layout is in use again.",
}

// uiPage renders an admin page with its section in the navigation and the
// notice a redirect asked for.
func (s *Server) uiPage(w http.ResponseWriter, r *http.Request, status int, name, nav string, data any, errMsg string) error {
	v := view{Data: data, Nav: nav, Error: errMsg, Notice: notices[r.URL.Query().Get("done")]}
	return s.pageStatus(w, r, status, name, v)
}

// formError re-renders a form with a domain error's message when the
// input was at fault (422 or 409), and passes any other error on.
func (s *Server) formError(w http.ResponseWriter, r *http.Request, err error, name, nav string, data any) error {
	ei := classify(err)
	if ei.status != http.StatusUnprocessableEntity && ei.status != http.StatusConflict && ei.status != http.StatusBadRequest && ei.status != http.StatusBadGateway {
		return err
	}
	return s.uiPage(w, r, ei.status, name, nav, data, ei.msg)
}

// redirect answers a successful form with 303 to path and a notice key.
func redirect(w http.ResponseWriter, r *http.Request, path, done string) error {
	if done != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "done=" + url.QueryEscape(done)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

// uiForm parses a form body (already parsed by the CSRF check, normally).
func uiForm(w http.ResponseWriter, r *http.Request) error {
	if r.PostForm != nil {
		return nil
	}
	return parseBody(w, r, maxUIForm)
}

func formBool(r *http.Request, name string) bool {
	v := r.PostForm.Get(name)
	return v == "1" || v == "on" || v == "true" || v == "yes"
}

// pathID reads a numeric route variable.
func pathID(r *http.Request, name string) (uint64, error) {
	n, err := strconv.ParseUint(mux.Vars(r)[name], 10, 64)
	if err != nil || n == 0 {
		return 0, list.ErrNotFound
	}
	return n, nil
}

// splitLines splits a textarea into trimmed non-empty lines (also on commas).
func splitLines(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// attributesFromForm reads "name=value" lines. A refusal names each line
// that is not one (up to maxBadLines of them), by number and as typed, and
// a name given twice, so that nothing typed is dropped unsaid.
func attributesFromForm(s string) (map[string]string, error) {
	m := map[string]string{}
	seen := map[string]int{} // name → line
	var bad []string
	n := 0
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		var why string
		switch first, dup := seen[k]; {
		case !ok:
			why = "has no “=”"
		case k == "":
			why = "has no name before “=”"
		case dup:
			why = fmt.Sprintf("gives %s again (line %d gives it)", quoteLine(k), first)
		default:
			seen[k], m[k] = i+1, strings.TrimSpace(v)
			continue
		}
		if n++; n <= maxBadLines {
			bad = append(bad, fmt.Sprintf("line %d %s %s", i+1, quoteLine(line), why))
		}
	}
	if n == 0 {
		return m, nil
	}
	if n > maxBadLines {
		bad = append(bad, fmt.Sprintf("and %d more", n-maxBadLines))
	}
	return nil, newHTTPError(http.StatusUnprocessableEntity, "attributes: write one name=value per line; "+strings.Join(bad, ", "))
}

// maxBadLines is the number of bad lines of a textarea a refusal names.
const maxBadLines = 5

// quoteLine quotes what was typed on a line of a form for a message: in
// typographic quotes, cut after 40 characters, with control characters and
// bytes that are not UTF-8 shown as "�".
func quoteLine(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "…"
	}
	return "“" + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '\uFFFD'
		}
		return r
	}, s) + "”"
}
