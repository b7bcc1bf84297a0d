package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// bounceJSON is a bounce record as the API shows it (DESIGN.md): one per
// failed recipient, whatever the subscriber's state.
type bounceJSON struct {
	ID         list.BounceID   `json:"id"`
	Email      string          `json:"email"`
	Kind       list.BounceKind `json:"kind"`
	Action     string          `json:"action"`
	Status     string          `json:"status"`
	Diagnostic string          `json:"diagnostic"`
	Campaign   *uint64         `json:"campaign"`
	Subscriber *uint64         `json:"subscriber_id"`
	Counted    bool            `json:"counted"`
	At         rfcTime         `json:"at"`
}

func newBounceJSON(b list.Bounce) bounceJSON {
	j := bounceJSON{ID: b.ID, Email: b.Email, Kind: b.Kind, Action: b.Action, Status: b.Status,
		Diagnostic: b.Diagnostic, Counted: b.Counted, At: rfcTime(b.At)}
	if b.Campaign != 0 {
		c := uint64(b.Campaign)
		j.Campaign = &c
	}
	if b.Subscriber != 0 {
		s := uint64(b.Subscriber)
		j.Subscriber = &s
	}
	return j
}

// apiBounces answers GET /api/v1/bounces?email=&campaign=&kind=.
func (s *Server) apiBounces(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := paging(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := list.BounceFilter{Email: q.Get("email"), Kind: list.BounceKind(q.Get("kind")), After: list.BounceID(after), Limit: limit}
	if v := q.Get("campaign"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return newHTTPError(http.StatusUnprocessableEntity, "campaign must be a campaign id")
		}
		f.Campaign = list.CampaignID(n)
	}
	bs, next, total, err := s.svc.Bounces(r.Context(), f)
	if err != nil {
		return err
	}
	p := page[bounceJSON]{Items: make([]bounceJSON, 0, len(bs)), Total: total}
	for _, b := range bs {
		p.Items = append(p.Items, newBounceJSON(b))
	}
	if next != nil {
		n := uint64(*next)
		p.Next = &n
	}
	return writeJSON(w, http.StatusOK, p)
}

// requestedBounce is the bounce record the {id} of r's route names.
func (s *Server) requestedBounce(r *http.Request) (list.Bounce, error) {
	n, err := strconv.ParseUint(mux.Vars(r)["id"], 10, 64)
	if err != nil || n == 0 {
		return list.Bounce{}, list.ErrNotFound
	}
	return s.svc.Bounce(r.Context(), list.BounceID(n))
}

// apiBounce answers GET /api/v1/bounces/{id}: one record, as listed.
func (s *Server) apiBounce(w http.ResponseWriter, r *http.Request) error {
	b, err := s.requestedBounce(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newBounceJSON(b))
}

// apiBounceRaw answers GET /api/v1/bounces/{id}/raw: the report the record
// came from, as received, so that one the parser could not read (an
// unknown record) can still be read by a person.
func (s *Server) apiBounceRaw(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.bounceRaw(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "message/rfc822")
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	_, err = w.Write(raw)
	return err
}

// bounceRaw is the kept report of the bounce record r names; 404 once the
// size cap has pruned it.
func (s *Server) bounceRaw(r *http.Request) ([]byte, error) {
	b, err := s.requestedBounce(r)
	if err != nil {
		return nil, err
	}
	if len(b.Raw) == 0 {
		return nil, newHTTPError(http.StatusNotFound, "the report of this record is not kept (pruned by the size cap, or recorded without one)")
	}
	return b.Raw, nil
}

// suppressionJSON is an entry of the global suppression list; the email is
// empty for an erased person (only a keyed hash is kept).
type suppressionJSON struct {
	Email  string   `json:"email"`
	Reason string   `json:"reason"`
	How    list.How `json:"how"`
	At     rfcTime  `json:"at"`
}

// suppressionPage is a page of the suppression list: its cursor is an
// opaque string, not an id.
type suppressionPage struct {
	Items []suppressionJSON `json:"items"`
	Total int               `json:"total"`
	Next  *string           `json:"next"`
}

// apiSuppressions answers the suppression list, oldest first, paged by an
// opaque cursor, with the real total.
func (s *Server) apiSuppressions(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	ss, next, total, err := s.svc.Suppressions(r.Context(), r.URL.Query().Get("after"), limit)
	if err != nil {
		return err
	}
	p := suppressionPage{Items: make([]suppressionJSON, 0, len(ss)), Total: total, Next: next}
	for _, e := range ss {
		p.Items = append(p.Items, suppressionJSON{Email: e.Email, Reason: e.Reason, How: e.How, At: rfcTime(e.At)})
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) apiAddSuppression(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Email  string `json:"email"`
		Reason string `json:"reason"`
	}
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	e, err := s.svc.Suppress(r.Context(), b.Email, b.Reason, s.origin(r))
	if err != nil {
		return err
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	return writeJSON(w, http.StatusCreated, suppressionJSON{Email: e.Email, Reason: e.Reason, How: e.How, At: rfcTime(e.At)})
}

// apiDeleteSuppression lifts a suppression: DELETE /api/v1/suppression?email=.
func (s *Server) apiDeleteSuppression(w http.ResponseWriter, r *http.Request) error {
	email := r.URL.Query().Get("email")
	if email == "" {
		return newHTTPError(http.StatusUnprocessableEntity, "give the address as ?email=")
	}
	if err := s.svc.Unsuppress(r.Context(), email, s.origin(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
