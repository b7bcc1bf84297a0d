package admin

import (
	"encoding/json"
	"net/http"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// listJSON is a list as the API shows it (DESIGN.md "JSON API"), plus the
// custom fields (attributes) the list asks for on its forms.
type listJSON struct {
	ID          list.ListID `json:"id"`
	Slug        string      `json:"slug"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	OptIn       list.OptIn  `json:"optin"`
	Public      bool        `json:"public"`
	ConsentText string      `json:"consent_text"`
	From        string      `json:"from"`
	WelcomeText string      `json:"welcome_text"`
	// ConfirmText and ReminderText are the list's wording of the
	// confirmation and of the reminder; "" is the default wording.
	ConfirmText  string      `json:"confirm_text"`
	ReminderText string      `json:"reminder_text"`
	Attributes   []string    `json:"attributes"`
	Counts       list.Counts `json:"counts"`
	// Address rules (list.CheckAddress).
	AllowDomains  []string `json:"allow_domains"`
	BlockDomains  []string `json:"block_domains"`
	BlockFreeMail bool     `json:"block_free_mail"`
	AllowRoles    bool     `json:"allow_roles"`
}

func newListJSON(l list.List, c list.Counts) listJSON {
	attrs := l.Attributes
	if attrs == nil {
		attrs = []string{}
	}
	return listJSON{ID: l.ID, Slug: l.Slug, Name: l.Name, Description: l.Description, OptIn: l.OptIn,
		Public: l.Public, ConsentText: l.ConsentText, From: l.From, WelcomeText: l.WelcomeText,
		ConfirmText: l.ConfirmText, ReminderText: l.ReminderText,
		Attributes: attrs, Counts: c, AllowDomains: nonNil(l.AllowDomains), BlockDomains: nonNil(l.BlockDomains),
		BlockFreeMail: l.BlockFreeMail, AllowRoles: l.AllowRoles}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// listBody is the body of POST and PUT: the editable fields, and the
// read-only ones so that a GET answer can be sent back as is (they must
// then be unchanged).
type listBody struct {
	list.ListPatch
	ID     *list.ListID    `json:"id"`
	Slug   *string         `json:"slug"`
	Counts json.RawMessage `json:"counts"`
}

// apiLists answers every list with its counts, by id, paged.
func (s *Server) apiLists(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := paging(r)
	if err != nil {
		return err
	}
	ls, err := s.svc.Lists(r.Context())
	if err != nil {
		return err
	}
	p := page[listJSON]{Items: []listJSON{}, Total: len(ls)}
	for _, l := range ls {
		if uint64(l.ID) <= after {
			continue
		}
		if len(p.Items) == limit {
			next := uint64(p.Items[len(p.Items)-1].ID)
			p.Next = &next
			break
		}
		p.Items = append(p.Items, newListJSON(l.List, l.Counts))
	}
	return writeJSON(w, http.StatusOK, p)
}

// apiList answers one list.
func (s *Server) apiList(w http.ResponseWriter, r *http.Request) error {
	l, err := s.svc.ListBySlug(r.Context(), mux.Vars(r)["slug"])
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newListJSON(l.List, l.Counts))
}

// apiCreateList creates a list: 201 with the whole list, 409 for a taken slug.
func (s *Server) apiCreateList(w http.ResponseWriter, r *http.Request) error {
	var b listBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.ID != nil || b.Counts != nil {
		return newHTTPError(http.StatusUnprocessableEntity, "id and counts are set by the server")
	}
	if b.Slug == nil {
		return newHTTPError(http.StatusUnprocessableEntity, "slug is required")
	}
	l := list.List{Slug: *b.Slug, OptIn: list.OptInDouble, Welcome: true, Reminder: true}
	applyListPatch(&l, b.ListPatch)
	l, err := s.svc.CreateList(r.Context(), l, s.origin(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, newListJSON(l, list.Counts{}))
}

// applyListPatch sets the fields of a new list that p carries.
func applyListPatch(l *list.List, p list.ListPatch) {
	str := func(dst, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	boolean := func(dst, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	str(&l.Name, p.Name)
	str(&l.Description, p.Description)
	str(&l.ConsentText, p.ConsentText)
	str(&l.From, p.From)
	str(&l.WelcomeText, p.WelcomeText)
	str(&l.ConfirmText, p.ConfirmText)
	str(&l.ReminderText, p.ReminderText)
	boolean(&l.Public, p.Public)
	boolean(&l.Welcome, p.Welcome)
	boolean(&l.Reminder, p.Reminder)
	if p.OptIn != nil {
		l.OptIn = *p.OptIn
	}
	if p.Attributes != nil {
		l.Attributes = *p.Attributes
	}
	p.ApplyRules(l)
}

// apiUpdateList applies a partial update: 200 with the whole list.
func (s *Server) apiUpdateList(w http.ResponseWriter, r *http.Request) error {
	slug := mux.Vars(r)["slug"]
	var b listBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	cur, err := s.svc.ListBySlug(r.Context(), slug)
	if err != nil {
		return err
	}
	if b.Slug != nil && *b.Slug != slug {
		return newHTTPError(http.StatusUnprocessableEntity, "slug cannot be changed")
	}
	if b.ID != nil && *b.ID != cur.ID {
		return newHTTPError(http.StatusUnprocessableEntity, "id cannot be changed")
	}
	l, err := s.svc.UpdateList(r.Context(), slug, b.ListPatch, s.origin(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newListJSON(l, cur.Counts))
}

// apiDeleteList deletes a list and its subscriptions: 204.
func (s *Server) apiDeleteList(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteList(r.Context(), mux.Vars(r)["slug"], s.origin(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
