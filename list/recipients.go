package list

import (
	"context"
	"errors"
	"time"
)

// memberPage is how many index entries a recipient stream reads per list
// and store call: big enough to amortise the transaction, small enough to
// keep memory flat.
const memberPage = 512

// listCursor pages through one list's id-ordered membership index.
type listCursor struct {
	list  ListID
	buf   []Member
	after SubscriberID
	done  bool
}

func (lc *listCursor) head(ctx context.Context, st Store) (*Member, error) {
	if len(lc.buf) == 0 && !lc.done {
		ms, err := st.Members(ctx, lc.list, lc.after, memberPage)
		if errors.Is(err, ErrNotFound) {
			// Deleted since the stream began: its members went with it.
			lc.done = true
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		lc.buf, lc.done = ms, len(ms) < memberPage
		if len(ms) > 0 {
			lc.after = ms[len(ms)-1].Subscriber
		}
	}
	if len(lc.buf) == 0 {
		return nil, nil
	}
	return &lc.buf[0], nil
}

// Recipients streams a campaign's recipients: subscribers confirmed on any
// of its lists before it started, each once, in id order, by merging the
// lists' id-ordered indexes. It holds one page per list, never a "seen" set.
type Recipients struct {
	st      Store
	cursors []*listCursor
	before  time.Time
}

// NewRecipients starts a stream after the given subscriber id.
func NewRecipients(st Store, lists []ListID, after SubscriberID, confirmedBefore time.Time) *Recipients {
	r := &Recipients{st: st, before: confirmedBefore}
	for _, l := range lists {
		r.cursors = append(r.cursors, &listCursor{list: l, after: after})
	}
	return r
}

// Next returns the next recipient id, or 0 at the end.
func (r *Recipients) Next(ctx context.Context) (SubscriberID, error) {
	for {
		var min SubscriberID
		for _, lc := range r.cursors {
			m, err := lc.head(ctx, r.st)
			if err != nil {
				return 0, err
			}
			if m != nil && (min == 0 || m.Subscriber < min) {
				min = m.Subscriber
			}
		}
		if min == 0 {
			return 0, nil
		}
		qualifies := false
		for _, lc := range r.cursors {
			if len(lc.buf) > 0 && lc.buf[0].Subscriber == min {
				m := lc.buf[0]
				if m.State == StateConfirmed && !m.ConfirmedAt.After(r.before) {
					qualifies = true
				}
				lc.buf = lc.buf[1:]
			}
		}
		if qualifies {
			return min, nil
		}
	}
}

// CountRecipients counts a campaign's recipients by running the stream once.
func CountRecipients(ctx context.Context, st Store, lists []ListID, confirmedBefore time.Time) (int, error) {
	rs := NewRecipients(st, lists, 0, confirmedBefore)
	n := 0
	for {
		id, err := rs.Next(ctx)
		if err != nil || id == 0 {
			return n, err
		}
		n++
	}
}
