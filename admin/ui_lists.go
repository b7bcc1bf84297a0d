package admin

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// homePage is the dashboard's data.
type homePage struct {
	Lists       []list.ListWithCounts
	Subscribers int
	Campaigns   []list.CampaignView
	Chart       countChart
}

// uiHome is the dashboard: subscriber counts per list, their chart over
// the last 30 or 90 days (?days=90) and the recent campaigns.
func (s *Server) uiHome(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ls, err := s.svc.Lists(ctx)
	if err != nil {
		return err
	}
	_, total, _, err := s.svc.SearchSubscribers(ctx, list.SearchRequest{Limit: 1})
	if err != nil {
		return err
	}
	cs, err := s.recentCampaigns(r, 5)
	if err != nil {
		return err
	}
	chart, err := s.countChart(ctx, ls, chartDays(r))
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "home", "dashboard", homePage{Lists: ls, Subscribers: total, Campaigns: cs, Chart: chart}, "")
}

// listPage is the data of the list form.
type listPage struct {
	New     bool
	List    list.List
	Counts  list.Counts
	BaseURL string
}

// SubscribeURL is the public form of the list.
func (p listPage) SubscribeURL() string { return p.BaseURL + "/subscribe/" + p.List.Slug }

// Snippet is an HTML form to paste into another site.
func (p listPage) Snippet() string {
	var b strings.Builder
	b.WriteString(`<form method="post" action="` + p.SubscribeURL() + `">` + "\n")
	b.WriteString(`  <label>Email <input type="email" name="email" required></label>` + "\n")
	b.WriteString(`  <label>Name <input type="text" name="name"></label>` + "\n")
	for _, a := range p.List.Attributes {
		b.WriteString(`  <label>` + label(a) + ` <input type="text" name="` + attrPrefix + a + `"></label>` + "\n")
	}
	b.WriteString(`  <div style="position:absolute;left:-10000px" aria-hidden="true"><input type="text" name="website" tabindex="-1" autocomplete="off"></div>` + "\n")
	if p.List.ConsentText != "" {
		b.WriteString(`  <p>` + htmlEscape(p.List.ConsentText) + `</p>` + "\n")
	}
	b.WriteString(`  <button type="submit">Subscribe</button>` + "\n</form>")
	return b.String()
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

func (s *Server) uiLists(w http.ResponseWriter, r *http.Request) error {
	ls, err := s.svc.Lists(r.Context())
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "lists", "lists", ls, "")
}

func (s *Server) uiNewList(w http.ResponseWriter, r *http.Request) error {
	l := list.List{OptIn: list.OptInDouble, Public: true, Welcome: true}
	return s.uiPage(w, r, http.StatusOK, "list", "lists", listPage{New: true, List: l, BaseURL: s.svc.Config().BaseURL}, "")
}

// listFromForm reads the list form.
func listFromForm(r *http.Request) list.List {
	f := r.PostForm
	return list.List{
		Slug: strings.TrimSpace(f.Get("slug")), Name: f.Get("name"), Description: f.Get("description"),
		OptIn: list.OptIn(f.Get("optin")), Public: formBool(r, "public"), ConsentText: f.Get("consent_text"),
		From: strings.TrimSpace(f.Get("from")), ConfirmText: f.Get("confirm_text"), WelcomeText: f.Get("welcome_text"),
		Welcome: formBool(r, "welcome"), Reminder: formBool(r, "reminder"), Attributes: splitLines(f.Get("attributes")),
	}
}

func (s *Server) uiCreateList(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	in := listFromForm(r)
	l, err := s.svc.CreateList(r.Context(), in, s.origin(r))
	if err != nil {
		return s.formError(w, r, err, "list", "lists", listPage{New: true, List: in, BaseURL: s.svc.Config().BaseURL})
	}
	return redirect(w, r, "/admin/lists/"+l.Slug, "list-created")
}

func (s *Server) uiList(w http.ResponseWriter, r *http.Request) error {
	l, err := s.svc.ListBySlug(r.Context(), mux.Vars(r)["slug"])
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "list", "lists", listPage{List: l.List, Counts: l.Counts, BaseURL: s.svc.Config().BaseURL}, "")
}

func (s *Server) uiSaveList(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	slug := mux.Vars(r)["slug"]
	cur, err := s.svc.ListBySlug(r.Context(), slug)
	if err != nil {
		return err
	}
	in := listFromForm(r)
	p := list.ListPatch{Name: &in.Name, Description: &in.Description, OptIn: &in.OptIn, Public: &in.Public,
		ConsentText: &in.ConsentText, From: &in.From, ConfirmText: &in.ConfirmText, WelcomeText: &in.WelcomeText,
		Welcome: &in.Welcome, Reminder: &in.Reminder, Attributes: &in.Attributes}
	if _, err := s.svc.UpdateList(r.Context(), slug, p, s.origin(r)); err != nil {
		in.Slug, in.ID = slug, cur.ID
		return s.formError(w, r, err, "list", "lists", listPage{List: in, Counts: cur.Counts, BaseURL: s.svc.Config().BaseURL})
	}
	return redirect(w, r, "/admin/lists/"+slug, "list-saved")
}

// confirmPage asks before a destructive action.
type confirmPage struct {
	What   string
	Detail string
	Action string
	Back   string
	Button string
}

func (s *Server) uiDeleteListForm(w http.ResponseWriter, r *http.Request) error {
	l, err := s.svc.ListBySlug(r.Context(), mux.Vars(r)["slug"])
	if err != nil {
		return err
	}
	n := l.Counts.Unconfirmed + l.Counts.Confirmed + l.Counts.Unsubscribed
	return s.uiPage(w, r, http.StatusOK, "confirm", "lists", confirmPage{
		What:   "Delete the list “" + l.Name + "”?",
		Detail: "This deletes the list and its " + strconv.Itoa(n) + " subscriptions. Subscribers stay, with their other lists. This cannot be undone.",
		Action: "/admin/lists/" + l.Slug + "/delete", Back: "/admin/lists/" + l.Slug, Button: "Delete the list",
	}, "")
}

func (s *Server) uiDeleteList(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteList(r.Context(), mux.Vars(r)["slug"], s.origin(r)); err != nil {
		return err
	}
	return redirect(w, r, "/admin/lists", "list-deleted")
}
