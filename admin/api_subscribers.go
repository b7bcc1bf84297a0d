package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// subscriberJSON is a subscriber as the API shows them (DESIGN.md "JSON
// API"); lists are named by slug. Events appear on the single-subscriber
// answers only.
type subscriberJSON struct {
	ID            list.SubscriberID  `json:"id"`
	Email         string             `json:"email"`
	Name          string             `json:"name"`
	Attributes    map[string]string  `json:"attributes"`
	Blocklisted   bool               `json:"blocklisted"`
	Subscriptions []subscriptionJSON `json:"subscriptions"`
	Events        []eventJSON        `json:"events,omitempty"`
}

type subscriptionJSON struct {
	List           string       `json:"list"`
	State          list.State   `json:"state"`
	CreatedAt      rfcTime      `json:"created_at"`
	ConfirmedAt    *rfcTime     `json:"confirmed_at"`
	UnsubscribedAt *rfcTime     `json:"unsubscribed_at"`
	Consent        *consentJSON `json:"consent,omitempty"`
	// PendingConsent is a new sign-up to a list the person had left,
	// until it is confirmed (docs/api.md).
	PendingConsent *consentJSON `json:"pending_consent,omitempty"`
}

type consentJSON struct {
	Source           string   `json:"source"`
	Text             string   `json:"text"`
	TextVersion      int      `json:"text_version"`
	PrivacyURL       string   `json:"privacy_url"`
	Reason           string   `json:"reason,omitempty"`
	At               rfcTime  `json:"at"`
	IP               string   `json:"ip,omitempty"`
	UserAgent        string   `json:"user_agent,omitempty"`
	ConfirmedAt      *rfcTime `json:"confirmed_at"`
	ConfirmIP        string   `json:"confirm_ip,omitempty"`
	ConfirmUserAgent string   `json:"confirm_user_agent,omitempty"`
}

type eventJSON struct {
	ID        list.EventID    `json:"id"`
	Kind      list.EventKind  `json:"kind"`
	How       list.How        `json:"how"`
	At        rfcTime         `json:"at"`
	List      string          `json:"list,omitempty"`
	Campaign  list.CampaignID `json:"campaign,omitempty"`
	IP        string          `json:"ip,omitempty"`
	UserAgent string          `json:"user_agent,omitempty"`
	Detail    string          `json:"detail,omitempty"`
}

// newSubscriberJSON builds the API shape; with detail it carries the
// consent records.
func newSubscriberJSON(v list.SubscriberView, detail bool) subscriberJSON {
	out := subscriberJSON{ID: v.ID, Email: v.Email, Name: v.Name, Attributes: v.Attributes,
		Blocklisted: v.Blocklisted, Subscriptions: make([]subscriptionJSON, 0, len(v.Subscriptions))}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	for _, sub := range v.Subscriptions {
		sj := subscriptionJSON{List: sub.Slug, State: sub.State, CreatedAt: rfcTime(sub.CreatedAt),
			ConfirmedAt: timePtr(sub.ConfirmedAt), UnsubscribedAt: timePtr(sub.UnsubscribedAt)}
		if detail {
			sj.Consent, sj.PendingConsent = newConsentJSON(sub.Consent), newConsentJSON(sub.PendingConsent)
		}
		out.Subscriptions = append(out.Subscriptions, sj)
	}
	return out
}

// newConsentJSON is the API shape of a consent record, nil for none.
func newConsentJSON(c *list.Consent) *consentJSON {
	if c == nil {
		return nil
	}
	return &consentJSON{Source: c.Source, Text: c.Text, TextVersion: c.TextVersion,
		PrivacyURL: c.PrivacyURL, Reason: c.Reason, At: rfcTime(c.At), IP: c.IP, UserAgent: c.UserAgent,
		ConfirmedAt: timePtr(c.ConfirmedAt), ConfirmIP: c.ConfirmIP, ConfirmUserAgent: c.ConfirmUserAgent}
}

// writeSubscriber answers one subscriber with consent records and events.
func (s *Server) writeSubscriber(w http.ResponseWriter, r *http.Request, status int, v list.SubscriberView) error {
	out := newSubscriberJSON(v, true)
	evs, err := s.svc.SubscriberEvents(r.Context(), v.ID)
	if err != nil {
		return err
	}
	slugs, err := s.listSlugs(r)
	if err != nil {
		return err
	}
	out.Events = make([]eventJSON, 0, len(evs))
	for _, e := range evs {
		out.Events = append(out.Events, eventJSON{ID: e.ID, Kind: e.Kind, How: e.How, At: rfcTime(e.At),
			List: slugs[e.List], Campaign: e.Campaign, IP: e.IP, UserAgent: e.UserAgent, Detail: e.Detail})
	}
	return writeJSON(w, status, out)
}

// listSlugs maps list ids to slugs.
func (s *Server) listSlugs(r *http.Request) (map[list.ListID]string, error) {
	ls, err := s.svc.Lists(r.Context())
	if err != nil {
		return nil, err
	}
	m := make(map[list.ListID]string, len(ls))
	for _, l := range ls {
		m[l.ID] = l.Slug
	}
	return m, nil
}

// subscriberID reads the {id} of the route.
func subscriberID(r *http.Request) (list.SubscriberID, error) {
	n, err := strconv.ParseUint(mux.Vars(r)["id"], 10, 64)
	if err != nil || n == 0 {
		return 0, list.ErrNotFound
	}
	return list.SubscriberID(n), nil
}

// apiSubscribers searches subscribers: ?email=&list=&state=&q=, paged by id.
func (s *Server) apiSubscribers(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := paging(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	// Every page has the total the collection contract promises, even
	// where it takes a walk of an index.
	req := list.SearchRequest{Email: q.Get("email"), List: q.Get("list"), State: list.State(q.Get("state")),
		Q: q.Get("q"), After: list.SubscriberID(after), Limit: limit, Count: true}
	if req.State != "" && !req.State.Valid() {
		return newHTTPError(http.StatusUnprocessableEntity, "state must be unconfirmed, confirmed or unsubscribed")
	}
	items, total, next, err := s.svc.SearchSubscribers(r.Context(), req)
	if err != nil {
		return err
	}
	p := page[subscriberJSON]{Items: make([]subscriberJSON, 0, len(items)), Total: total}
	for _, v := range items {
		p.Items = append(p.Items, newSubscriberJSON(v, false))
	}
	if next != nil {
		n := uint64(*next)
		p.Next = &n
	}
	return writeJSON(w, http.StatusOK, p)
}

// apiCreateSubscriber adds a subscriber: 201 with the whole subscriber.
func (s *Server) apiCreateSubscriber(w http.ResponseWriter, r *http.Request) error {
	var n list.NewSubscriber
	if err := decodeJSON(w, r, &n); err != nil {
		return err
	}
	v, err := s.svc.AddSubscriber(r.Context(), n, list.HowAPI, s.origin(r))
	if err != nil {
		return err
	}
	return s.writeSubscriber(w, r, http.StatusCreated, v)
}

// apiSubscriber answers one subscriber with consent records and events.
func (s *Server) apiSubscriber(w http.ResponseWriter, r *http.Request) error {
	id, err := subscriberID(r)
	if err != nil {
		return err
	}
	v, err := s.svc.Subscriber(r.Context(), id)
	if err != nil {
		return err
	}
	return s.writeSubscriber(w, r, http.StatusOK, v)
}

// subscriberBody is the body of PUT: the editable fields, and the
// read-only ones so that a GET answer can be sent back (unchanged).
type subscriberBody struct {
	list.SubscriberPatch
	ID            *list.SubscriberID `json:"id"`
	Email         *string            `json:"email"`
	Subscriptions json.RawMessage    `json:"subscriptions"`
	Events        json.RawMessage    `json:"events"`
}

// apiUpdateSubscriber applies a partial update: 200 with the subscriber.
func (s *Server) apiUpdateSubscriber(w http.ResponseWriter, r *http.Request) error {
	id, err := subscriberID(r)
	if err != nil {
		return err
	}
	var b subscriberBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	cur, err := s.svc.Subscriber(r.Context(), id)
	if err != nil {
		return err
	}
	if b.ID != nil && *b.ID != id {
		return newHTTPError(http.StatusUnprocessableEntity, "id cannot be changed")
	}
	if b.Email != nil && !strings.EqualFold(strings.TrimSpace(*b.Email), cur.Email) {
		return newHTTPError(http.StatusUnprocessableEntity, "email cannot be changed here")
	}
	v, err := s.svc.PatchSubscriber(r.Context(), id, b.SubscriberPatch, s.origin(r))
	if err != nil {
		return err
	}
	return s.writeSubscriber(w, r, http.StatusOK, v)
}

// apiSubscribeToLists puts an existing subscriber on lists ({lists, state,
// reason}, as POST /api/v1/subscribers takes them): 200 with the
// subscriber as GET answers it, also when nothing had to change.
func (s *Server) apiSubscribeToLists(w http.ResponseWriter, r *http.Request) error {
	id, err := subscriberID(r)
	if err != nil {
		return err
	}
	var a list.ListAddition
	if err := decodeJSON(w, r, &a); err != nil {
		return err
	}
	v, err := s.svc.SubscribeToLists(r.Context(), id, a, list.HowAPI, s.origin(r))
	if err != nil {
		return err
	}
	return s.writeSubscriber(w, r, http.StatusOK, v)
}

// apiUnsubscribeFromList takes a subscriber off a list, ?reason= saying
// why: 204, as every DELETE of the API. The subscription stays
// (unsubscribed, with its consent record), as GET shows.
func (s *Server) apiUnsubscribeFromList(w http.ResponseWriter, r *http.Request) error {
	id, err := subscriberID(r)
	if err != nil {
		return err
	}
	if _, err := s.svc.UnsubscribeFromList(r.Context(), id, mux.Vars(r)["slug"], r.URL.Query().Get("reason"), list.HowAPI, s.origin(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiDeleteSubscriber erases a subscriber (a keyed hash stays in the
// suppression list): 204.
func (s *Server) apiDeleteSubscriber(w http.ResponseWriter, r *http.Request) error {
	id, err := subscriberID(r)
	if err != nil {
		return err
	}
	if err := s.svc.EraseSubscriber(r.Context(), id, s.origin(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiExportSubscriber answers everything held about a subscriber (profile,
// subscriptions with consent records, suppression, events, mails sent,
// bounces): list.Service.ExportSubscriber.
func (s *Server) apiExportSubscriber(w http.ResponseWriter, r *http.Request) error {
	return s.apiExportSubscriberData(w, r)
}

// apiExport streams subscriptions as CSV: ?list=&state=.
func (s *Server) apiExport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	state := list.State(q.Get("state"))
	if state != "" && !state.Valid() {
		return newHTTPError(http.StatusUnprocessableEntity, "state must be unconfirmed, confirmed or unsubscribed")
	}
	name := "subscribers.csv"
	if l := q.Get("list"); l != "" {
		if _, err := s.svc.ListBySlug(r.Context(), l); err != nil {
			return err
		}
		name = l + ".csv"
	}
	s.svc.RecordAudit(r.Context(), s.origin(r), "export.csv", name)
	return s.streamCSV(w, r, name, func(ctx context.Context, cw io.Writer) error {
		return s.svc.ExportCSV(ctx, cw, q.Get("list"), state)
	})
}
