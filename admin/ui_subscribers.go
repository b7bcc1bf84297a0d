package admin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// subscribersPage is the search page's data.
type subscribersPage struct {
	Q, List, State string
	Lists          []list.ListWithCounts
	Items          []list.SubscriberView
	Total          int
	// Next is the URL of the next page, or "". It is the whole URL, not a
	// query string after a literal "?": html/template escapes a value in a
	// query as one component, which would turn "a=1&b=2" into one key.
	Next string
}

// searchRequest reads the search form (?q=&list=&state=&after=).
func searchRequest(r *http.Request, limit int) (list.SearchRequest, error) {
	q := r.URL.Query()
	req := list.SearchRequest{Q: strings.TrimSpace(q.Get("q")), List: q.Get("list"), State: list.State(q.Get("state")), Limit: limit}
	// A whole address is searched as the prefix of its identity (the
	// domain in IDNA), so that the list and state filters still apply and
	// "ann@example.c" finds ann@example.com as "ann@example.co" does.
	if strings.Contains(req.Q, "@") && !strings.HasSuffix(req.Q, "@") {
		if a, err := list.ParseAddress(req.Q); err == nil {
			req.Q = a.Identity
		}
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return req, newHTTPError(http.StatusUnprocessableEntity, "after must be a cursor from a previous page")
		}
		req.After = list.SubscriberID(n)
	}
	if req.State != "" && !req.State.Valid() {
		return req, newHTTPError(http.StatusUnprocessableEntity, "state must be unconfirmed, confirmed or unsubscribed")
	}
	return req, nil
}

func (s *Server) uiSubscribers(w http.ResponseWriter, r *http.Request) error {
	req, err := searchRequest(r, 50)
	if err != nil {
		return err
	}
	ls, err := s.svc.Lists(r.Context())
	if err != nil {
		return err
	}
	req.Count = true // the page says how many match, whatever the filter
	items, total, next, err := s.svc.SearchSubscribers(r.Context(), req)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p := subscribersPage{Q: q.Get("q"), List: req.List, State: string(req.State), Lists: ls, Items: items, Total: total}
	if next != nil {
		v := url.Values{"q": {p.Q}, "list": {p.List}, "state": {p.State}, "after": {fmt.Sprint(*next)}}
		p.Next = "/admin/subscribers?" + v.Encode()
	}
	return s.uiPage(w, r, http.StatusOK, "subscribers", "subscribers", p, "")
}

// uiExport streams the subscriptions of the subscribers of a list or a
// search as CSV, one row per subscription in the columns of
// /api/v1/export (docs/api.md), whatever the filter, so that a search's
// file reads and imports as a list's does.
func (s *Server) uiExport(w http.ResponseWriter, r *http.Request) error {
	req, err := searchRequest(r, 1000)
	if err != nil {
		return err
	}
	name := "subscribers"
	if req.List != "" {
		name = req.List
	}
	filename := name + "-" + time.Now().UTC().Format("20060102") + ".csv"
	// Audited as the API's export is; the search text stays out of the
	// log, as it may be an address.
	s.svc.RecordAudit(r.Context(), s.origin(r), "export.csv", filename)
	return s.streamCSV(w, r, filename, func(ctx context.Context, cw io.Writer) error {
		return s.svc.ExportSearchCSV(ctx, cw, req)
	})
}

// subscriberPage is one subscriber with their history.
type subscriberPage struct {
	Sub    list.SubscriberView
	Events []list.Event
	Slugs  map[list.ListID]string
	Attrs  string
	// Lists are all the lists, for the "Add to list" form; Add is what
	// that form last asked, kept when it was refused.
	Lists []list.ListWithCounts
	Add   list.ListAddition
	// AddInvalid names the fields of the "Add to list" form it refused.
	AddInvalid map[string]bool
}

// Addable are the lists the person is not confirmed on: those the "Add to
// list" form offers.
func (p subscriberPage) Addable() []list.ListWithCounts {
	var out []list.ListWithCounts
	for _, l := range p.Lists {
		if !slices.ContainsFunc(p.Sub.Subscriptions, func(s list.SubscriptionView) bool {
			return s.List == l.ID && s.State == list.StateConfirmed
		}) {
			out = append(out, l)
		}
	}
	return out
}

// Picked reports whether the "Add to list" form last asked for slug.
func (p subscriberPage) Picked(slug string) bool { return slices.Contains(p.Add.Lists, slug) }

func (s *Server) subscriberPageData(r *http.Request, id list.SubscriberID) (subscriberPage, error) {
	v, err := s.svc.Subscriber(r.Context(), id)
	if err != nil {
		return subscriberPage{}, err
	}
	evs, err := s.svc.SubscriberEvents(r.Context(), id)
	if err != nil {
		return subscriberPage{}, err
	}
	ls, err := s.svc.Lists(r.Context())
	if err != nil {
		return subscriberPage{}, err
	}
	slugs := make(map[list.ListID]string, len(ls))
	for _, l := range ls {
		slugs[l.ID] = l.Slug
	}
	return subscriberPage{Sub: v, Events: evs, Slugs: slugs, Attrs: attrText(v.Attributes), Lists: ls}, nil
}

// attrText shows attributes as name=value lines, sorted.
func attrText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + m[k] + "\n")
	}
	return b.String()
}

func (s *Server) uiSubscriber(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	p, err := s.subscriberPageData(r, list.SubscriberID(id))
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "subscriber", "subscribers", p, "")
}

func (s *Server) uiSaveSubscriber(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	name := r.PostForm.Get("name")
	attrs, err := attributesFromForm(r.PostForm.Get("attributes"))
	if err == nil {
		_, err = s.svc.PatchSubscriber(r.Context(), list.SubscriberID(id), list.SubscriberPatch{Name: &name, Attributes: &attrs}, s.origin(r))
	}
	if err != nil {
		p, perr := s.subscriberPageData(r, list.SubscriberID(id))
		if perr != nil {
			return perr
		}
		// Show what was typed, as the other forms do, so that a typo in one
		// line does not cost the rest of the edit.
		p.Sub.Name, p.Attrs = name, r.PostForm.Get("attributes")
		return s.formError(w, r, err, "subscriber", "subscribers", p)
	}
	return redirect(w, r, fmt.Sprintf("/admin/subscribers/%d", id), "sub-saved")
}

// uiSubscribeToLists puts the subscriber on the list the "Add to list"
// form names; refused input shows the page again with the message and
// what was typed.
func (s *Server) uiSubscribeToLists(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	f := r.PostForm
	a := list.ListAddition{Lists: f["list"], State: list.State(f.Get("state")), Reason: f.Get("reason")}
	if _, err := s.svc.SubscribeToLists(r.Context(), list.SubscriberID(id), a, list.HowAdmin, s.origin(r)); err != nil {
		p, perr := s.subscriberPageData(r, list.SubscriberID(id))
		if perr != nil {
			return perr
		}
		p.Add, p.AddInvalid = a, list.InvalidFields(err)
		return s.formError(w, r, err, "subscriber", "subscribers", p)
	}
	return redirect(w, r, fmt.Sprintf("/admin/subscribers/%d", id), "sub-subscribed")
}

// uiUnsubscribeFromList takes the subscriber off one list, keeping the
// subscription and its consent record.
func (s *Server) uiUnsubscribeFromList(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	_, err = s.svc.UnsubscribeFromList(r.Context(), list.SubscriberID(id), mux.Vars(r)["slug"], r.PostForm.Get("reason"), list.HowAdmin, s.origin(r))
	if err != nil {
		return err
	}
	return redirect(w, r, fmt.Sprintf("/admin/subscribers/%d", id), "sub-unsubscribed")
}

func (s *Server) uiBlocklist(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	on := formBool(r, "on")
	if _, err := s.svc.PatchSubscriber(r.Context(), list.SubscriberID(id), list.SubscriberPatch{Blocklisted: &on}, s.origin(r)); err != nil {
		return err
	}
	done := "unblocklisted"
	if on {
		done = "blocklisted"
	}
	return redirect(w, r, fmt.Sprintf("/admin/subscribers/%d", id), done)
}

func (s *Server) uiEraseForm(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	v, err := s.svc.Subscriber(r.Context(), list.SubscriberID(id))
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "confirm", "subscribers", confirmPage{
		What:   "Erase " + v.Email + "?",
		Detail: "This deletes the subscriber, their subscriptions, consent records and history. A keyed hash of the address stays on the suppression list, so no import brings them back. This cannot be undone.",
		Action: fmt.Sprintf("/admin/subscribers/%d/delete", id), Back: fmt.Sprintf("/admin/subscribers/%d", id), Button: "Erase the subscriber",
	}, "")
}

func (s *Server) uiErase(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.svc.EraseSubscriber(r.Context(), list.SubscriberID(id), s.origin(r)); err != nil {
		return err
	}
	return redirect(w, r, "/admin/subscribers", "sub-erased")
}

// newSubscriberPage is the add form's data.
type newSubscriberPage struct {
	Lists []list.ListWithCounts
	In    list.NewSubscriber
	Attrs string
}

// Has reports whether the form had slug checked.
func (p newSubscriberPage) Has(slug string) bool { return slices.Contains(p.In.Lists, slug) }

func (s *Server) uiNewSubscriber(w http.ResponseWriter, r *http.Request) error {
	ls, err := s.svc.Lists(r.Context())
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "subscriber_new", "subscribers", newSubscriberPage{Lists: ls, In: list.NewSubscriber{State: list.StateUnconfirmed}}, "")
}

func (s *Server) uiAddSubscriber(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	in := list.NewSubscriber{Email: f.Get("email"), Name: f.Get("name"), Lists: f["lists"],
		State: list.State(f.Get("state")), Reason: f.Get("reason")}
	attrs, err := attributesFromForm(f.Get("attributes"))
	var v list.SubscriberView
	if err == nil {
		in.Attributes = attrs
		v, err = s.svc.AddSubscriber(r.Context(), in, list.HowAdmin, s.origin(r))
	}
	if err != nil {
		ls, lerr := s.svc.Lists(r.Context())
		if lerr != nil {
			return lerr
		}
		return s.formError(w, r, err, "subscriber_new", "subscribers", newSubscriberPage{Lists: ls, In: in, Attrs: f.Get("attributes")})
	}
	return redirect(w, r, fmt.Sprintf("/admin/subscribers/%d", v.ID), "sub-added")
}
