package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// maxJSONBody bounds API request bodies.
const maxJSONBody = 1 << 20

// Collection paging: ?limit= defaults to 100 and is at most 1000.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// api adapts a JSON API handler: authentication first (Basic or bearer,
// never cookies), errors as {"error": "…"}.
func (s *Server) api(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		u, err := s.apiAuth(r)
		if err == nil {
			info(r).u, info(r).api = u, true
			err = fn(w, r)
		}
		if err != nil {
			s.apiError(w, r, err)
		}
	})
}

// apiError answers err as JSON.
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	ei := s.errorInfo(r, err)
	if started(w) {
		return
	}
	setErrorHeaders(w, ei)
	if ei.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="bulletin", charset="UTF-8"`)
	}
	body := map[string]any{"error": ei.msg}
	if ei.findings != nil {
		body["findings"] = ei.findings
	}
	if werr := writeJSON(w, ei.status, body); werr != nil {
		s.logger(r).Debug("write error answer", "err", werr)
	}
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// decodeJSON reads one JSON value of at most maxJSONBody bytes into v.
// Malformed JSON and unknown fields are 400, a value of the wrong type is
// 422, an over-long body 413.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			var mbe *http.MaxBytesError
			if errors.As(terr, &mbe) {
				return terr
			}
			return newHTTPError(http.StatusBadRequest, "malformed JSON: data after the value")
		}
		return nil
	}
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return newHTTPError(http.StatusBadRequest, "malformed JSON: empty body")
	case errors.As(err, &syn):
		return newHTTPError(http.StatusBadRequest, fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
	case errors.As(err, &typ):
		return newHTTPError(http.StatusUnprocessableEntity, typeMessage(typ))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// Valid JSON naming a field the route does not take: a value
		// problem, 422, as api.md says; a typo in a field name is the
		// usual cause.
		return newHTTPError(http.StatusUnprocessableEntity, "unknown field "+strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return newHTTPError(http.StatusBadRequest, "malformed JSON")
}

// typeMessage says which JSON field has a value of the wrong type and what
// it takes, in the API's terms: "name: want a string, got a number". The
// decoder's own text names Go types and embedded structs, which mean
// nothing to a client.
func typeMessage(typ *json.UnmarshalTypeError) string {
	var path []string
	for _, p := range strings.Split(typ.Field, ".") {
		// Embedded structs show as their Go type name; JSON fields are
		// snake_case, so a capital marks a segment that is no field.
		if p != "" && !unicode.IsUpper(rune(p[0])) {
			path = append(path, p)
		}
	}
	msg := "want " + wantType(typ.Type)
	if got := typ.Value; got != "" {
		got, _, _ = strings.Cut(got, " ") // "number -1" → "number"
		switch got {
		case "array", "object":
			msg += ", got an " + got
		case "number", "string":
			msg += ", got a " + got
		case "bool":
			msg += ", got true or false"
		}
	}
	if len(path) == 0 {
		return "the body: " + msg
	}
	return strings.Join(path, ".") + ": " + msg
}

// page is one page of a collection: {"items": […], "total": n, "next": cursor|null}.
type page[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
	// Next is the cursor of the following page (the last id), or null.
	Next *uint64 `json:"next"`
}

// pageLimit reads ?limit=: 100 when absent, at most 1000.
func pageLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, newHTTPError(http.StatusUnprocessableEntity, "limit must be a positive integer")
	}
	return min(n, maxLimit), nil
}

// paging reads ?limit= and ?after= (a numeric id cursor).
func paging(r *http.Request) (limit int, after uint64, err error) {
	q := r.URL.Query()
	if limit, err = pageLimit(r); err != nil {
		return 0, 0, err
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, newHTTPError(http.StatusUnprocessableEntity, "after must be a cursor from a previous page")
		}
		after = n
	}
	return limit, after, nil
}

// rfcTime marshals as RFC 3339 in UTC.
type rfcTime time.Time

func (t rfcTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(time.RFC3339) + `"`), nil
}

// UnmarshalJSON reads an RFC 3339 time.
func (t *rfcTime) UnmarshalJSON(b []byte) error {
	var v time.Time
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = rfcTime(v)
	return nil
}

func timePtr(t *time.Time) *rfcTime {
	if t == nil || t.IsZero() {
		return nil
	}
	v := rfcTime(*t)
	return &v
}

// streamCSV answers r with the CSV file that export writes, named
// filename. A shutdown ends it (untilStopped), as it ends backups. An
// error before the first byte is answered as any handler error; one after
// it aborts the response, so that the client sees a broken download
// instead of a file cut short that looks whole (a chunked answer that ends
// cleanly carries no length to check).
func (s *Server) streamCSV(w http.ResponseWriter, r *http.Request, filename string, export func(context.Context, io.Writer) error) error {
	ctx, release := s.untilStopped(w, r)
	defer release()
	cw := &csvWriter{w: w, filename: filename}
	if err := export(ctx, cw); err != nil {
		if !cw.begun {
			return err
		}
		s.logger(r).Error("export failed midway", "err", err)
		panic(http.ErrAbortHandler)
	}
	if !cw.begun {
		_, _ = cw.Write(nil)
	}
	return nil
}

// csvWriter sets the CSV headers on the first write, so that an error
// before any row still gets a JSON answer.
type csvWriter struct {
	w        http.ResponseWriter
	filename string
	begun    bool
}

func (c *csvWriter) Write(b []byte) (int, error) {
	if !c.begun {
		c.begun = true
		c.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		c.w.Header().Set("Content-Disposition", `attachment; filename="`+c.filename+`"`)
		c.w.WriteHeader(http.StatusOK)
	}
	return c.w.Write(b)
}
