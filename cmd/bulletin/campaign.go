package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulletin/bulletin/list"
)

// campaignUsage is the text of "bulletin campaign -h".
func campaignUsage() string {
	return commandUsage("campaign send") + `
Sends campaign ID and prints its progress until it ends: on a stopped store
from this process (with the serve settings: --base-url, --domain, --relay,
…, or their BULLETIN_ variables, over those saved in the settings page), or
through a running server's API with --server URL (credentials from
BULLETIN_TOKEN). Flags go before ID. Run "bulletin campaign send -h" for the
flags.
`
}

// runCampaign is "bulletin campaign send ID": it starts a campaign and
// prints a progress line until it ends, on a stopped store (sending from
// this process) or through a running server's API with --server.
func runCampaign(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, campaignUsage())
		return nil
	}
	if len(args) == 0 || args[0] != "send" {
		return usageError("campaign: want send ID (bulletin campaign -h)")
	}
	var cfg config
	fs := commandFlags("campaign send", stderr, &cfg, new(opts))
	if err := parse(fs, args[1:], getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := wantArgs(fs, 1, "campaign ID", "campaign send [flags] ID"); err != nil {
		return err
	}
	id, err := strconv.ParseUint(fs.Arg(0), 10, 64)
	if err != nil {
		return usageError("campaign send: %q is not a campaign id", fs.Arg(0))
	}
	if cfg.Server != "" {
		if getenv("BULLETIN_TOKEN") == "" {
			return needsToken("campaign send")
		}
		return sendRemote(ctx, strings.TrimRight(cfg.Server, "/"), id, getenv("BULLETIN_TOKEN"), stdout)
	}
	if err := existingStore(cfg, "campaign send"); err != nil {
		return err
	}
	return withInstance(ctx, cfg, stderr, func(in *instance) error {
		return sendLocal(ctx, in, list.CampaignID(id), stdout, stderr)
	})
}

// defaultedMail lists the settings of the mail's links and sender that
// come from the defaults, not from a flag, the environment or the settings
// page: a server runs with them set, and a send from a stopped store that
// forgot them would mail links to this machine's loopback address.
func (in *instance) defaultedMail() []string {
	var out []string
	if !in.cfg.set["base-url"] && in.settings.startup.BaseURL == "" {
		out = append(out, fmt.Sprintf("links would point at %s (--base-url, BULLETIN_BASE_URL)", in.cfg.BaseURL))
	}
	if !in.cfg.set["domain"] && in.settings.startup.Domain == "" {
		out = append(out, fmt.Sprintf("mail would come from %s and be signed for %s (--domain, BULLETIN_DOMAIN)", in.cfg.From, in.cfg.Domain))
	}
	return out
}

// warnDefaults warns, before anything is sent, when the mail's links or
// sender come from the defaults. It does not refuse: a send to a test
// relay with the defaults is a fair use, and the warning names the flags.
func (in *instance) warnDefaults(w io.Writer) {
	if d := in.defaultedMail(); len(d) > 0 {
		fmt.Fprintf(w, "Warning: %s. Give the settings this store's server runs with (flags or BULLETIN_ variables), or save them in the settings page.\n", strings.Join(d, "; "))
	}
}

// sendLocal sends a campaign from this process: the runner resumes it if it
// was running already. It runs this campaign only: others running or due
// are left for the server.
func sendLocal(ctx context.Context, in *instance, id list.CampaignID, w, stderr io.Writer) error {
	c, err := in.svc.GetCampaign(ctx, id)
	if err != nil {
		return err
	}
	if c.Status == list.StatusFinished || c.Status == list.StatusCancelled {
		return over(id, c.Status, c.Stats.Sent)
	}
	in.warnDefaults(stderr)
	switch c.Status {
	case list.StatusDraft:
		if _, err := in.svc.CampaignAction(ctx, id, list.ActionSend, list.Origin{User: "cli"}); err != nil {
			return err
		}
	case list.StatusPaused:
		if _, err := in.svc.CampaignAction(ctx, id, list.ActionResume, list.Origin{User: "cli"}); err != nil {
			return err
		}
	}
	in.sayOutbox(w)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	opts := in.runnerOptions()
	opts.Only = id
	go func() { in.svc.RunCampaigns(rctx, opts); close(done) }()
	defer func() { stop(); <-done }()
	go in.svc.RunMailQueue(rctx, time.Minute)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	pp := &progressPrinter{w: w, sendAt: func() *time.Time {
		c, _ := in.svc.GetCampaign(ctx, id)
		return c.SendAt
	}}
	start, heap := time.Now(), uint64(0)
	for {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapInuse)
		p, err := in.svc.CampaignProgress(ctx, id)
		if err != nil {
			return err
		}
		pp.print(p)
		if end, err := progressEnded(p); end {
			pp.done(time.Since(start), p.Stats.Sent, fmt.Sprintf(", Go heap peak %.1f MiB", float64(heap)/(1<<20)))
			return err
		}
		select {
		case <-ctx.Done():
			return interrupted(fmt.Sprintf("campaign %d stays %s and goes on when the server starts (or with campaign send %d)", id, p.Status, id))
		case <-t.C:
		}
	}
}

// progressPrinter prints a campaign's progress: a line a report while it
// runs, and one line while it waits for its time, until that changes.
type progressPrinter struct {
	w io.Writer
	// sendAt looks up when the campaign is scheduled for.
	sendAt  func() *time.Time
	waiting bool
	// firstSent is the sent count of the first progress of a running
	// campaign: the rate of the summary counts only what was sent while
	// followed, not what a server sent before.
	firstSent int
	running   bool
}

func (pp *progressPrinter) print(p list.Progress) {
	if p.Status == list.StatusRunning && !pp.running {
		pp.running, pp.firstSent = true, p.Stats.Sent
	}
	if p.Status != list.StatusScheduled {
		pp.waiting = false
		printProgress(pp.w, p)
		return
	}
	if pp.waiting {
		return
	}
	pp.waiting = true
	when := "its time"
	if at := pp.sendAt(); at != nil {
		when = at.Local().Format("2006-01-02 15:04 MST")
	}
	fmt.Fprintf(pp.w, "campaign %d scheduled for %s; waiting\n", p.ID, when)
}

// done prints the summary line of a campaign send that ended, after d of
// following it: the rate is of what was sent meanwhile. extra is appended
// (the local send's heap peak).
func (pp *progressPrinter) done(d time.Duration, sent int, extra string) {
	fmt.Fprintf(pp.w, "done in %s: %d sent (%.0f msg/s)%s\n", d.Round(time.Millisecond), sent, float64(sent-pp.firstSent)/d.Seconds(), extra)
}

// progressEnded says whether a campaign stopped, and with what error.
func progressEnded(p list.Progress) (bool, error) {
	switch p.Status {
	case list.StatusFinished:
		return true, nil
	case list.StatusCancelled:
		return true, errors.New("campaign cancelled")
	case list.StatusPaused:
		if p.Reason == "" {
			return true, errors.New("campaign paused")
		}
		return true, fmt.Errorf("campaign paused: %s", p.Reason)
	case list.StatusDraft:
		return true, errors.New("campaign is a draft again")
	}
	return false, nil
}

// printProgress prints one progress line.
func printProgress(w io.Writer, p list.Progress) {
	const width = 20
	filled := int(p.Percent / 100 * width)
	bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
	eta := "-"
	if p.ETA > 0 {
		eta = (time.Duration(p.ETA) * time.Second).String()
	}
	st := p.Stats
	// The recipients are counted as the run goes: until a total is known,
	// what remains is not.
	remaining := ""
	if st.Total > 0 || p.Status == list.StatusFinished {
		remaining = fmt.Sprintf("  remaining %d", st.Remaining)
	}
	fmt.Fprintf(w, "campaign %d %s [%s] %5.1f%%  sent %d  failed %d  deferred %d  skipped %d%s  %.0f msg/s  ETA %s\n",
		p.ID, p.Status, bar, p.Percent, st.Sent, st.Failed, st.Deferred, st.Skipped, remaining, p.Rate, eta)
}

// sendRemote starts the campaign through the API and follows its progress
// stream, reconnecting as EventSource clients do.
func sendRemote(ctx context.Context, base string, id uint64, token string, w io.Writer) error {
	path := fmt.Sprintf("%s/api/v1/campaigns/%d", base, id)
	code, err := postAction(ctx, path, "send", token, http.StatusConflict)
	if err != nil {
		return err
	}
	if code == http.StatusConflict {
		// Not a draft: resume it if paused, as a local send does, follow it
		// if running or scheduled, and refuse one that is over.
		if err := resumeOrRefuse(ctx, path, id, token); err != nil {
			return err
		}
	}
	pp := &progressPrinter{w: w, sendAt: func() *time.Time {
		c, _ := remoteCampaign(ctx, path, token)
		return c.SendAt
	}}
	start := time.Now()
	var p list.Progress
	for ctx.Err() == nil {
		if p, err = followProgress(ctx, path+"/progress", token, pp); err != nil && ctx.Err() == nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				// The server it followed went away: a restart, a stop.
				return fmt.Errorf("the server at %s stopped answering (%v); campaign %d resumes when it starts again: follow it then with campaign send --server", base, op.Err, id)
			}
			return err
		}
		if end, err := progressEnded(p); end {
			// The heap that matters is the server's: this process only
			// reads a stream, so its own is not shown.
			pp.done(time.Since(start), p.Stats.Sent, "")
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	return interrupted(fmt.Sprintf("campaign %d keeps running on the server at %s; follow it in the admin UI or with campaign send --server again", id, base))
}

// remoteState is what a send needs to know of a campaign on a server.
type remoteState struct {
	Status list.Status `json:"status"`
	Stats  list.Stats  `json:"stats"`
	SendAt *time.Time  `json:"send_at"`
}

// remoteCampaign reads the campaign at path through the API.
func remoteCampaign(ctx context.Context, path, token string) (remoteState, error) {
	var c remoteState
	req, err := http.NewRequestWithContext(ctx, "GET", path, nil)
	if err != nil {
		return c, err
	}
	authorize(req, token)
	return c, doJSON(req, http.StatusOK, &c)
}

// resumeOrRefuse resumes a paused campaign through the API, and refuses a
// finished or cancelled one.
func resumeOrRefuse(ctx context.Context, path string, id uint64, token string) error {
	c, err := remoteCampaign(ctx, path, token)
	if err != nil {
		return fmt.Errorf("campaign %d: %w", id, err)
	}
	switch c.Status {
	case list.StatusPaused:
		if _, err := postAction(ctx, path, "resume", token); err != nil {
			return err
		}
	case list.StatusFinished, list.StatusCancelled:
		return over(list.CampaignID(id), c.Status, c.Stats.Sent)
	}
	return nil
}

// postAction posts action to the campaign at path and returns the answer's
// status: 200, or one of also; any other is an error with the answer's
// message.
func postAction(ctx context.Context, path, action, token string, also ...int) (int, error) {
	resp, err := apiRequest(ctx, "POST", path+"/"+action, token)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && !slices.Contains(also, resp.StatusCode) {
		return 0, fmt.Errorf("%s: %w", action, apiError(resp))
	}
	return resp.StatusCode, nil
}

// over is the error of a send of a campaign that is over.
func over(id list.CampaignID, st list.Status, sent int) error {
	return fmt.Errorf("campaign %d is %s already (%d sent): there is nothing to send", id, st, sent)
}

// followProgress reads one progress stream and returns its last state.
func followProgress(ctx context.Context, url, token string, pp *progressPrinter) (list.Progress, error) {
	var last list.Progress
	resp, err := apiRequest(ctx, "GET", url, token)
	if err != nil {
		return last, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return last, fmt.Errorf("progress: %w", apiError(resp))
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || !strings.HasPrefix(data, "{") {
			continue
		}
		if err := json.Unmarshal([]byte(data), &last); err != nil {
			return last, fmt.Errorf("progress: %w", err)
		}
		pp.print(last)
	}
	return last, nil
}

// apiRequest calls the API with BULLETIN_TOKEN: "user:password" for Basic
// auth, anything else as a bearer token.
func apiRequest(ctx context.Context, method, url, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, err
	}
	authorize(req, token)
	return http.DefaultClient.Do(req)
}

// authorize sets BULLETIN_TOKEN's credentials: "user:password" for Basic
// auth, anything else as a bearer token.
func authorize(req *http.Request, token string) {
	if user, pass, ok := strings.Cut(token, ":"); ok {
		req.SetBasicAuth(user, pass)
	} else if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
}
