package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bulletin/bulletin/list"
)

// httpError is an error of the HTTP layer itself, with its status and a
// message safe to show.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func newHTTPError(status int, msg string) error { return &httpError{status: status, msg: msg} }

var (
	errNoRoute  = newHTTPError(http.StatusNotFound, "not found")
	errMethod   = newHTTPError(http.StatusMethodNotAllowed, "method not allowed")
	errBadForm  = newHTTPError(http.StatusBadRequest, "malformed form data")
	errNotReady = newHTTPError(http.StatusServiceUnavailable, "not ready")
)

// limitedError is a rate-limit refusal that knows when to come back.
type limitedError struct{ after time.Duration }

func (e *limitedError) Error() string             { return "too many requests, try again later" }
func (e *limitedError) Unwrap() error             { return list.ErrLimited }
func (e *limitedError) RetryAfter() time.Duration { return e.after }

// errorInfo is what every error surface (JSON, public page, admin page)
// needs to answer an error.
type errorInfo struct {
	status int
	msg    string
	// retryAfter is the Retry-After value of a 429, in seconds.
	retryAfter int
	// findings are the lint findings of a refused send or test, answered
	// beside the error by the API.
	findings []list.Finding
	// internal marks errors whose text must not reach the client; they are
	// logged instead.
	internal bool
}

// classify maps an error to its HTTP status and client-safe message. It is
// the one place where domain errors become statuses.
func classify(err error) errorInfo {
	var he *httpError
	var mbe *http.MaxBytesError
	var ra interface{ RetryAfter() time.Duration }
	var le *list.LintError
	var de *list.DeliveryError
	switch {
	case errors.As(err, &he):
		return errorInfo{status: he.status, msg: he.msg}
	case errors.As(err, &mbe):
		return errorInfo{status: http.StatusRequestEntityTooLarge, msg: "request body too large"}
	case errors.As(err, &le):
		// Its text says which findings block the send; "invalid" would not.
		return errorInfo{status: http.StatusUnprocessableEntity, msg: le.Error(), findings: le.Findings}
	case errors.As(err, &de) && !de.Unsendable:
		// A test send the relay refused or could not be reached for: the
		// editor needs its answer, not "internal error".
		return errorInfo{status: http.StatusBadGateway, msg: "The relay did not take the mail: " + err.Error()}
	case errors.Is(err, list.ErrInvalidToken):
		return errorInfo{status: http.StatusBadRequest, msg: "This link is invalid or has expired."}
	case errors.Is(err, list.ErrInvalid):
		return errorInfo{status: http.StatusUnprocessableEntity, msg: detail(err, list.ErrInvalid, true)}
	case errors.Is(err, list.ErrNotFound):
		return errorInfo{status: http.StatusNotFound, msg: "not found"}
	case errors.Is(err, list.ErrExists), errors.Is(err, list.ErrBadTransition), errors.Is(err, list.ErrSuppressed):
		return errorInfo{status: http.StatusConflict, msg: conflictDetail(err)}
	case errors.Is(err, list.ErrUnauthorized):
		return errorInfo{status: http.StatusUnauthorized, msg: "authentication required"}
	case errors.Is(err, list.ErrForbidden):
		return errorInfo{status: http.StatusForbidden, msg: "forbidden"}
	case errors.Is(err, list.ErrLimited):
		secs := 60
		if errors.As(err, &ra) {
			secs = int((ra.RetryAfter() + time.Second - 1) / time.Second)
		}
		return errorInfo{status: http.StatusTooManyRequests, msg: "too many requests, try again later", retryAfter: max(secs, 1)}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errorInfo{status: http.StatusServiceUnavailable, msg: "request cancelled"}
	}
	return errorInfo{status: http.StatusInternalServerError, msg: "internal error", internal: true}
}

// setErrorHeaders adds the headers an error status requires.
func setErrorHeaders(w http.ResponseWriter, ei errorInfo) {
	if ei.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ei.retryAfter))
	}
}

// detail returns the user-facing part of an error made as
// fmt.Errorf("%w: message", sentinel): the text after the sentinel, or the
// sentinel's own text when there is none.
func detail(err, sentinel error, strip bool) string {
	s, p := err.Error(), sentinel.Error()
	i := strings.Index(s, p)
	if i < 0 {
		return p
	}
	rest := strings.TrimPrefix(s[i+len(p):], ": ")
	if rest == "" {
		return p
	}
	if strip {
		return rest
	}
	return p + ": " + rest
}

func conflictDetail(err error) string {
	for _, e := range []error{list.ErrExists, list.ErrBadTransition, list.ErrSuppressed} {
		if errors.Is(err, e) {
			return detail(err, e, false)
		}
	}
	return "conflict"
}
