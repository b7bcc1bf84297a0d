package list

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Bounces pages through bounce records matching f, oldest first; next is
// the cursor of the following page, total how many match on every page.
func (s *Service) Bounces(ctx context.Context, f BounceFilter) (bs []Bounce, next *BounceID, total int, err error) {
	if f.Email != "" {
		a, err := ParseAddress(f.Email)
		if err != nil {
			return nil, nil, 0, err
		}
		f.Email = a.Identity
	}
	if f.Kind != "" && !slices.Contains(BounceKinds, f.Kind) {
		return nil, nil, 0, fmt.Errorf("%w: unknown bounce kind %q", ErrInvalid, f.Kind)
	}
	limit := max(1, min(f.Limit, 1000))
	f.Limit = limit + 1
	if bs, err = s.store.Bounces(ctx, f); err != nil {
		return nil, nil, 0, err
	}
	if len(bs) > limit {
		bs = bs[:limit]
		id := bs[limit-1].ID
		next = &id
	}
	if total, err = s.store.CountBounces(ctx, f); err != nil {
		return nil, nil, 0, err
	}
	return bs, next, total, nil
}

// Bounce returns bounce record id with the report it came from, as
// received (nil once pruned, or for a record made without one).
func (s *Service) Bounce(ctx context.Context, id BounceID) (Bounce, error) {
	if id == 0 {
		return Bounce{}, ErrNotFound
	}
	bs, err := s.store.Bounces(ctx, BounceFilter{After: id - 1, Limit: 1})
	if err != nil {
		return Bounce{}, err
	}
	if len(bs) == 0 || bs[0].ID != id {
		return Bounce{}, ErrNotFound
	}
	return bs[0], nil
}

// Suppressions pages through the global suppression list, oldest first.
// after is the next cursor of the previous page, opaque to the caller; next
// is nil on the last page; total counts every entry.
func (s *Service) Suppressions(ctx context.Context, after string, limit int) (items []Suppression, next *string, total int, err error) {
	cur, err := hex.DecodeString(after)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%w: after must be a cursor from a previous page", ErrInvalid)
	}
	limit = max(1, min(limit, 1000))
	ss, total, err := s.store.Suppressions(ctx, cur, limit+1)
	if err != nil {
		return nil, nil, 0, err
	}
	if len(ss) > limit {
		ss = ss[:limit]
		c := hex.EncodeToString(ss[limit-1].Cursor)
		next = &c
	}
	return ss, next, total, nil
}

// Suppress puts an address on the suppression list: it is never mailed
// again, whatever list it joins later, until an admin or the person's own
// fresh double opt-in lifts it. An address already there is ErrExists and
// its entry stays as it was: its time and reason say why it was first
// suppressed, which a second admin click must not rewrite.
func (s *Service) Suppress(ctx context.Context, email, reason string, o Origin) (Suppression, error) {
	a, err := ParseAddress(email)
	if err != nil {
		return Suppression{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "added by an admin"
	}
	if err := checkText("reason", reason, 500); err != nil {
		return Suppression{}, err
	}
	now, hash := s.Now(), s.tokens.AddressHash(a.Identity)
	entry := Suppression{Hash: hash, Email: a.Display, Reason: reason, How: HowAdmin, At: now}
	r, err := s.store.UpdateSubscriber(ctx, Key{Identity: a.Identity, Hash: hash}, false, func(r *Record, fx *Effects) error {
		if r.Suppression != nil {
			return ErrExists
		}
		r.Suppression = &entry
		fx.Events = append(fx.Events, s.event(r, 0, EventBlocklisted, o.how(HowAdmin), o, now, reason))
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		err = s.store.PutSuppression(ctx, entry)
	case err == nil:
		entry = *r.Suppression
	}
	if errors.Is(err, ErrExists) {
		return Suppression{}, fmt.Errorf("%w: %s is already suppressed", ErrExists, a.Display)
	}
	if err != nil {
		return Suppression{}, err
	}
	s.audit(ctx, o, "suppression.add", auditAddress(hash))
	return entry, nil
}

// Unsuppress lifts an address's suppression.
func (s *Service) Unsuppress(ctx context.Context, email string, o Origin) error {
	a, err := ParseAddress(email)
	if err != nil {
		return err
	}
	now, hash := s.Now(), s.tokens.AddressHash(a.Identity)
	found := false
	_, err = s.store.UpdateSubscriber(ctx, Key{Identity: a.Identity, Hash: hash}, false, func(r *Record, fx *Effects) error {
		found = r.Suppression != nil
		s.setBlocklisted(r, fx, false, "", o.how(HowAdmin), o, now)
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		err = s.store.DeleteSuppression(ctx, hash)
		found = err == nil
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %s is not suppressed", ErrNotFound, a.Display)
	}
	s.audit(ctx, o, "suppression.delete", auditAddress(hash))
	return nil
}

// auditAddress names an address in the audit log by a prefix of its keyed
// hash: the log outlives an erasure, so it must not keep the address.
func auditAddress(hash []byte) string {
	return "address#" + hex.EncodeToString(hash[:6])
}
