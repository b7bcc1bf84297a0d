package admin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// maxImportBody bounds an uploaded CSV file (a million rows is ~60 MB).
const maxImportBody = 2 << 30

// maxImportJobs is how many finished import jobs are remembered.
const maxImportJobs = 50

// importJob is an import running in the background, for the UI's progress
// bar and the API's ?async=true.
type importJob struct {
	ID       uint64             `json:"job"`
	Status   string             `json:"status"` // running, done, failed
	List     string             `json:"list"`
	Rows     int                `json:"rows"`
	Bytes    int64              `json:"bytes"`
	Total    int64              `json:"total_bytes"`
	Percent  float64            `json:"percent"`
	Rate     float64            `json:"rows_per_second"`
	Error    string             `json:"error"`
	Result   *list.ImportResult `json:"result"`
	Started  rfcTime            `json:"started_at"`
	Finished *rfcTime           `json:"finished_at"`
	// ListName is the list's name, for the job's page; the API names the
	// list by its slug alone.
	ListName string `json:"-"`
}

// importJobs keeps the jobs of one handler in memory.
type importJobs struct {
	mu    sync.Mutex
	m     map[uint64]*importJob
	order []uint64
	last  uint64
}

func newImportJobs() *importJobs { return &importJobs{m: map[uint64]*importJob{}} }

// nextID is a job id: a number, as every id of the API is, taken from the
// clock in microseconds and kept increasing, so that an id polled across a
// restart (which forgets the jobs) answers 404 rather than another job.
// It stays below 2^53, exact in every JSON reader, until the year 2255.
func (j *importJobs) nextID(now time.Time) uint64 {
	j.last = max(j.last+1, uint64(now.UnixMicro()))
	return j.last
}

// start runs an import of the spooled file f in the background.
func (j *importJobs) start(s *Server, f *os.File, size int64, o list.ImportOptions) *importJob {
	job := &importJob{Status: "running", List: o.List, Total: size, Started: rfcTime(s.now())}
	if l, err := s.svc.ListBySlug(context.Background(), o.List); err == nil {
		job.ListName = l.Name
	}
	j.mu.Lock()
	job.ID = j.nextID(s.now())
	j.m[job.ID] = job
	j.order = append(j.order, job.ID)
	for len(j.order) > maxImportJobs {
		if old := j.m[j.order[0]]; old != nil && old.Status == "running" {
			break
		}
		delete(j.m, j.order[0])
		j.order = j.order[1:]
	}
	j.mu.Unlock()
	o.Progress = func(rows, bytes int) {
		j.mu.Lock()
		job.Rows, job.Bytes = rows, int64(bytes)
		j.mu.Unlock()
	}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("import job panic", "panic", fmt.Sprint(p))
				j.finish(s, job, list.ImportResult{}, errors.New("internal error"))
			}
		}()
		defer func() { f.Close(); os.Remove(f.Name()) }()
		res, err := s.svc.Import(context.Background(), f, o)
		j.finish(s, job, res, err)
	}()
	return job
}

func (j *importJobs) finish(s *Server, job *importJob, res list.ImportResult, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	t := rfcTime(s.now())
	job.Finished = &t
	if err != nil {
		job.Status, job.Error = "failed", classify(err).msg
		if classify(err).internal {
			s.log.Error("import job failed", "err", err)
		}
		return
	}
	job.Status, job.Result, job.Bytes = "done", &res, job.Total
}

// get returns a snapshot of the job whose id is the text id, with its
// derived figures.
func (j *importJobs) get(id string, now time.Time) (importJob, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return importJob{}, false
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	job, ok := j.m[n]
	if !ok {
		return importJob{}, false
	}
	c := *job
	switch {
	case c.Status != "running":
		c.Percent = 100
	case c.Total > 0:
		c.Percent = min(99.9, math.Round(1000*float64(c.Bytes)/float64(c.Total))/10)
	}
	end := now
	if c.Finished != nil {
		end = time.Time(*c.Finished)
	}
	if secs := end.Sub(time.Time(c.Started)).Seconds(); secs > 0 {
		c.Rate = float64(c.Rows) / secs
	}
	return c, true
}

// importOptions reads list, mode and reason from a form or query.
func (s *Server) importOptions(get func(string) string, o list.Origin) list.ImportOptions {
	return list.ImportOptions{List: get("list"), Mode: list.ImportMode(get("mode")), Reason: get("reason"), Origin: o, SpillDir: s.spillDir}
}

// csvBody finds the CSV of an API request: the body itself, or the
// multipart field "file".
func csvBody(w http.ResponseWriter, r *http.Request) (io.Reader, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxImportBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return r.Body, nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errBadForm
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, newHTTPError(http.StatusUnprocessableEntity, "the multipart body has no field \"file\"")
		}
		if err != nil {
			return nil, errBadForm
		}
		if p.FormName() == "file" {
			return p, nil
		}
	}
}

// spool copies r to a temporary file, so that a background import can read
// it after the request has ended, and returns it rewound.
func spool(r io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp("", "bulletin-import-*.csv")
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, err
	}
	return f, n, nil
}

// startSpooled checks the header of a spooled file and starts its job.
func (j *importJobs) startSpooled(s *Server, f *os.File, size int64, o list.ImportOptions) (*importJob, error) {
	err := list.CheckImportHeader(bufio.NewReader(io.LimitReader(f, 1<<20)))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return j.start(s, f, size, o), nil
}

// apiImport is POST /api/v1/import?list=&mode=&reason=[&async=true].
func (j *importJobs) apiImport(s *Server) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		switch q.Get("async") {
		case "", "true", "false":
		default:
			// A typo must not make a large upload wait for its whole import.
			return newHTTPError(http.StatusUnprocessableEntity, "async must be true or false")
		}
		o := s.importOptions(q.Get, s.origin(r))
		o.How = list.HowImport
		if err := s.svc.CheckImport(r.Context(), o); err != nil {
			return err
		}
		body, err := csvBody(w, r)
		if err != nil {
			return err
		}
		if q.Get("async") != "true" {
			res, err := s.svc.Import(r.Context(), body, o)
			if err != nil {
				return err
			}
			return writeJSON(w, http.StatusOK, res)
		}
		f, size, err := spool(body)
		if err != nil {
			return err
		}
		job, err := j.startSpooled(s, f, size, o)
		if err != nil {
			return err
		}
		w.Header().Set("Location", fmt.Sprintf("/api/v1/import/%d", job.ID))
		return writeJSON(w, http.StatusAccepted, map[string]uint64{"job": job.ID})
	}
}

// jobStatus answers a job's progress as JSON: GET /api/v1/import/{job},
// and the import page's polling.
func (j *importJobs) jobStatus(s *Server) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		job, ok := j.get(mux.Vars(r)["job"], s.now())
		if !ok {
			return list.ErrNotFound
		}
		return writeJSON(w, http.StatusOK, job)
	}
}

// importPage is the data of the import form.
type importPage struct {
	Lists  []list.ListWithCounts
	List   string
	Mode   string
	Reason string
	// Invalid names the fields a refused upload had wrong; the file
	// field is always empty again, which the page then says.
	Invalid map[string]bool
}

// uiImportForm shows the upload form.
func (s *Server) uiImportForm(w http.ResponseWriter, r *http.Request) error {
	ls, err := s.svc.Lists(r.Context())
	if err != nil {
		return err
	}
	return s.uiPage(w, r, http.StatusOK, "import", "subscribers", importPage{Lists: ls, List: r.URL.Query().Get("list"), Mode: "optin"}, "")
}

// uiUpload takes the upload form (multipart: list, mode, reason, file),
// spools the file and starts the import; the browser goes to the job's
// page (or gets {job} as JSON when it asked for it).
func (j *importJobs) uiUpload(s *Server) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		r.Body = http.MaxBytesReader(w, r.Body, maxImportBody)
		mr, err := r.MultipartReader()
		if err != nil {
			return newHTTPError(http.StatusBadRequest, "send the form as multipart/form-data with a file")
		}
		fields, f, size, err := readUpload(mr)
		if err != nil {
			return err
		}
		o := s.importOptions(func(k string) string { return fields[k] }, s.origin(r))
		fail := func(err error) error {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
			ls, lerr := s.svc.Lists(r.Context())
			if lerr != nil {
				return lerr
			}
			return s.formError(w, r, err, "import", "subscribers", importPage{Lists: ls, List: o.List, Mode: string(o.Mode), Reason: o.Reason, Invalid: list.InvalidFields(err)})
		}
		if err := s.svc.CheckImport(r.Context(), o); err != nil {
			return fail(err)
		}
		if f == nil {
			return fail(newHTTPError(http.StatusUnprocessableEntity, "choose a CSV file to import"))
		}
		job, err := j.startSpooled(s, f, size, o)
		if err != nil {
			f = nil // closed and removed already
			return fail(err)
		}
		if r.Header.Get("Accept") == "application/json" {
			return writeJSON(w, http.StatusAccepted, map[string]any{"job": job.ID, "url": fmt.Sprintf("/admin/import/%d", job.ID)})
		}
		http.Redirect(w, r, fmt.Sprintf("/admin/import/%d", job.ID), http.StatusSeeOther)
		return nil
	}
}

// readUpload reads the small fields of the upload form into a map and
// spools the file part.
func readUpload(mr *multipart.Reader) (map[string]string, *os.File, int64, error) {
	fields := map[string]string{}
	var f *os.File
	var size int64
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return fields, f, size, nil
		}
		if err != nil {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, nil, 0, err
			}
			return nil, nil, 0, errBadForm
		}
		if p.FormName() == "file" && f == nil && p.FileName() != "" {
			if f, size, err = spool(p); err != nil {
				return nil, nil, 0, err
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p, 4096))
		if err != nil {
			return nil, nil, 0, errBadForm
		}
		fields[p.FormName()] = string(b)
	}
}

// uiJob shows a job's page: a progress bar while it runs, the report after.
func (j *importJobs) uiJob(s *Server) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		job, ok := j.get(mux.Vars(r)["job"], s.now())
		if !ok {
			return list.ErrNotFound
		}
		return s.uiPage(w, r, http.StatusOK, "import_job", "subscribers", job, "")
	}
}
