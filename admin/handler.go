package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/gorilla/mux"
)

// handlerFunc is the shape of every handler: an error is answered by the
// adapter the route was registered with.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// contentSecurityPolicy allows only the server's own resources.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'"

type ctxKey int

const reqInfoKey ctxKey = iota

// unmatchedRoute is the route reported for a request no route matched (404,
// 405, mux's redirect to the cleaned path): a label that says so rather than
// an empty one. Templates start with "/", so it is never one of them.
const unmatchedRoute = "unmatched"

// reqInfo is per-request state shared between the middleware and the
// handlers: the request id and the route template (never the path, which
// may carry a token).
type reqInfo struct {
	id    string
	route string
	// u is the authenticated user (API or admin session).
	u list.User
	// api marks a request the JSON API's authentication let in (Server.api).
	api bool
	// sid is the admin session id, once a ui wrapper found the session.
	sid string
	// router is the router that matched the request: formPage asks it
	// which paths are pages.
	router *mux.Router
}

func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(reqInfoKey).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// logger returns the server's logger with the request id.
func (s *Server) logger(r *http.Request) *slog.Logger {
	return s.log.With("request_id", info(r).id)
}

// statusWriter records the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// started reports whether the response has begun, so an error can no
// longer change its status.
func started(w http.ResponseWriter) bool {
	sw, ok := w.(*statusWriter)
	return ok && sw.status != 0
}

// middleware wraps every route: request id, security headers, panic
// recovery and the access log.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		var b [8]byte
		rand.Read(b[:]) // crypto/rand.Read never fails
		ri := &reqInfo{id: hex.EncodeToString(b[:])}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey, ri))
		sw := &statusWriter{ResponseWriter: w}
		h := sw.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Request-Id", ri.id)
		defer func() {
			if ri.route == "" {
				ri.route = unmatchedRoute
			}
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger(r).Error("panic in handler", "route", ri.route, "err", fmt.Sprint(v))
				if sw.status == 0 {
					http.Error(sw, "internal error", http.StatusInternalServerError)
				}
			}
			d := s.now().Sub(start)
			// A campaign page follows its progress with a stream opened
			// again every few seconds: those lines would bury the rest at
			// the info level.
			level := slog.LevelInfo
			if strings.HasSuffix(ri.route, "/progress") && sw.status < 400 {
				level = slog.LevelDebug
			}
			s.logger(r).Log(r.Context(), level, "request", "method", r.Method, "route", ri.route,
				"status", sw.status, "bytes", sw.bytes, "duration", d.Round(time.Microsecond))
			if s.observe != nil {
				s.observe(ri.route, sw.status, d)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// route records the matched route template for the access log and the
// metrics; the router's middleware calls it for every matched route.
func route(r *http.Request) {
	if cr := mux.CurrentRoute(r); cr != nil {
		if t, err := cr.GetPathTemplate(); err == nil {
			info(r).route = t
		}
	}
}

// plain adapts a handler answering errors as text.
func (s *Server) plain(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			ei := s.errorInfo(r, err)
			if started(w) {
				return
			}
			setErrorHeaders(w, ei)
			http.Error(w, ei.msg, ei.status)
		}
	})
}

// errorInfo classifies err and logs the ones the client must not see.
func (s *Server) errorInfo(r *http.Request, err error) errorInfo {
	ei := classify(err)
	if ei.internal {
		s.logger(r).Error("request failed", "route", info(r).route, "err", err)
	}
	return ei
}

// fallback answers unmatched routes in the style of the area the path
// belongs to.
func (s *Server) fallback(err error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/api/"):
			s.apiError(w, r, err)
		case strings.HasPrefix(p, "/admin/"):
			s.uiError(w, r, err)
		default:
			s.pageError(w, r, err)
		}
	})
}

// healthz answers that the process is alive.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write([]byte("ok\n"))
	return err
}

// readyz answers whether the server is ready for traffic.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	if s.ready != nil {
		if err := s.ready(); err != nil {
			s.logger(r).Warn("not ready", "err", err)
			return errNotReady
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("ok\n"))
	return err
}

// staticFiles serves the embedded assets.
func (s *Server) staticFiles() http.Handler {
	fsrv := http.StripPrefix("/static/", http.FileServerFS(s.static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			s.pageError(w, r, errNoRoute) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}
