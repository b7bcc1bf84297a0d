package admin

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// privacyRoutes adds the routes of subscriber privacy (issue 7): the open
// pixel and click redirect of opt-in tracking, and the audit log.
func (s *Server) privacyRoutes(r *mux.Router) {
	s.pub.privacy = func() string { return s.svc.Config().PrivacyURL }

	// The only GETs that write: aggregate counters, and per-person events
	// only for a subscriber who consented.
	r.Handle("/t/o/{token}.gif", s.tokenPage(s.trackOpen)).Methods("GET", "HEAD")
	r.Handle("/t/c/{token}", s.tokenPage(s.trackClick)).Methods("GET", "HEAD")

	r.Handle("/api/v1/audit", s.api(s.apiAudit)).Methods("GET")
	r.Handle("/admin/audit", s.ui(s.auditPage)).Methods("GET", "HEAD")
}

// trackRequest is what the tracking endpoints tell list of a request.
func trackRequest(r *http.Request) list.TrackRequest {
	return list.TrackRequest{Method: r.Method, UserAgent: r.UserAgent(),
		NoTrack: strings.TrimSpace(r.Header.Get("DNT")) == "1" || strings.TrimSpace(r.Header.Get("Sec-GPC")) == "1"}
}

// pixel is a transparent 1×1 GIF.
var pixel = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// trackOpen counts an open and answers the pixel.
func (s *Server) trackOpen(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RecordOpen(r.Context(), mux.Vars(r)["token"], trackRequest(r)); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/gif")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(pixel)
	return err
}

// trackClick counts a click and redirects to a link of the campaign; any
// other target is shown on a page, never redirected to.
func (s *Server) trackClick(w http.ResponseWriter, r *http.Request) error {
	target := r.URL.Query().Get("u")
	res, err := s.svc.RecordClick(r.Context(), mux.Vars(r)["token"], target, trackRequest(r))
	if err != nil {
		return err
	}
	if !res.Verified {
		return s.pub.render(w, http.StatusOK, "track_link", view{Title: "Leaving this site", Data: res})
	}
	http.Redirect(w, r, res.Target, http.StatusFound)
	return nil
}

// auditJSON is an audit entry as the API shows it.
type auditJSON struct {
	ID     uint64  `json:"id"`
	At     rfcTime `json:"at"`
	User   string  `json:"user"`
	Action string  `json:"action"`
	Target string  `json:"target"`
	// IP is "" for what the system did on its own (retention, say).
	IP string `json:"ip"`
}

// apiAudit answers the audit log, oldest first, paged (admins only).
func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) error {
	es, next, err := s.auditEntries(r)
	if err != nil {
		return err
	}
	total, err := s.svc.AuditCount(r.Context())
	if err != nil {
		return err
	}
	p := page[auditJSON]{Items: make([]auditJSON, 0, len(es)), Total: total, Next: next}
	for _, e := range es {
		p.Items = append(p.Items, auditJSON{ID: e.ID, At: rfcTime(e.At), User: e.User, Action: e.Action, Target: e.Target, IP: e.IP})
	}
	return writeJSON(w, http.StatusOK, p)
}

// auditView is the data of the audit page: a page of entries, newest
// first, the cursor of the older ones, and whether newer ones exist.
type auditView struct {
	Entries []list.AuditEntry
	Older   *uint64
	Newer   bool
}

// auditPage shows the audit log (admins only), newest first: who did what
// lately is what an admin comes to it for. ?before= pages back.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) error {
	if err := requireRole(r, list.RoleAdmin); err != nil {
		return err
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	var before uint64
	if v := r.URL.Query().Get("before"); v != "" {
		if before, err = strconv.ParseUint(v, 10, 64); err != nil {
			return newHTTPError(http.StatusUnprocessableEntity, "before must be a cursor from a previous page")
		}
	}
	es, older, err := s.svc.AuditNewest(r.Context(), before, limit)
	if err != nil {
		return err
	}
	return s.page(w, r, "audit", auditView{Entries: es, Older: older, Newer: before > 0})
}

// auditEntries reads the page of the audit log r asks for, for an admin.
func (s *Server) auditEntries(r *http.Request) ([]list.AuditEntry, *uint64, error) {
	if err := requireRole(r, list.RoleAdmin); err != nil {
		return nil, nil, err
	}
	limit, after, err := paging(r)
	if err != nil {
		return nil, nil, err
	}
	return s.svc.Audit(r.Context(), after, limit)
}

// apiExportSubscriberData answers everything held about a subscriber.
func (s *Server) apiExportSubscriberData(w http.ResponseWriter, r *http.Request) error {
	id, err := subscriberID(r)
	if err != nil {
		return err
	}
	x, err := s.svc.ExportSubscriber(r.Context(), id, s.origin(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}
