package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulletin/bulletin/list"
)

// runCampaign is "bulletin campaign send ID": it starts a campaign and
// prints a progress line until it ends, on a stopped store (sending from
// this process) or through a running server's API with --server.
func runCampaign(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "send" {
		return usageError("campaign: want send ID")
	}
	var cfg config
	fs := newFlagSet("campaign send", stderr)
	serveFlags(fs, &cfg)
	fs.StringVar(&cfg.Server, "server", "", "URL of a running server to drive through its API (credentials from BULLETIN_TOKEN)")
	if err := parse(fs, args[1:], getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() != 1 {
		return usageError("campaign send: want exactly one campaign ID")
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
		return sendLocal(ctx, in, list.CampaignID(id), stdout)
	})
}

// sendLocal sends a campaign from this process: the runner resumes it if it
// was running already.
func sendLocal(ctx context.Context, in *instance, id list.CampaignID, w io.Writer) error {
	c, err := in.svc.GetCampaign(ctx, id)
	if err != nil {
		return err
	}
	switch c.Status {
	case list.StatusDraft:
		if _, err := in.svc.CampaignAction(ctx, id, list.ActionSend, list.Origin{User: "cli"}); err != nil {
			return err
		}
	case list.StatusPaused:
		if _, err := in.svc.CampaignAction(ctx, id, list.ActionResume, list.Origin{User: "cli"}); err != nil {
			return err
		}
	case list.StatusFinished, list.StatusCancelled:
		return over(id, c.Status, c.Stats.Sent)
	}
	in.sayOutbox(w)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { in.svc.RunCampaigns(rctx, in.runnerOptions()); close(done) }()
	defer func() { stop(); <-done }()
	go in.svc.RunMailQueue(rctx, time.Minute)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start, heap := time.Now(), uint64(0)
	for {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapInuse)
		p, err := in.svc.CampaignProgress(ctx, id)
		if err != nil {
			return err
		}
		printProgress(w, p)
		if end, err := progressEnded(p); end {
			printDone(w, time.Since(start), p.Stats.Sent, fmt.Sprintf(", Go heap peak %.1f MiB", float64(heap)/(1<<20)))
			return err
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(w, "interrupted: the campaign stays running and resumes on the next start")
			return nil
		case <-t.C:
		}
	}
}

// printDone prints the summary line of a campaign send that ended; extra
// is appended to it (the local send's heap peak).
func printDone(w io.Writer, d time.Duration, sent int, extra string) {
	fmt.Fprintf(w, "done in %s: %d sent (%.0f msg/s)%s\n", d.Round(time.Millisecond), sent, float64(sent)/d.Seconds(), extra)
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
	fmt.Fprintf(w, "campaign %d %s [%s] %5.1f%%  sent %d  failed %d  deferred %d  skipped %d  remaining %d  %.0f msg/s  ETA %s\n",
		p.ID, p.Status, bar, p.Percent, st.Sent, st.Failed, st.Deferred, st.Skipped, st.Remaining, p.Rate, eta)
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
	start := time.Now()
	for ctx.Err() == nil {
		p, err := followProgress(ctx, path+"/progress", token, w)
		if err != nil {
			return err
		}
		if end, err := progressEnded(p); end {
			// The heap that matters is the server's: this process only
			// reads a stream, so its own is not shown.
			printDone(w, time.Since(start), p.Stats.Sent, "")
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

// resumeOrRefuse resumes a paused campaign through the API, and refuses a
// finished or cancelled one.
func resumeOrRefuse(ctx context.Context, path string, id uint64, token string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", path, nil)
	if err != nil {
		return err
	}
	authorize(req, token)
	var c struct {
		Status list.Status `json:"status"`
		Stats  list.Stats  `json:"stats"`
	}
	if err := doJSON(req, http.StatusOK, &c); err != nil {
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
// status: 200, or one of also; any other is an error quoting the answer.
func postAction(ctx context.Context, path, action, token string, also ...int) (int, error) {
	resp, err := apiRequest(ctx, "POST", path+"/"+action, token)
	if err != nil {
		return 0, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && !slices.Contains(also, resp.StatusCode) {
		return 0, fmt.Errorf("%s: %s: %s", action, resp.Status, strings.TrimSpace(string(body)))
	}
	return resp.StatusCode, nil
}

// over is the error of a send of a campaign that is over.
func over(id list.CampaignID, st list.Status, sent int) error {
	return fmt.Errorf("campaign %d is %s already (%d sent): there is nothing to send", id, st, sent)
}

// followProgress reads one progress stream and returns its last state.
func followProgress(ctx context.Context, url, token string, w io.Writer) (list.Progress, error) {
	var last list.Progress
	resp, err := apiRequest(ctx, "GET", url, token)
	if err != nil {
		return last, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return last, fmt.Errorf("progress: %s", resp.Status)
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
		printProgress(w, last)
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
