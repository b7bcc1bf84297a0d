package admin

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

// stalledWriter is a client that stopped reading: its first Write blocks
// until a write deadline is set, as a connection's would.
type stalledWriter struct {
	header   http.Header
	writing  chan struct{} // closed at the first Write
	deadline chan struct{} // closed by SetWriteDeadline
	once     sync.Once
	dOnce    sync.Once
}

func (w *stalledWriter) Header() http.Header { return w.header }
func (w *stalledWriter) WriteHeader(int)     {}
func (w *stalledWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.writing) })
	<-w.deadline
	return 0, errors.New("i/o timeout")
}
func (w *stalledWriter) SetWriteDeadline(time.Time) error {
	w.dOnce.Do(func() { close(w.deadline) })
	return nil
}

// TestBackupDownloadStopsAtShutdown: a backup download to a client that
// reads no more ends at StopDownloads, the server's shutdown, instead of
// holding it, and removes its temporary copies of the store.
func TestBackupDownloadStopsAtShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	w := &stalledWriter{header: http.Header{}, writing: make(chan struct{}), deadline: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		e.h.ServeHTTP(w, apiReq("GET", "/api/v1/backup", "root", nil))
	}()
	select {
	case <-w.writing:
	case <-time.After(10 * time.Second):
		t.Fatal("the backup never began to stream")
	}
	e.srv.StopDownloads()
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		w.SetWriteDeadline(time.Now()) // let the handler go
		t.Fatal("the backup download did not end at StopDownloads")
	}
	ents, err := os.ReadDir(filepath.Dir(e.path))
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), ".bulletin-backup-") {
			t.Errorf("the stopped download left %s", ent.Name())
		}
	}
	e.srv.StopDownloads() // twice is harmless
}

// TestExportDownloadStopsAtShutdown: a CSV export to a client that reads
// no more ends at StopDownloads, as a backup does, and aborts the answer
// rather than ending it as if the file were whole.
func TestExportDownloadStopsAtShutdown(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/api/v1/export", "/api/v1/export?list=newsletter"} {
		// A server each: once stopped, a server's next export may end
		// before its first byte, which is answered as an error instead.
		e := newEnv(t)
		e.addUser("root", list.RoleAdmin)
		e.subscribe("one@example.com")
		w := &stalledWriter{header: http.Header{}, writing: make(chan struct{}), deadline: make(chan struct{})}
		served := make(chan any, 1)
		go func() {
			defer func() { served <- recover() }()
			e.h.ServeHTTP(w, apiReq("GET", path, "root", nil))
		}()
		select {
		case <-w.writing:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never began to stream", path)
		}
		e.srv.StopDownloads()
		select {
		case v := <-served:
			if v != http.ErrAbortHandler {
				t.Errorf("%s cut short ended with %v, want the answer aborted (http.ErrAbortHandler)", path, v)
			}
		case <-time.After(5 * time.Second):
			w.SetWriteDeadline(time.Now()) // let the handler go
			t.Fatalf("%s did not end at StopDownloads", path)
		}
	}
}
