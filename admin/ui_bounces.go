package admin

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/bulletin/bulletin/list"
)

// bouncesPage lists bounce and complaint records, with the filters of the
// API's listing.
type bouncesPage struct {
	Bounces []list.Bounce
	Total   int
	Kind    string
	Email   string
	// Campaign is the campaign filter as typed, kept on the form.
	Campaign string
	Kinds    []list.BounceKind
	// Next is the query of the following page, empty on the last: a
	// template.URL, as html/template would escape its "=" and "&".
	Next template.URL
}

// uiBounces shows the bounce records, oldest first as the API pages them,
// filtered by ?kind=, ?email= and ?campaign=.
func (s *Server) uiBounces(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	pg := bouncesPage{Kind: q.Get("kind"), Email: q.Get("email"), Campaign: q.Get("campaign"),
		Kinds: list.BounceKinds}
	limit, after, err := paging(r)
	if err != nil {
		return err
	}
	f := list.BounceFilter{Email: pg.Email, Kind: list.BounceKind(pg.Kind), After: list.BounceID(after), Limit: limit}
	if pg.Campaign != "" {
		n, err := strconv.ParseUint(pg.Campaign, 10, 64)
		if err != nil {
			return s.uiPage(w, r, http.StatusUnprocessableEntity, "bounces", "bounces", pg, "The campaign must be a campaign number.")
		}
		f.Campaign = list.CampaignID(n)
	}
	bs, next, total, err := s.svc.Bounces(r.Context(), f)
	if err != nil {
		return s.formError(w, r, err, "bounces", "bounces", pg)
	}
	pg.Bounces, pg.Total = bs, total
	if next != nil {
		v := url.Values{"after": {strconv.FormatUint(uint64(*next), 10)}}
		for _, k := range []string{"kind", "email", "campaign", "limit"} {
			if q.Get(k) != "" {
				v.Set(k, q.Get(k))
			}
		}
		pg.Next = template.URL(v.Encode())
	}
	return s.uiPage(w, r, http.StatusOK, "bounces", "bounces", pg, "")
}

// bouncePage is one record with the report it came from.
type bouncePage struct {
	Bounce  list.Bounce
	Mail    shownMail
	Raw     string
	HTMLURL string
}

// uiBounce shows one record and, when kept, its report taken apart as the
// outbox shows a message: an unknown record is there to be read.
func (s *Server) uiBounce(w http.ResponseWriter, r *http.Request) error {
	b, err := s.requestedBounce(r)
	if err != nil {
		return err
	}
	pg := bouncePage{Bounce: b}
	if len(b.Raw) > 0 {
		if pg.Mail, err = parseMail(b.Raw); err != nil {
			// A report that breaks the parser halfway is still shown
			// whole, as text.
			pg.Mail = shownMail{Text: string(b.Raw[:min(len(b.Raw), maxShownPart)])}
		}
		base := "/admin/bounces/" + strconv.FormatUint(uint64(b.ID), 10)
		pg.Raw, pg.HTMLURL = base+"/raw", base+"/html"
	}
	return s.uiPage(w, r, http.StatusOK, "bounce", "bounces", pg, "")
}

// uiBounceRaw answers a record's report as received, as plain text.
func (s *Server) uiBounceRaw(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.bounceRaw(r)
	if err != nil {
		return err
	}
	return writeRawMail(w, raw)
}

// uiBounceHTML answers the HTML part of a record's report for its frame.
func (s *Server) uiBounceHTML(w http.ResponseWriter, r *http.Request) error {
	raw, err := s.bounceRaw(r)
	if err != nil {
		return err
	}
	return writeHTMLPart(w, raw)
}
