package admin

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// campaignsPage lists the campaigns: active ones first, then the archive.
type campaignsPage struct {
	Active  []list.CampaignView
	Archive []list.CampaignView
}

// recentCampaigns returns up to n campaigns, newest first.
func (s *Server) recentCampaigns(r *http.Request, n int) ([]list.CampaignView, error) {
	all, err := s.allCampaigns(r)
	if err != nil {
		return nil, err
	}
	slices.Reverse(all)
	return all[:min(n, len(all))], nil
}

// allCampaigns pages through every campaign, oldest first.
func (s *Server) allCampaigns(r *http.Request) ([]list.CampaignView, error) {
	var out []list.CampaignView
	var after list.CampaignID
	for {
		cs, next, err := s.svc.Campaigns(r.Context(), after, maxLimit)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
		if next == nil {
			return out, nil
		}
		after = *next
	}
}

func (s *Server) uiCampaigns(w http.ResponseWriter, r *http.Request) error {
	all, err := s.allCampaigns(r)
	if err != nil {
		return err
	}
	slices.Reverse(all)
	var p campaignsPage
	for _, c := range all {
		if c.Status == list.StatusFinished || c.Status == list.StatusCancelled {
			p.Archive = append(p.Archive, c)
		} else {
			p.Active = append(p.Active, c)
		}
	}
	return s.uiPage(w, r, http.StatusOK, "campaigns", "campaigns", p, "")
}

// campaignPage is the compose form (drafts) or the status page.
type campaignPage struct {
	C        list.CampaignView
	New      bool
	Lists    []list.ListWithCounts
	Findings []list.Finding
	Progress list.Progress
	Chart    chart
	SendAt   string
	Tests    string
	// Future says send_at lies ahead: Send then schedules.
	Future bool
	// Fresh is a new campaign's empty form: the live preview keeps the
	// pre-send check's findings (no lists, and the like) until the author
	// types or presses Preview.
	Fresh bool
}

// HasList reports whether the campaign goes to slug.
func (p campaignPage) HasList(slug string) bool { return slices.Contains(p.C.Lists, slug) }

// Draft reports whether the campaign can still be edited.
func (p campaignPage) Draft() bool { return p.C.Status == list.StatusDraft }

// Live reports whether the campaign is sending or may soon.
func (p campaignPage) Live() bool {
	return p.C.Status == list.StatusRunning || p.C.Status == list.StatusScheduled || p.C.Status == list.StatusPaused
}

// ETA says how long the run has left ("about 3 min left"), or "" when
// unknown; admin.js formats the live value the same way (formatETA).
func (p campaignPage) ETA() string { return formatETA(p.Progress.ETA) }

// formatETA rounds seconds left to what a person reads at a glance.
func formatETA(secs float64) string {
	switch s := math.Round(secs); {
	case s <= 0:
		return ""
	case s < 60:
		return fmt.Sprintf("about %.0f s left", s)
	case s < 3600:
		return fmt.Sprintf("about %.0f min left", math.Round(s/60))
	default:
		h := math.Floor(s / 3600)
		return fmt.Sprintf("about %.0f h %.0f min left", h, math.Round((s-h*3600)/60))
	}
}

// Done is the number of recipients handled.
func (p campaignPage) Done() int { return p.C.Stats.Total - p.C.Stats.Remaining }

func (s *Server) uiNewCampaign(w http.ResponseWriter, r *http.Request) error {
	ls, err := s.svc.Lists(r.Context())
	if err != nil {
		return err
	}
	// No list is ticked: a preselected one would get the campaign as well
	// as the list the author ticks, unnoticed.
	c := list.CampaignView{Format: list.FormatMarkdown, Status: list.StatusDraft, Lists: []string{}}
	c.Body = "Hello {{.Name}},\n\nWrite your news here.\n"
	return s.uiPage(w, r, http.StatusOK, "campaign", "campaigns", campaignPage{C: c, New: true, Lists: ls, Fresh: true}, "")
}

// campaignInput reads the compose form. send_at is a datetime-local in UTC.
func campaignInput(r *http.Request) (list.CampaignInput, error) {
	f := r.PostForm
	str := func(k string) *string { v := f.Get(k); return &v }
	lists := append([]string{}, f["lists"]...)
	format := list.Format(f.Get("format"))
	ad := formBool(r, "advertisement")
	in := list.CampaignInput{Name: str("name"), Subject: str("subject"), Lists: &lists, From: str("from"),
		Body: str("body"), Format: &format, Text: str("text"), Advertisement: &ad}
	if v := strings.TrimSpace(f.Get("send_at")); v != "" {
		t, err := time.Parse("2006-01-02T15:04", v)
		if err != nil {
			return in, newHTTPError(http.StatusUnprocessableEntity, "send at: give a date and time (UTC)")
		}
		in.SendAt = &t
	} else {
		zero := time.Time{}
		in.SendAt = &zero
	}
	return in, nil
}

// viewOf shows unsaved input on the form again.
func viewOf(c list.CampaignView, in list.CampaignInput) list.CampaignView {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.Name, in.Name)
	set(&c.Subject, in.Subject)
	set(&c.From, in.From)
	set(&c.Body, in.Body)
	set(&c.Text, in.Text)
	if in.Lists != nil {
		c.Lists = *in.Lists
	}
	if in.Format != nil {
		c.Format = *in.Format
	}
	if in.Advertisement != nil {
		c.Advertisement = *in.Advertisement
	}
	if in.SendAt != nil && !in.SendAt.IsZero() {
		c.SendAt = in.SendAt
	}
	return c
}

func (s *Server) uiCreateCampaign(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	in, err := campaignInput(r)
	var c list.CampaignView
	if err == nil {
		c, err = s.svc.CreateCampaign(r.Context(), in, s.origin(r))
	}
	if err != nil {
		ls, lerr := s.svc.Lists(r.Context())
		if lerr != nil {
			return lerr
		}
		v := viewOf(list.CampaignView{Status: list.StatusDraft}, in)
		return s.formError(w, r, err, "campaign", "campaigns", campaignPage{C: v, New: true, Lists: ls, SendAt: r.PostForm.Get("send_at")})
	}
	return redirect(w, r, fmt.Sprintf("/admin/campaigns/%d", c.ID), "campaign-created")
}

func (s *Server) campaignPageData(r *http.Request, id list.CampaignID) (campaignPage, error) {
	ctx := r.Context()
	c, err := s.svc.GetCampaign(ctx, id)
	if err != nil {
		return campaignPage{}, err
	}
	ls, err := s.svc.Lists(ctx)
	if err != nil {
		return campaignPage{}, err
	}
	p := campaignPage{C: c, Lists: ls}
	if c.SendAt != nil {
		p.SendAt = c.SendAt.UTC().Format("2006-01-02T15:04")
		p.Future = c.SendAt.After(s.svc.Now())
	}
	if p.Draft() {
		if p.Findings, err = s.svc.LintCampaign(ctx, id); err != nil {
			return campaignPage{}, err
		}
		return p, nil
	}
	if p.Progress, err = s.svc.CampaignProgress(ctx, id); err != nil {
		return campaignPage{}, err
	}
	series, err := s.svc.CampaignSeries(ctx, id)
	if err != nil {
		return campaignPage{}, err
	}
	p.Chart = newChart(series)
	return p, nil
}

func (s *Server) uiCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	p, err := s.campaignPageData(r, list.CampaignID(id))
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "campaign", "campaigns", p, "")
}

func (s *Server) uiSaveCampaign(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if saved, err := s.saveDraft(w, r, list.CampaignID(id)); !saved {
		return err
	}
	return redirect(w, r, fmt.Sprintf("/admin/campaigns/%d", id), "campaign-saved")
}

// saveDraft saves the compose form posted with r as draft id. A bad field
// re-renders the page with the message and what was typed: saved is false
// then, and err what the handler returns.
func (s *Server) saveDraft(w http.ResponseWriter, r *http.Request, id list.CampaignID) (saved bool, err error) {
	in, err := campaignInput(r)
	if err == nil {
		_, err = s.svc.UpdateCampaign(r.Context(), id, in, s.origin(r))
	}
	if err == nil {
		return true, nil
	}
	p, perr := s.campaignPageData(r, id)
	if perr != nil {
		return false, perr
	}
	p.C, p.SendAt, p.Tests = viewOf(p.C, in), r.PostForm.Get("send_at"), r.PostForm.Get("emails")
	return false, s.formError(w, r, err, "campaign", "campaigns", p)
}

// uiCampaignAction applies send, pause, resume, cancel, unschedule, test,
// clone or delete from the campaign page's buttons.
func (s *Server) uiCampaignAction(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	n, err := pathID(r, "id")
	if err != nil {
		return err
	}
	id, ctx, o := list.CampaignID(n), r.Context(), s.origin(r)
	page := fmt.Sprintf("/admin/campaigns/%d", id)
	rerender := func(err error) error {
		p, perr := s.campaignPageData(r, id)
		if perr != nil {
			return perr
		}
		var le *list.LintError
		if errors.As(err, &le) {
			p.Findings = le.Findings
		}
		p.Tests = r.PostForm.Get("emails")
		return s.formError(w, r, err, "campaign", "campaigns", p)
	}
	action := mux.Vars(r)["action"]
	// The test and the send buttons of a draft submit the compose form:
	// what is on screen is saved first, so that it is what goes out.
	if _, compose := r.PostForm["subject"]; compose && (action == "test" || action == list.ActionSend) {
		if saved, err := s.saveDraft(w, r, id); !saved {
			return err
		}
	}
	switch action {
	case "test":
		if err := s.svc.TestSend(ctx, id, splitLines(r.PostForm.Get("emails")), o); err != nil {
			return rerender(err)
		}
		return redirect(w, r, page, "test-sent")
	case "clone":
		c, err := s.svc.CloneCampaign(ctx, id, o)
		if err != nil {
			return err
		}
		return redirect(w, r, fmt.Sprintf("/admin/campaigns/%d", c.ID), "cloned")
	case "delete":
		if err := s.svc.DeleteCampaign(ctx, id, o); err != nil {
			return rerender(err)
		}
		return redirect(w, r, "/admin/campaigns", "campaign-deleted")
	case list.ActionSend, list.ActionPause, list.ActionResume, list.ActionCancel, list.ActionUnschedule:
		c, err := s.svc.CampaignAction(ctx, id, action, o)
		if err != nil {
			return rerender(err)
		}
		if c.Status == list.StatusScheduled {
			action = "scheduled"
		}
		return redirect(w, r, page, action)
	}
	return errNoRoute
}

// previewAnswer is the live preview: the rendered parts and the lint.
type previewAnswer struct {
	Subject  string         `json:"subject"`
	HTML     string         `json:"html"`
	Text     string         `json:"text"`
	Headers  [][2]string    `json:"headers"`
	Findings []list.Finding `json:"findings"`
}

// uiPreviewCampaign renders the posted compose form (unsaved) and answers
// JSON for the live preview.
func (s *Server) uiPreviewCampaign(w http.ResponseWriter, r *http.Request) error {
	if err := uiForm(w, r); err != nil {
		return err
	}
	var id uint64
	if mux.Vars(r)["id"] != "" {
		var err error
		if id, err = pathID(r, "id"); err != nil {
			return err
		}
	}
	in, err := campaignInput(r)
	if err != nil {
		return writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
	}
	raw, fs, err := s.svc.PreviewCampaign(r.Context(), list.CampaignID(id), in)
	if err != nil {
		return previewError(w, r, s, err)
	}
	if raw == nil {
		return writeJSON(w, http.StatusOK, previewAnswer{Headers: [][2]string{}, Findings: fs})
	}
	m, err := parseMail(raw)
	if err != nil {
		return err
	}
	if fs == nil {
		fs = []list.Finding{}
	}
	return writeJSON(w, http.StatusOK, previewAnswer{Subject: m.Subject, HTML: m.HTML, Text: m.Text, Headers: m.Headers, Findings: fs})
}

// uiPreviewPage shows the saved campaign rendered, without JavaScript.
func (s *Server) uiPreviewPage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	raw, fs, err := s.svc.PreviewCampaign(r.Context(), list.CampaignID(id), list.CampaignInput{})
	if err != nil {
		return err
	}
	var m shownMail
	if raw != nil {
		m, err = parseMail(raw)
	}
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "mail", "campaigns", mailPage{Mail: m, Findings: fs,
		Back: fmt.Sprintf("/admin/campaigns/%d", id), Title: "Preview", HTMLURL: fmt.Sprintf("/admin/campaigns/%d/preview.html", id)}, "")
}

// uiPreviewHTML answers the HTML part of a campaign for the preview frame:
// the saved campaign on GET, the posted compose form (unsaved) on POST.
func (s *Server) uiPreviewHTML(w http.ResponseWriter, r *http.Request) error {
	var id uint64
	if mux.Vars(r)["id"] != "" {
		var err error
		if id, err = pathID(r, "id"); err != nil {
			return err
		}
	}
	var in list.CampaignInput
	if r.Method == http.MethodPost {
		if err := uiForm(w, r); err != nil {
			return err
		}
		var err error
		if in, err = campaignInput(r); err != nil {
			return err
		}
	}
	raw, _, err := s.svc.PreviewCampaign(r.Context(), list.CampaignID(id), in)
	if err != nil {
		return writeMailHTML(w, "<p>The preview failed: "+htmlEscape(previewMessage(s, r, err))+"</p>")
	}
	if raw == nil {
		return writeMailHTML(w, "<p>No preview: see the errors of the pre-send check.</p>")
	}
	m, err := parseMail(raw)
	if err != nil {
		return err
	}
	return writeMailHTML(w, m.HTML)
}

// chart is the results chart: one bar per minute of sending, drawn as
// inline SVG on the server.
type chart struct {
	Bars   []bar
	Width  int
	Height int
	Max    int
	From   string
	To     string
}

type bar struct {
	X, Y, W, H int
	FailY      int
	FailH      int
	Title      string
}

const chartHeight = 120

func newChart(pts []list.SeriesPoint) chart {
	c := chart{Height: chartHeight}
	if len(pts) == 0 {
		return c
	}
	for _, p := range pts {
		c.Max = max(c.Max, p.Sent+p.Failed)
	}
	w := max(4, min(24, 720/len(pts)))
	c.Width = w * len(pts)
	for i, p := range pts {
		h := (p.Sent + p.Failed) * chartHeight / max(c.Max, 1)
		fh := p.Failed * chartHeight / max(c.Max, 1)
		c.Bars = append(c.Bars, bar{X: i * w, Y: chartHeight - h, W: max(w-1, 1), H: h, FailY: chartHeight - fh, FailH: fh,
			Title: fmt.Sprintf("%s UTC: %d sent, %d failed", p.At.Format("15:04"), p.Sent, p.Failed)})
	}
	c.From, c.To = pts[0].At.Format("2006-01-02 15:04"), pts[len(pts)-1].At.Format("15:04")+" UTC"
	return c
}

// previewError answers a failed preview as JSON. The mailer's refusals
// wrap ErrInvalid at the end of their text, so the whole text is the
// message.
func previewError(w http.ResponseWriter, r *http.Request, s *Server, err error) error {
	return writeJSON(w, s.errorInfo(r, err).status, map[string]string{"error": previewMessage(s, r, err)})
}

func previewMessage(s *Server, r *http.Request, err error) string {
	ei := s.errorInfo(r, err)
	if errors.Is(err, list.ErrInvalid) && ei.msg == list.ErrInvalid.Error() {
		return strings.TrimPrefix(err.Error(), "smtp: ")
	}
	return ei.msg
}
