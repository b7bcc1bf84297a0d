package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/bulletin/bulletin/list"
)

// runImport is "bulletin import --list S [--mode confirmed|optin] [--reason R]
// FILE": it imports a CSV file into a stopped store, or through a running
// server's API with --server, printing a progress line.
func runImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	var f opts
	fs := commandFlags("import", stderr, &cfg, &f)
	if err := parse(fs, args, getenv, &cfg); err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := wantArgs(fs, 1, "FILE (- for standard input)", "import --list S [flags] FILE"); err != nil {
		return err
	}
	if f.list == "" {
		return usageError("import: --list is required")
	}
	if f.mode != string(list.ImportConfirmed) && f.mode != string(list.ImportOptIn) {
		return usageError("import: --mode must be confirmed or optin")
	}
	if f.mode == string(list.ImportConfirmed) && strings.TrimSpace(f.reason) == "" {
		return usageError("import: --mode confirmed needs --reason (where the consent was given)")
	}
	if cfg.Server != "" && getenv("BULLETIN_TOKEN") == "" {
		return needsToken("import")
	}
	in, size, err := openInput(fs.Arg(0))
	if err != nil {
		return err
	}
	defer in.Close()
	p := newImportProgress(stdout, size)
	var res list.ImportResult
	if cfg.Server != "" {
		res, err = importRemote(ctx, strings.TrimRight(cfg.Server, "/"), getenv("BULLETIN_TOKEN"), f, in, p)
	} else if err = existingStore(cfg, "import"); err == nil {
		err = withInstance(ctx, cfg, stderr, func(inst *instance) error {
			var err error
			res, err = inst.svc.Import(ctx, in, list.ImportOptions{List: f.list, Mode: list.ImportMode(f.mode),
				Reason: f.reason, Origin: list.Origin{User: "cli"}, Progress: p.update,
				SpillDir: cfg.Data}) // beside the store: /tmp may be memory
			return err
		})
		if err != nil && ctx.Err() != nil {
			return importInterrupted(res)
		}
	}
	if err != nil {
		return err
	}
	p.done(res)
	return nil
}

func openInput(name string) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(os.Stdin), 0, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// importProgress prints at most one progress line a second.
type importProgress struct {
	w     io.Writer
	size  int64
	start time.Time
	last  time.Time
	rows  int
}

func newImportProgress(w io.Writer, size int64) *importProgress {
	now := time.Now()
	return &importProgress{w: w, size: size, start: now, last: now}
}

func (p *importProgress) update(rows, bytes int) {
	p.rows = rows
	now := time.Now()
	if now.Sub(p.last) < time.Second {
		return
	}
	p.last = now
	p.print(rows, int64(bytes))
}

// print writes one progress line. The rows are read and sorted first, then
// written: bytes is the progress in input bytes, reading counted as its
// share of the work (list.ImportOptions.Progress).
func (p *importProgress) print(rows int, bytes int64) {
	secs := max(time.Since(p.start).Seconds(), 1e-3)
	pct := ""
	if p.size > 0 {
		pct = fmt.Sprintf("%5.1f%%  ", min(100, 100*float64(bytes)/float64(p.size)))
	}
	fmt.Fprintf(p.w, "import %s%d rows done  %.0f rows/s\n", pct, rows, float64(rows)/secs)
}

// done prints the final line, the summary and the refused rows.
func (p *importProgress) done(res list.ImportResult) {
	rows := res.Imported + res.Updated + res.Skipped
	secs := max(time.Since(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "import done: %d rows in %.1fs (%.0f rows/s): %d imported, %d updated, %d skipped\n",
		rows, secs, float64(rows)/secs, res.Imported, res.Updated, res.Skipped)
	for _, e := range res.Errors {
		fmt.Fprintf(p.w, "line %d: %s\n", e.Line, e.Error)
	}
	if res.ErrorsTruncated {
		fmt.Fprintf(p.w, "… and %d more refused rows\n", res.Skipped-len(res.Errors))
	}
}

// importInterrupted says what an offline import stopped by Ctrl-C left:
// rows are committed in batches, and a row imported again is an update, so
// the same file can simply be imported again.
func importInterrupted(res list.ImportResult) error {
	return interrupted(fmt.Sprintf("%d rows were committed before the stop (%d imported, %d updated); importing the same file again is safe: rows already in are updated, not added twice, and get no second confirmation mail",
		res.Imported+res.Updated, res.Imported, res.Updated))
}

// importJob is the API's answer about an asynchronous import.
type importJob struct {
	Job    uint64             `json:"job"`
	Status string             `json:"status"`
	Rows   int                `json:"rows"`
	Bytes  int64              `json:"bytes"`
	Error  string             `json:"error"`
	Result *list.ImportResult `json:"result"`
}

// importRemote uploads the file with ?async=true and follows the job.
func importRemote(ctx context.Context, base, token string, f opts, body io.Reader, p *importProgress) (list.ImportResult, error) {
	q := url.Values{"list": {f.list}, "mode": {f.mode}, "reason": {f.reason}, "async": {"true"}}
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/import?"+q.Encode(), body)
	if err != nil {
		return list.ImportResult{}, err
	}
	req.Header.Set("Content-Type", "text/csv")
	authorize(req, token)
	var job importJob
	if err := doJSON(req, http.StatusAccepted, &job); err != nil {
		return list.ImportResult{}, fmt.Errorf("import: %w", err)
	}
	for {
		select {
		case <-ctx.Done():
			return list.ImportResult{}, ctx.Err()
		case <-time.After(time.Second):
		}
		req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/import/%d", base, job.Job), nil)
		if err != nil {
			return list.ImportResult{}, err
		}
		authorize(req, token)
		if err := doJSON(req, http.StatusOK, &job); err != nil {
			return list.ImportResult{}, fmt.Errorf("import progress: %w", err)
		}
		switch job.Status {
		case "done":
			return *job.Result, nil
		case "failed":
			return list.ImportResult{}, fmt.Errorf("import failed: %s", job.Error)
		}
		p.print(job.Rows, job.Bytes)
	}
}

// doJSON sends req and decodes a JSON answer of the wanted status.
func doJSON(req *http.Request, want int, v any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return apiError(resp)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(v)
}
