package admin

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// downloads lets a shutdown end the long downloads in flight (backups,
// CSV exports).
// http.Server.Shutdown waits for every handler but cancels none: a
// backup of a large store held the shutdown for its whole grace period,
// and the process then exited under it, leaving its temporary copies of
// the store behind.
type downloads struct {
	stopping chan struct{}
	once     sync.Once
}

func newDownloads() *downloads { return &downloads{stopping: make(chan struct{})} }

// StopDownloads ends the backup and export downloads in flight and those
// started after it. A server shutting down calls it (register it with
// http.Server.RegisterOnShutdown): a download cut short is of no use to
// its client, which sees it fail (a backup's length is announced, an
// export's answer is aborted), while the other requests are let finish.
// It is safe to call more than once.
func (s *Server) StopDownloads() {
	s.downloads.once.Do(func() { close(s.downloads.stopping) })
}

// untilStopped returns a context of r that also ends at StopDownloads,
// which then ends a write blocked on a client that reads no more too.
// The handler must call release before it returns.
func (s *Server) untilStopped(w http.ResponseWriter, r *http.Request) (ctx context.Context, release func()) {
	ctx, cancel := context.WithCancel(r.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-s.downloads.stopping:
			cancel()
			// The deadline makes the blocked Write fail at once; an
			// error only means the writer cannot have one.
			http.NewResponseController(w).SetWriteDeadline(time.Now())
		case <-ctx.Done():
		}
	}()
	// Waiting for the goroutine keeps it from touching w after the
	// handler has returned.
	return ctx, func() { cancel(); <-done }
}
