package list

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ExportCSV streams subscribers as CSV (exportHeader): one row per
// subscription, or one row per subscriber without lists when no list is
// given. It pages through the store, so memory stays flat however large the
// list. Import reads the file back: the attributes column is the JSON
// object it understands, and it ignores the bookkeeping columns.
func (s *Service) ExportCSV(ctx context.Context, w io.Writer, slug string, state State) error {
	return s.ExportSearchCSV(ctx, w, SearchRequest{List: slug, State: state})
}

// ExportSearchCSV streams the subscribers a search finds (a whole address,
// a prefix of address or name, a list, a state: SearchSubscribers) as
// ExportCSV does, in the same columns and one row per subscription; with a
// list or a state, the subscriptions that match them.
func (s *Service) ExportSearchCSV(ctx context.Context, w io.Writer, r SearchRequest) error {
	if r.State != "" && !r.State.Valid() {
		return fmt.Errorf("%w: unknown state %q", ErrInvalid, r.State)
	}
	q := SubscriberQuery{Prefix: strings.ToLower(strings.TrimSpace(r.Q)), State: r.State, Limit: 1000}
	if r.List != "" {
		l, err := s.store.ListBySlug(ctx, r.List)
		if err != nil {
			return err
		}
		q.List = l.ID
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(exportHeader); err != nil {
		return err
	}
	cache := map[ListID]List{}
	err := s.eachFound(ctx, r.Email, q, func(rec Record) error {
		return s.writeCSVRows(ctx, cw, rec, q, cache)
	}, func() error {
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// eachFound calls fn for the subscriber with address email, or else for
// each subscriber q finds, page by page, calling flush after each page.
func (s *Service) eachFound(ctx context.Context, email string, q SubscriberQuery, fn func(Record) error, flush func() error) error {
	if email != "" {
		a, err := ParseAddress(email)
		if err != nil {
			return err
		}
		rec, err := s.store.Record(ctx, Key{Identity: a.Identity})
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(rec)
	}
	for {
		recs, _, err := s.store.SearchSubscribers(ctx, q)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if err := fn(rec); err != nil {
				return err
			}
		}
		if err := flush(); err != nil || len(recs) < q.Limit {
			return err
		}
		q.After = recs[len(recs)-1].Subscriber.ID
	}
}

// exportHeader are the columns of ExportCSV. New columns go at the end:
// scripts read the file by position.
var exportHeader = []string{"email", "name", "list", "state", "created_at", "confirmed_at", "unsubscribed_at", "blocklisted",
	"attributes", "consent_source", "consent_reason", "consent_at"}

func (s *Service) writeCSVRows(ctx context.Context, cw *csv.Writer, r Record, q SubscriberQuery, cache map[ListID]List) error {
	v, err := s.view(ctx, r, cache)
	if err != nil {
		return err
	}
	bl := fmt.Sprint(v.Blocklisted)
	attrs, err := AttributesJSON(v.Attributes)
	if err != nil {
		return err
	}
	wrote := false
	for _, sub := range v.Subscriptions {
		if q.List != 0 && sub.List != q.List || q.State != "" && sub.State != q.State {
			continue
		}
		row := []string{csvSafe(v.Email), csvSafe(v.Name), sub.Slug, string(sub.State), stamp(&sub.CreatedAt),
			stamp(sub.ConfirmedAt), stamp(sub.UnsubscribedAt), bl, attrs, "", "", ""}
		if c := sub.Consent; c != nil {
			row[9], row[10], row[11] = c.Source, csvSafe(c.Reason), stamp(&c.At)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
		wrote = true
	}
	if !wrote && q.List == 0 && q.State == "" {
		return cw.Write([]string{csvSafe(v.Email), csvSafe(v.Name), "", "", stamp(&v.CreatedAt), "", "", bl, attrs, "", "", ""})
	}
	return nil
}

// AttributesJSON is a subscriber's attributes as the attributes column of
// an export holds them (listmonk's form, which Import reads back): a JSON
// object, "" when there are none. HTML characters stay as they are, for
// people reading the file in a spreadsheet.
func AttributesJSON(attrs map[string]string) (string, error) {
	if len(attrs) == 0 {
		return "", nil
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(attrs); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// csvSafe defuses cells that spreadsheets would run as formulas (CSV
// injection): a leading =, +, - or @ gets a quote prefix.
func csvSafe(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r') {
		return "'" + v
	}
	return v
}
