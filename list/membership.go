package list

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ListAddition is an editor's request to put an existing subscriber on
// lists: state confirmed needs a reason, kept as the consent source;
// unconfirmed (the default) sends the confirmation mail.
type ListAddition struct {
	Lists  []string `json:"lists"`
	State  State    `json:"state"`
	Reason string   `json:"reason"`
}

// SubscribeToLists puts an existing subscriber on lists, as AddSubscriber
// does for a new one and under the same checks: the lists' address rules,
// and a suppressed address is never mailed (its subscription waits,
// unconfirmed, and no editor can confirm it past the suppression). A list
// the person is confirmed on is left as it is, so that asking twice
// changes nothing. A list they left needs a new consent, as a sign-up
// does: the editor's confirmed one, or the confirmation mail, while the
// consent of the subscription they left stays until the new one is
// confirmed.
func (s *Service) SubscribeToLists(ctx context.Context, id SubscriberID, a ListAddition, how How, o Origin) (SubscriberView, error) {
	state, err := additionState(a.State, a.Reason)
	if err != nil {
		return SubscriberView{}, err
	}
	reason := strings.TrimSpace(a.Reason)
	if err := checkText("reason", reason, 500); err != nil {
		return SubscriberView{}, err
	}
	if len(a.Lists) == 0 {
		return SubscriberView{}, fmt.Errorf("%w: name at least one list", ErrInvalid)
	}
	cur, err := s.store.Record(ctx, Key{ID: id})
	if err != nil {
		return SubscriberView{}, err
	}
	lists, err := s.listsBySlug(ctx, a.Lists)
	if err != nil {
		return SubscriberView{}, err
	}
	if err := s.checkLists(cur.Subscriber, lists); err != nil {
		return SubscriberView{}, err
	}
	now, nonce, cfg := s.Now(), s.nonce(), s.Config()
	k := Key{ID: id, Hash: s.tokens.AddressHash(cur.Subscriber.Identity)}
	r, changed, err := s.updateIfChanged(ctx, k, func(r *Record, fx *Effects) error {
		for i := range lists {
			l := &lists[i]
			if err := s.addExisting(r, fx, l, state, editorConsent(l, how, reason, o, now, cfg), how, o, now, nonce); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return SubscriberView{}, err
	}
	if changed {
		s.Kick()
		s.audit(ctx, o, "subscriber.subscribe", fmt.Sprintf("%d: %s (%s)", id, strings.Join(a.Lists, ", "), state))
	}
	return s.view(ctx, r, map[ListID]List{})
}

// errUnchanged ends an update that has nothing to write, so that the
// store neither writes the record nor stamps its updated_at.
var errUnchanged = errors.New("unchanged")

// updateIfChanged updates an existing subscriber with fn and reports
// whether fn changed anything, which it tells by the events it records:
// every change of a subscription is one. Without any, nothing is written
// and the record is answered as it was.
func (s *Service) updateIfChanged(ctx context.Context, k Key, fn func(*Record, *Effects) error) (Record, bool, error) {
	var kept Record
	r, err := s.store.UpdateSubscriber(ctx, k, false, func(r *Record, fx *Effects) error {
		if err := fn(r, fx); err != nil {
			return err
		}
		if len(fx.Events) == 0 {
			kept = *r
			return errUnchanged
		}
		r.Subscriber.UpdatedAt = s.Now()
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return kept, false, nil
	}
	return r, err == nil, err
}

// checkLists applies each list's address rules to a subscriber's address.
func (s *Service) checkLists(sb Subscriber, lists []List) error {
	addr, err := ParseAddress(sb.Email)
	if err != nil {
		return err
	}
	for i := range lists {
		if err := s.CheckAddress(&lists[i], addr); err != nil {
			return err
		}
	}
	return nil
}

// addExisting applies an editor's addition to one list of a record. It
// runs inside the store transaction: pure, no I/O.
func (s *Service) addExisting(r *Record, fx *Effects, l *List, state State, consent *Consent, how How, o Origin, now time.Time, nonce uint32) error {
	sub := r.Subscription(l.ID)
	switch {
	case sub == nil || sub.State == StateConfirmed:
		// A new subscription is AddSubscriber's case; a confirmed one
		// stays as it is (addToList leaves it).
	case state == StateConfirmed && r.Suppression == nil:
		// The editor's consent replaces a renewal still waiting for its
		// confirmation.
		sub.PendingConsent = nil
	default:
		s.askAgain(r, fx, l, sub, consent, how, o, now, nonce)
		return nil
	}
	return s.addToList(r, fx, l, state, consent, how, o, now, nonce)
}

// askAgain asks a person known on a list, unconfirmed or gone, for their
// confirmation, as their own sign-up would (signUp): a subscription they
// left keeps its unsubscribed_at and its consent until the new consent is
// confirmed; one mailed a moment ago is not mailed again; a suppressed
// address is not mailed at all.
func (s *Service) askAgain(r *Record, fx *Effects, l *List, sub *Subscription, consent *Consent, how How, o Origin, now time.Time, nonce uint32) {
	switch {
	case sub.State == StateUnsubscribed:
		reopen(sub, consent, nonce)
	case now.Sub(sub.LastConfirmMail) < s.Config().ConfirmEvery:
		return // mailed a moment ago: nothing new to do
	default:
		setRequestConsent(sub, consent)
	}
	fx.Events = append(fx.Events, s.event(r, l.ID, EventSubscribed, how, o, now, consent.Reason))
	if r.Suppression == nil {
		queueConfirm(r, fx, l, sub, now)
	}
}

// UnsubscribeFromList takes a subscriber off a list at an editor's
// request. The subscription and its consent record stay, as after the
// person's own unsubscribe: its state becomes unsubscribed, unsubscribed_at
// is set and every confirmation link dies. The event says an editor did it,
// with their reason when given. Unsubscribing twice changes nothing; a
// person not on the list is ErrNotFound.
func (s *Service) UnsubscribeFromList(ctx context.Context, id SubscriberID, slug, reason string, how How, o Origin) (SubscriberView, error) {
	reason = strings.TrimSpace(reason)
	if err := checkText("reason", reason, 500); err != nil {
		return SubscriberView{}, err
	}
	cur, err := s.store.Record(ctx, Key{ID: id})
	if err != nil {
		return SubscriberView{}, err
	}
	l, err := s.store.ListBySlug(ctx, slug)
	if err != nil {
		return SubscriberView{}, err
	}
	detail := "by an editor"
	if reason != "" {
		detail += ": " + reason
	}
	now := s.Now()
	k := Key{ID: id, Hash: s.tokens.AddressHash(cur.Subscriber.Identity)}
	r, changed, err := s.updateIfChanged(ctx, k, func(r *Record, fx *Effects) error {
		sub := r.Subscription(l.ID)
		if sub == nil {
			return fmt.Errorf("%w: %d is not on list %s", ErrNotFound, id, l.Slug)
		}
		if sub.State != StateUnsubscribed {
			leave(sub, now)
			fx.Events = append(fx.Events, s.event(r, l.ID, EventUnsubscribed, how, o, now, detail))
		}
		return nil
	})
	if err != nil {
		return SubscriberView{}, err
	}
	if changed {
		s.audit(ctx, o, "subscriber.unsubscribe", fmt.Sprintf("%d: %s", id, l.Slug))
	}
	return s.view(ctx, r, map[ListID]List{})
}

// leave ends a subscription and keeps its consent record, the proof of the
// subscription that was. A renewal still waiting for its confirmation is
// dropped with it, and gives back the confirmation time of the consent the
// subscription rests on, which the renewal had cleared (as a lapsed
// renewal does, retention.go).
func leave(sub *Subscription, now time.Time) {
	t := now
	sub.State, sub.UnsubscribedAt, sub.Nonce, sub.PendingConsent = StateUnsubscribed, &t, sub.Nonce+1, nil
	if sub.ConfirmedAt == nil && sub.Consent != nil && sub.Consent.ConfirmedAt != nil {
		c := *sub.Consent.ConfirmedAt
		sub.ConfirmedAt = &c
	}
}
