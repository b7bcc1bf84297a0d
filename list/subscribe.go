package list

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SubscribeRequest is a sign-up from the public form or the API.
type SubscribeRequest struct {
	List       string
	Email      string
	Name       string
	Attributes map[string]string
	How        How
	Origin     Origin
}

// checkMailable refuses, for a person signing up or changing their own
// address, an address the sender cannot put in an envelope: a non-ASCII
// part before the @ needs SMTPUTF8, which the sender does not speak. The
// confirmation would never arrive while the page said it was on its way.
// Editors may still keep such addresses (imports, the API); their messages
// fail alone at send time.
func checkMailable(a Address) error {
	if a.NeedsSMTPUTF8() {
		return fmt.Errorf("%w: addresses with letters beyond plain ASCII before the @ cannot receive our mail yet; please use another address", ErrInvalid)
	}
	return nil
}

// Subscribe creates or renews an unconfirmed subscription and queues the
// confirmation mail (or confirms at once on a single opt-in list). It answers
// the same whether the address was new, known, confirmed or limited, so that
// nobody learns from it whether an address is subscribed.
func (s *Service) Subscribe(ctx context.Context, req SubscribeRequest) error {
	addr, err := ParseAddress(req.Email)
	if err != nil {
		return fieldError("email", err)
	}
	if err := checkMailable(addr); err != nil {
		return fieldError("email", err)
	}
	name := strings.TrimSpace(req.Name)
	if err := checkText("name", name, 200); err != nil {
		return fieldError("name", err)
	}
	l, err := s.store.ListBySlug(ctx, req.List)
	if err != nil {
		return err
	}
	if !l.Public && req.How == HowForm {
		return fmt.Errorf("%w: list %q", ErrNotFound, req.List)
	}
	if err := s.checkSignUp(ctx, &l, addr, req.How); err != nil {
		return fieldError("email", err)
	}
	attrs, err := listAttributes(&l, req.Attributes)
	if err != nil {
		return err
	}
	cfg, now, nonce := s.Config(), s.Now(), s.nonce()
	k := Key{Identity: addr.Identity, Hash: s.tokens.AddressHash(addr.Identity)}
	_, err = s.store.UpdateSubscriber(ctx, k, true, func(r *Record, fx *Effects) error {
		if r.Subscriber.ID == 0 {
			r.Subscriber = Subscriber{Email: addr.Display, Identity: addr.Identity, Name: name,
				Attributes: attrs, CreatedAt: now, Nonce: nonce}
		}
		r.Subscriber.UpdatedAt = now
		consent := &Consent{Source: string(req.How), Text: l.ConsentText, TextVersion: l.ConsentVersion,
			PrivacyURL: cfg.PrivacyURL, At: now, IP: req.Origin.IP, UserAgent: req.Origin.UserAgent}
		return s.signUp(r, fx, &l, consent, req.How, req.Origin, now, nonce)
	})
	if err != nil {
		return err
	}
	s.Kick()
	return nil
}

// signUp applies a sign-up to one list of a record.
func (s *Service) signUp(r *Record, fx *Effects, l *List, consent *Consent, how How, o Origin, now time.Time, nonce uint32) error {
	sub := r.Subscription(l.ID)
	if sub == nil {
		r.Subscriptions = append(r.Subscriptions, Subscription{List: l.ID, CreatedAt: now})
		sortSubscriptions(r.Subscriptions)
		sub = r.Subscription(l.ID)
		sub.State = StateUnsubscribed // a new subscription takes the same path as a renewal
	}
	switch sub.State {
	case StateConfirmed:
		// Nothing new to send, and the same answer as for a new address;
		// but a suppressed person (a bounce, a complaint) still confirmed
		// on the list gets the confirmation whose link lifts the
		// suppression: their own fresh double opt-in is the way back.
		if r.Suppression == nil || now.Sub(sub.LastConfirmMail) < s.Config().ConfirmEvery {
			return nil
		}
		setRequestConsent(sub, consent)
	case StateUnconfirmed:
		if now.Sub(sub.LastConfirmMail) < s.Config().ConfirmEvery {
			return nil // limited, silently
		}
		setRequestConsent(sub, consent)
	case StateUnsubscribed:
		// UnsubscribedAt stays until a confirmation: a renewal that nobody
		// confirms is still a subscription its owner left (imports and the
		// retention job go by it), and its consent record stays whole.
		reopen(sub, consent, nonce)
		fx.Events = append(fx.Events, s.event(r, l.ID, EventSubscribed, how, o, now, ""))
		if l.OptIn == OptInSingle && r.Suppression == nil {
			return s.confirm(r, fx, l, sub, how, o, now, nonce+1)
		}
	}
	queueConfirm(r, fx, l, sub, now)
	return nil
}

// reopen makes a subscription its owner left unconfirmed again for a new
// request, whose consent waits beside the old one until confirmed.
func reopen(sub *Subscription, consent *Consent, nonce uint32) {
	sub.State, sub.Nonce = StateUnconfirmed, nonce
	setRequestConsent(sub, consent)
	sub.ConfirmedAt, sub.RemindedAt = nil, nil
}

// setRequestConsent records the consent of a sign-up request: as the
// subscription's consent, or, when that holds a confirmed consent the
// mail already sent rests on, as pending until the request is confirmed.
func setRequestConsent(sub *Subscription, c *Consent) {
	if sub.Consent != nil && sub.Consent.ConfirmedAt != nil {
		sub.PendingConsent = c
		return
	}
	sub.Consent = c
}

// confirm moves an unconfirmed subscription to confirmed, records the
// confirmation in its consent record, lifts a suppression (the person proved
// consent and a working mailbox again) and queues the welcome mail.
func (s *Service) confirm(r *Record, fx *Effects, l *List, sub *Subscription, how How, o Origin, now time.Time, nonce uint32) error {
	t := now
	sub.State, sub.ConfirmedAt, sub.Nonce, sub.UnsubscribedAt = StateConfirmed, &t, nonce, nil
	if sub.PendingConsent != nil {
		sub.Consent, sub.PendingConsent = sub.PendingConsent, nil
	}
	if sub.Consent == nil {
		sub.Consent = &Consent{Source: string(how), At: now}
	}
	sub.Consent.ConfirmedAt, sub.Consent.ConfirmIP, sub.Consent.ConfirmUserAgent = &t, o.IP, o.UserAgent
	fx.Events = append(fx.Events, s.event(r, l.ID, EventConfirmed, how, o, now, ""))
	if r.Suppression != nil {
		r.Suppression = nil
		fx.Events = append(fx.Events, s.event(r, 0, EventUnblocklisted, how, o, now, "confirmed a fresh opt-in"))
	}
	if l.Welcome {
		fx.Mails = append(fx.Mails, QueuedMail{Kind: MailWelcome, Subscriber: r.Subscriber.ID, List: l.ID, Due: now, Created: now})
	}
	return nil
}

func (s *Service) event(r *Record, l ListID, kind EventKind, how How, o Origin, now time.Time, detail string) Event {
	return Event{Subscriber: r.Subscriber.ID, List: l, Kind: kind, How: how, At: now,
		IP: o.IP, UserAgent: o.UserAgent, Detail: detail}
}

// listAttributes keeps the attributes a list asks for and checks them.
func listAttributes(l *List, in map[string]string) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]string)
	for _, a := range l.Attributes {
		v, ok := in[a]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if err := checkText(a, v, 500); err != nil {
			return nil, fieldError(AttrField(a), err)
		}
		out[a] = v
	}
	return out, nil
}

// LinkInfo describes what a token link is about, for the page that shows it.
type LinkInfo struct {
	Subscriber Subscriber
	List       *List
	Campaign   CampaignID
	Token      Token
	// Done says that the link has nothing left to do: its subscription is
	// confirmed already (a confirmation link), or the subscriptions it
	// ends are ended already (an unsubscribe link). People follow a link
	// twice; the second time the page says so rather than asking again.
	Done bool
	// Gone says that the person an authentic unsubscribe token names is
	// no longer known: erased, or purged before confirming. Nothing is
	// mailed to them, so the link is done, and the rest of the info is
	// empty: the page reveals nothing about them.
	Gone bool
	// lists are the lists an unsubscribe link ends (unsubscribeLists).
	lists []ListID
}

// ConfirmInfo checks a confirmation token without changing anything.
func (s *Service) ConfirmInfo(ctx context.Context, token string) (LinkInfo, error) {
	t, err := s.tokens.Open(PurposeConfirm, token, s.Now())
	if err != nil {
		return LinkInfo{}, err
	}
	r, l, err := s.tokenRecord(ctx, t)
	if err != nil {
		return LinkInfo{}, err
	}
	sub := r.Subscription(l.ID)
	if sub == nil || !(sub.State == StateConfirmed || sub.State == StateUnconfirmed && sub.Nonce == t.Nonce) {
		return LinkInfo{}, fmt.Errorf("%w: this link is no longer valid", ErrInvalidToken)
	}
	// A suppressed person still confirmed on the list who signed up again
	// (signUp) has this link to follow: confirming lifts the suppression.
	// The suppression is found by the address's hash, so read again.
	done := sub.State == StateConfirmed && sub.Nonce != t.Nonce
	if sub.State == StateConfirmed && !done {
		k := Key{ID: r.Subscriber.ID, Hash: s.tokens.AddressHash(r.Subscriber.Identity)}
		sr, err := s.store.Record(ctx, k)
		if err != nil {
			return LinkInfo{}, err
		}
		done = sr.Suppression == nil
	}
	return LinkInfo{Subscriber: r.Subscriber, List: l, Token: t, Done: done}, nil
}

// tokenRecord loads the subscriber and list a token names; a missing one
// makes the token invalid.
func (s *Service) tokenRecord(ctx context.Context, t Token) (Record, *List, error) {
	r, err := s.store.Record(ctx, Key{ID: t.Subscriber})
	if errors.Is(err, ErrNotFound) {
		return Record{}, nil, fmt.Errorf("%w: unknown subscriber", ErrInvalidToken)
	}
	if err != nil {
		return Record{}, nil, err
	}
	l, err := s.tokenList(ctx, t)
	if err != nil {
		return Record{}, nil, err
	}
	return r, l, nil
}

// tokenList loads the list a token names, if any; a missing one makes the
// token invalid.
func (s *Service) tokenList(ctx context.Context, t Token) (*List, error) {
	if t.List == 0 {
		return nil, nil
	}
	l, err := s.store.List(ctx, t.List)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown list", ErrInvalidToken)
	}
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// Confirm confirms the subscription a confirmation token names. A token
// dies when its subscription leaves the path to confirmed: an old link
// cannot undo a later unsubscribe. Confirming twice changes nothing, and
// the answer's Done says so.
func (s *Service) Confirm(ctx context.Context, token string, o Origin) (LinkInfo, error) {
	info, err := s.ConfirmInfo(ctx, token)
	if err != nil || info.Done {
		return info, err
	}
	t, l, now, nonce := info.Token, info.List, s.Now(), s.nonce()
	k := Key{ID: t.Subscriber, Hash: s.tokens.AddressHash(info.Subscriber.Identity)}
	r, err := s.store.UpdateSubscriber(ctx, k, false, func(r *Record, fx *Effects) error {
		sub := r.Subscription(l.ID)
		switch {
		case sub != nil && sub.State == StateConfirmed && (r.Suppression == nil || sub.Nonce != t.Nonce):
			return nil
		case sub != nil && sub.State == StateConfirmed:
			// A suppressed person signed up again on a list they were
			// still confirmed on (signUp): confirming lifts it.
		case sub == nil || sub.State != StateUnconfirmed || sub.Nonce != t.Nonce:
			return fmt.Errorf("%w: this link is no longer valid", ErrInvalidToken)
		}
		r.Subscriber.UpdatedAt = now
		return s.confirm(r, fx, l, sub, HowForm, o, now, nonce)
	})
	if err != nil {
		return LinkInfo{}, err
	}
	s.Kick()
	info.Subscriber = r.Subscriber
	return info, nil
}

// UnsubscribeInfo checks an unsubscribe token without changing anything.
// Unsubscribe tokens never expire, not even with their subscriber: the
// token of an erased person is Gone, not invalid, so that the one-click
// of an old mail still succeeds (RFC 8058 §3.2 asks for a 2xx).
func (s *Service) UnsubscribeInfo(ctx context.Context, token string) (LinkInfo, error) {
	t, err := s.tokens.Open(PurposeUnsubscribe, token, s.Now())
	if err != nil {
		return LinkInfo{}, err
	}
	// Subscriber ids are never reused, and the MAC proves that this one was
	// issued: a missing record was erased or purged.
	r, err := s.store.Record(ctx, Key{ID: t.Subscriber})
	if errors.Is(err, ErrNotFound) {
		return LinkInfo{Done: true, Gone: true}, nil
	}
	if err != nil {
		return LinkInfo{}, err
	}
	l, err := s.tokenList(ctx, t)
	if err != nil {
		return LinkInfo{}, err
	}
	info := LinkInfo{Subscriber: r.Subscriber, List: l, Campaign: t.Campaign, Token: t}
	info.lists = s.unsubscribeLists(ctx, info)
	info.Done = len(info.lists) > 0
	for _, id := range info.lists {
		if sub := r.Subscription(id); sub != nil && sub.State != StateUnsubscribed {
			info.Done = false
		}
	}
	return info, nil
}

// unsubscribeLists are the lists an unsubscribe link ends: its list, and
// every list of its campaign (the person got one mail for all of them).
func (s *Service) unsubscribeLists(ctx context.Context, info LinkInfo) []ListID {
	var lists []ListID
	if info.Campaign != 0 {
		if c, err := s.store.Campaign(ctx, info.Campaign); err == nil {
			lists = c.Lists
		}
	}
	if info.List != nil {
		lists = append(lists, info.List.ID)
	}
	return lists
}

// Unsubscribe ends the subscriptions an unsubscribe token names: its list,
// or every list of its campaign, or with all every list (and then the
// address is suppressed, as "unsubscribe from all" promises). It is
// idempotent and never fails for an already unsubscribed person.
func (s *Service) Unsubscribe(ctx context.Context, token string, all bool, how How, o Origin) error {
	info, err := s.UnsubscribeInfo(ctx, token)
	if err != nil || info.Gone {
		return err
	}
	// A campaign counts each person who left through it once: one can
	// leave, sign up again and follow the same mail's link again.
	counted, err := s.leftThrough(ctx, info.Subscriber.ID, info.Campaign)
	if err != nil {
		return err
	}
	changed, err := s.unsubscribe(ctx, info.Subscriber, info.lists, all, info.Campaign, how, o)
	if err != nil {
		return err
	}
	if changed && info.Campaign != 0 && !counted {
		_, err = s.store.UpdateCampaign(ctx, info.Campaign, func(c *Campaign) error {
			c.Stats.Unsubscribed++
			return nil
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// leftThrough reports whether the person already left a list through
// campaign c's unsubscribe link, from their events.
func (s *Service) leftThrough(ctx context.Context, id SubscriberID, c CampaignID) (bool, error) {
	if c == 0 {
		return false, nil
	}
	left := false
	err := s.eachEvent(ctx, id, func(e Event) bool {
		left = e.Kind == EventUnsubscribed && e.Campaign == c
		return !left
	})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return left, err
}

// unsubscribe leaves the given lists (or all) and reports whether anything
// changed. Campaign c, when not 0, is the one whose link was followed: the
// events name it.
func (s *Service) unsubscribe(ctx context.Context, sb Subscriber, lists []ListID, all bool, c CampaignID, how How, o Origin) (bool, error) {
	now, changed := s.Now(), false
	k := Key{ID: sb.ID, Hash: s.tokens.AddressHash(sb.Identity)}
	_, err := s.store.UpdateSubscriber(ctx, k, false, func(r *Record, fx *Effects) error {
		changed = false
		for i := range r.Subscriptions {
			sub := &r.Subscriptions[i]
			if sub.State == StateUnsubscribed || !all && !containsList(lists, sub.List) {
				continue
			}
			t := now
			sub.State, sub.UnsubscribedAt, sub.Nonce = StateUnsubscribed, &t, sub.Nonce+1
			ev := s.event(r, sub.List, EventUnsubscribed, how, o, now, "")
			ev.Campaign = c
			fx.Events = append(fx.Events, ev)
			changed = true
		}
		if all && r.Suppression == nil {
			r.Suppression = &Suppression{Email: r.Subscriber.Email, Reason: "unsubscribed from all lists", How: how, At: now}
			fx.Events = append(fx.Events, s.event(r, 0, EventBlocklisted, how, o, now, "unsubscribed from all lists"))
			changed = true
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return false, nil // erased meanwhile: nobody left to mail
	}
	return changed, err
}

func containsList(ls []ListID, id ListID) bool {
	for _, l := range ls {
		if l == id {
			return true
		}
	}
	return false
}
