package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// campaignBody is the body of POST and PUT: the editable fields, and the
// read-only ones so that a GET answer can be sent back as is. PUT is a
// partial update: an absent field stays, a null one is cleared (send_at
// unscheduled, a text field emptied, lists none, format the default).
type campaignBody struct {
	Name          optional[string]      `json:"name"`
	Subject       optional[string]      `json:"subject"`
	Lists         optional[[]string]    `json:"lists"`
	From          optional[string]      `json:"from"`
	Body          optional[string]      `json:"body"`
	Format        optional[list.Format] `json:"format"`
	Text          optional[string]      `json:"text"`
	Advertisement optional[bool]        `json:"advertisement"`
	Tracking      optional[bool]        `json:"tracking"`
	SendAt        optional[time.Time]   `json:"send_at"`

	ID         json.RawMessage `json:"id"`
	Status     json.RawMessage `json:"status"`
	Reason     json.RawMessage `json:"reason"`
	Stats      json.RawMessage `json:"stats"`
	StartedAt  json.RawMessage `json:"started_at"`
	FinishedAt json.RawMessage `json:"finished_at"`
	CreatedAt  json.RawMessage `json:"created_at"`
	UpdatedAt  json.RawMessage `json:"updated_at"`
}

// input is the body as the list package takes it: nil for an absent field,
// a zero value for a null one (a zero send_at means none).
func (b *campaignBody) input() list.CampaignInput {
	in := list.CampaignInput{Name: b.Name.ptr(), Subject: b.Subject.ptr(), Lists: b.Lists.ptr(),
		From: b.From.ptr(), Body: b.Body.ptr(), Format: b.Format.ptr(), Text: b.Text.ptr(),
		Advertisement: b.Advertisement.ptr(), Tracking: b.Tracking.ptr(), SendAt: b.SendAt.ptr()}
	if in.Lists != nil && *in.Lists == nil {
		*in.Lists = []string{}
	}
	return in
}

func campaignID(r *http.Request) (list.CampaignID, error) {
	n, err := strconv.ParseUint(mux.Vars(r)["id"], 10, 64)
	if err != nil {
		return 0, errNoRoute
	}
	return list.CampaignID(n), nil
}

// apiCampaigns answers the campaigns, oldest first, paged.
func (s *Server) apiCampaigns(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := paging(r)
	if err != nil {
		return err
	}
	items, next, err := s.svc.Campaigns(r.Context(), list.CampaignID(after), limit)
	if err != nil {
		return err
	}
	total, err := s.countCampaigns(r)
	if err != nil {
		return err
	}
	p := page[list.CampaignView]{Items: items, Total: total}
	if next != nil {
		n := uint64(*next)
		p.Next = &n
	}
	return writeJSON(w, http.StatusOK, p)
}

// countCampaigns counts every campaign; there are few, so paging through
// them is cheap.
func (s *Server) countCampaigns(r *http.Request) (int, error) {
	n := 0
	var after list.CampaignID
	for {
		cs, next, err := s.svc.Campaigns(r.Context(), after, maxLimit)
		if err != nil {
			return 0, err
		}
		n += len(cs)
		if next == nil {
			return n, nil
		}
		after = *next
	}
}

func (s *Server) apiCreateCampaign(w http.ResponseWriter, r *http.Request) error {
	var b campaignBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	c, err := s.svc.CreateCampaign(r.Context(), b.input(), s.origin(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, c)
}

func (s *Server) apiCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := campaignID(r)
	if err != nil {
		return err
	}
	c, err := s.svc.GetCampaign(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *Server) apiUpdateCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := campaignID(r)
	if err != nil {
		return err
	}
	var b campaignBody
	if err := decodeJSON(w, r, &b); err != nil {
		return err
	}
	c, err := s.svc.UpdateCampaign(r.Context(), id, b.input(), s.origin(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *Server) apiDeleteCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := campaignID(r)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteCampaign(r.Context(), id, s.origin(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiCampaignAction applies send, pause, resume, cancel, unschedule, test,
// lint or clone.
func (s *Server) apiCampaignAction(w http.ResponseWriter, r *http.Request) error {
	id, err := campaignID(r)
	if err != nil {
		return err
	}
	ctx, o := r.Context(), s.origin(r)
	switch action := mux.Vars(r)["action"]; action {
	case "test":
		var b struct {
			Emails []string `json:"emails"`
		}
		if err := decodeJSON(w, r, &b); err != nil {
			return err
		}
		if err := s.svc.TestSend(ctx, id, b.Emails, o); err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]int{"sent": len(b.Emails)})
	case "lint":
		fs, err := s.svc.LintCampaign(ctx, id)
		if err != nil {
			return err
		}
		if fs == nil {
			fs = []list.Finding{}
		}
		return writeJSON(w, http.StatusOK, map[string]any{"findings": fs})
	case "clone":
		c, err := s.svc.CloneCampaign(ctx, id, o)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusCreated, c)
	case list.ActionSend, list.ActionPause, list.ActionResume, list.ActionCancel, list.ActionUnschedule:
		c, err := s.svc.CampaignAction(ctx, id, action, o)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, c)
	}
	return errNoRoute
}

// progressEvery is how often the progress stream sends the stats.
const progressEvery = 500 * time.Millisecond

// streamFor bounds one progress stream: EventSource clients reconnect by
// themselves, and a short stream never holds up a server shutdown for long.
const streamFor = 10 * time.Second

// apiCampaignProgress streams the campaign's progress as server-sent
// events ("stats" events with list.Progress as data) until it stops running
// or the client goes away.
func (s *Server) apiCampaignProgress(w http.ResponseWriter, r *http.Request) error {
	id, err := campaignID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	p, err := s.svc.CampaignProgress(ctx, id)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: %d\n\n", progressEvery.Milliseconds())
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	end := time.Now().Add(streamFor)
	for {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: stats\ndata: %s\n\n", b); err != nil {
			return nil // the client left
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
		if p.Status != list.StatusRunning && p.Status != list.StatusScheduled {
			fmt.Fprintf(w, "event: end\ndata: %q\n\n", p.Status)
			rc.Flush()
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if time.Now().After(end) {
			return nil
		}
		if p, err = s.svc.CampaignProgress(ctx, id); err != nil {
			return nil
		}
	}
}

// apiBackup streams a consistent copy of the store (admins only).
func (s *Server) apiBackup(w http.ResponseWriter, r *http.Request) error {
	if err := requireRole(r, list.RoleAdmin); err != nil {
		return err
	}
	s.svc.RecordAudit(r.Context(), s.origin(r), "backup.download", "")
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="bulletin-`+time.Now().UTC().Format("20060102T150405Z")+`.db"`)
	// Ended by a shutdown, which would otherwise wait out a long one.
	ctx, release := s.untilStopped(w, r)
	defer release()
	// The length is known once the compacted copy is made, before its first
	// byte: announced, it lets a browser show the download's progress and
	// a client tell a copy cut short from a whole one.
	ctx = list.WithProgressFunc(ctx, func(step string, done, total int64) {
		if step == list.StepWrite && done == 0 && total > 0 {
			w.Header().Set("Content-Length", strconv.FormatInt(total, 10))
		}
	})
	_, err := s.svc.Backup(ctx, w)
	if err != nil && !started(w) {
		return err
	}
	if err != nil {
		s.logger(r).Error("backup stream", "err", err)
	}
	return nil
}
