package list

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SubscriptionView is a subscription with its list's slug and name.
type SubscriptionView struct {
	Subscription
	Slug     string `json:"list"`
	ListName string `json:"list_name"`
}

// SubscriberView is a subscriber as the UI and API show them.
type SubscriberView struct {
	Subscriber
	Subscriptions []SubscriptionView `json:"subscriptions"`
}

// view resolves list ids to slugs; lists is a cache filled on demand.
func (s *Service) view(ctx context.Context, r Record, lists map[ListID]List) (SubscriberView, error) {
	v := SubscriberView{Subscriber: r.Subscriber, Subscriptions: make([]SubscriptionView, 0, len(r.Subscriptions))}
	v.Blocklisted = r.Suppression != nil || r.Subscriber.Blocklisted
	for _, sub := range r.Subscriptions {
		l, ok := lists[sub.List]
		if !ok {
			var err error
			l, err = s.store.List(ctx, sub.List)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return SubscriberView{}, err
			}
			lists[sub.List] = l
		}
		v.Subscriptions = append(v.Subscriptions, SubscriptionView{Subscription: sub, Slug: l.Slug, ListName: l.Name})
	}
	return v, nil
}

// NewSubscriber is an addition by an editor or the API.
type NewSubscriber struct {
	Email      string            `json:"email"`
	Name       string            `json:"name"`
	Attributes map[string]string `json:"attributes"`
	Lists      []string          `json:"lists"`
	State      State             `json:"state"`
	Reason     string            `json:"reason"`
}

// AddSubscriber adds a subscriber to lists. State confirmed needs a reason,
// kept as the consent source; unconfirmed sends the confirmation mail. An
// address that exists already is ErrExists.
func (s *Service) AddSubscriber(ctx context.Context, n NewSubscriber, how How, o Origin) (SubscriberView, error) {
	addr, err := ParseAddress(n.Email)
	if err != nil {
		return SubscriberView{}, err
	}
	name := strings.TrimSpace(n.Name)
	if err := checkText("name", name, 200); err != nil {
		return SubscriberView{}, err
	}
	if err := checkAttributes(n.Attributes); err != nil {
		return SubscriberView{}, err
	}
	if n.State, err = additionState(n.State, n.Reason); err != nil {
		return SubscriberView{}, err
	}
	lists, err := s.listsBySlug(ctx, n.Lists)
	if err != nil {
		return SubscriberView{}, err
	}
	for i := range lists {
		if err := s.CheckAddress(&lists[i], addr); err != nil {
			return SubscriberView{}, err
		}
	}
	now, nonce, cfg := s.Now(), s.nonce(), s.Config()
	k := Key{Identity: addr.Identity, Hash: s.tokens.AddressHash(addr.Identity)}
	r, err := s.store.UpdateSubscriber(ctx, k, true, func(r *Record, fx *Effects) error {
		if r.Subscriber.ID != 0 {
			return fmt.Errorf("%w: a subscriber with this address exists", ErrExists)
		}
		r.Subscriber = Subscriber{Email: addr.Display, Identity: addr.Identity, Name: name,
			Attributes: n.Attributes, CreatedAt: now, UpdatedAt: now, Nonce: nonce}
		for i := range lists {
			l := &lists[i]
			consent := editorConsent(l, how, n.Reason, o, now, cfg)
			if err := s.addToList(r, fx, l, n.State, consent, how, o, now, nonce); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return SubscriberView{}, err
	}
	s.Kick()
	s.audit(ctx, o, "subscriber.add", fmt.Sprint(r.Subscriber.ID))
	return s.view(ctx, r, map[ListID]List{})
}

// additionState checks the state an editor asks for a subscription: none
// means unconfirmed (a confirmation mail, the safe default), and confirmed
// needs a reason, since the editor vouches for a consent given elsewhere.
func additionState(state State, reason string) (State, error) {
	switch state {
	case "":
		return StateUnconfirmed, nil
	case StateConfirmed:
		if strings.TrimSpace(reason) == "" {
			return "", fmt.Errorf("%w: %w", ErrInvalid, &FieldError{Field: "reason", Err: errors.New("a confirmed addition needs a reason (the consent source)")})
		}
		return state, nil
	case StateUnconfirmed:
		return state, nil
	}
	return "", fmt.Errorf("%w: state must be \"confirmed\" or \"unconfirmed\"", ErrInvalid)
}

// addToList subscribes a record to a list as an editor or import asks:
// confirmed directly (with a reason), or unconfirmed with a confirmation
// mail. A suppressed address is never mailed, so it stays unconfirmed and
// gets no mail.
func (s *Service) addToList(r *Record, fx *Effects, l *List, state State, consent *Consent, how How, o Origin, now time.Time, nonce uint32) error {
	sub := r.Subscription(l.ID)
	if sub != nil && sub.State == StateConfirmed {
		return nil
	}
	if sub == nil {
		r.Subscriptions = append(r.Subscriptions, Subscription{List: l.ID, CreatedAt: now})
		sortSubscriptions(r.Subscriptions)
		sub = r.Subscription(l.ID)
	}
	sub.State, sub.Nonce, sub.Consent = StateUnconfirmed, nonce, consent
	sub.UnsubscribedAt, sub.ConfirmedAt = nil, nil
	fx.Events = append(fx.Events, s.event(r, l.ID, EventSubscribed, how, o, now, consent.Reason))
	if r.Suppression != nil {
		return nil
	}
	if state == StateConfirmed {
		t := now
		sub.State, sub.ConfirmedAt = StateConfirmed, &t
		sub.Consent.ConfirmedAt = &t
		fx.Events = append(fx.Events, s.event(r, l.ID, EventConfirmed, how, o, now, consent.Reason))
		return nil
	}
	queueConfirm(r, fx, l, sub, now)
	return nil
}

// editorConsent is the consent record of an editor's addition: how it came
// (admin, api) and the editor's reason, beside what the list shows.
func editorConsent(l *List, how How, reason string, o Origin, now time.Time, cfg Config) *Consent {
	return &Consent{Source: string(how), Reason: reason, Text: l.ConsentText, TextVersion: l.ConsentVersion,
		PrivacyURL: cfg.PrivacyURL, At: now, IP: o.IP, UserAgent: o.UserAgent}
}

// queueConfirm queues the confirmation mail of sub, in the same
// transaction as the change that asks for it.
func queueConfirm(r *Record, fx *Effects, l *List, sub *Subscription, now time.Time) {
	sub.LastConfirmMail = now
	fx.Mails = append(fx.Mails, QueuedMail{Kind: MailConfirm, Subscriber: r.Subscriber.ID, List: l.ID, Due: now, Created: now})
}

func (s *Service) listsBySlug(ctx context.Context, slugs []string) ([]List, error) {
	out := make([]List, 0, len(slugs))
	for _, slug := range slugs {
		l, err := s.store.ListBySlug(ctx, slug)
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: no list %q", ErrInvalid, slug)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func checkAttributes(attrs map[string]string) error {
	if len(attrs) > 50 {
		return fmt.Errorf("%w: at most 50 attributes", ErrInvalid)
	}
	for k, v := range attrs {
		if !attrRE.MatchString(k) {
			return fmt.Errorf("%w: attribute name %q must be 1-40 letters, digits or _", ErrInvalid, k)
		}
		if err := checkText(k, v, 500); err != nil {
			return err
		}
	}
	return nil
}

// Subscriber returns one subscriber.
func (s *Service) Subscriber(ctx context.Context, id SubscriberID) (SubscriberView, error) {
	r, err := s.store.Record(ctx, Key{ID: id})
	if err != nil {
		return SubscriberView{}, err
	}
	return s.view(ctx, r, map[ListID]List{})
}

// SubscriberEvents returns a subscriber's whole history, oldest first.
func (s *Service) SubscriberEvents(ctx context.Context, id SubscriberID) ([]Event, error) {
	var out []Event
	err := s.eachEvent(ctx, id, func(e Event) bool {
		out = append(out, e)
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachEvent calls fn on a subscriber's events, oldest first, a page at a
// time, until fn returns false.
func (s *Service) eachEvent(ctx context.Context, id SubscriberID, fn func(Event) bool) error {
	const page = 1000
	var after EventID
	for {
		evs, err := s.store.Events(ctx, id, after, page)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if !fn(e) {
				return nil
			}
		}
		if len(evs) < page {
			return nil
		}
		after = evs[len(evs)-1].ID
	}
}

// SubscriberPatch is a partial update of a subscriber by an editor.
type SubscriberPatch struct {
	Name        *string            `json:"name"`
	Attributes  *map[string]string `json:"attributes"`
	Blocklisted *bool              `json:"blocklisted"`
}

// PatchSubscriber applies an editor's partial update.
func (s *Service) PatchSubscriber(ctx context.Context, id SubscriberID, p SubscriberPatch, o Origin) (SubscriberView, error) {
	cur, err := s.store.Record(ctx, Key{ID: id})
	if err != nil {
		return SubscriberView{}, err
	}
	if p.Name != nil {
		*p.Name = strings.TrimSpace(*p.Name)
		if err := checkText("name", *p.Name, 200); err != nil {
			return SubscriberView{}, err
		}
	}
	if p.Attributes != nil {
		if err := checkAttributes(*p.Attributes); err != nil {
			return SubscriberView{}, err
		}
	}
	now := s.Now()
	k := Key{ID: id, Hash: s.tokens.AddressHash(cur.Subscriber.Identity)}
	r, err := s.store.UpdateSubscriber(ctx, k, false, func(r *Record, fx *Effects) error {
		if p.Name != nil {
			r.Subscriber.Name = *p.Name
		}
		if p.Attributes != nil {
			r.Subscriber.Attributes = *p.Attributes
		}
		if p.Name != nil || p.Attributes != nil {
			fx.Events = append(fx.Events, s.event(r, 0, EventProfileChanged, o.how(HowAdmin), o, now, ""))
		}
		if p.Blocklisted != nil {
			s.setBlocklisted(r, fx, *p.Blocklisted, "blocklisted by an editor", o.how(HowAdmin), o, now)
		}
		r.Subscriber.UpdatedAt = now
		return nil
	})
	if err != nil {
		return SubscriberView{}, err
	}
	s.audit(ctx, o, "subscriber.update", fmt.Sprint(id))
	return s.view(ctx, r, map[ListID]List{})
}

// setBlocklisted adds or lifts a record's suppression.
func (s *Service) setBlocklisted(r *Record, fx *Effects, on bool, reason string, how How, o Origin, now time.Time) {
	switch {
	case on && r.Suppression == nil:
		r.Suppression = &Suppression{Email: r.Subscriber.Email, Reason: reason, How: how, At: now}
		fx.Events = append(fx.Events, s.event(r, 0, EventBlocklisted, how, o, now, reason))
	case !on && r.Suppression != nil:
		r.Suppression = nil
		fx.Events = append(fx.Events, s.event(r, 0, EventUnblocklisted, how, o, now, ""))
	}
}

// EraseSubscriber deletes a subscriber and their history, keeping only a
// keyed hash of the address in the suppression list so that a later import
// cannot bring them back.
func (s *Service) EraseSubscriber(ctx context.Context, id SubscriberID, o Origin) error {
	return s.erase(ctx, id, o.how(HowAdmin), o)
}

// erase erases a subscriber; how says who asked (an admin, or the person
// through their own link), as the suppression entry records.
func (s *Service) erase(ctx context.Context, id SubscriberID, how How, o Origin) error {
	r, err := s.store.Record(ctx, Key{ID: id})
	if err != nil {
		return err
	}
	now := s.Now()
	k := Key{ID: id, Hash: s.tokens.AddressHash(r.Subscriber.Identity)}
	_, err = s.store.UpdateSubscriber(ctx, k, false, func(r *Record, fx *Effects) error {
		// The entry keeps no address: the hash alone suppresses it.
		r.Suppression = &Suppression{Reason: "erased at the subscriber's request", How: how, At: now}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.eraseTraces(ctx, r.Subscriber); err != nil {
		return err
	}
	if err := s.store.DeleteSubscriber(ctx, id); err != nil {
		return err
	}
	s.log.Info("subscriber erased", "sub_id", id)
	s.audit(ctx, o, "subscriber.erase", fmt.Sprint(id))
	return nil
}

// SearchRequest selects subscribers for the UI and API.
type SearchRequest struct {
	Email string
	List  string
	State State
	Q     string
	After SubscriberID
	Limit int
	// Count asks for the total even where it takes a walk:
	// SubscriberQuery.Count.
	Count bool
}

// SearchSubscribers pages through subscribers matching r, in id order.
func (s *Service) SearchSubscribers(ctx context.Context, r SearchRequest) ([]SubscriberView, int, *SubscriberID, error) {
	if r.Limit <= 0 {
		r.Limit = 100
	}
	r.Limit = min(r.Limit, 1000)
	if r.State != "" && !r.State.Valid() {
		return nil, 0, nil, fmt.Errorf("%w: unknown state %q", ErrInvalid, r.State)
	}
	q := SubscriberQuery{Prefix: strings.ToLower(strings.TrimSpace(r.Q)), State: r.State, After: r.After, Limit: r.Limit + 1, Count: r.Count}
	if r.Email != "" {
		a, err := ParseAddress(r.Email)
		if err != nil {
			return nil, 0, nil, err
		}
		return s.searchByEmail(ctx, a, r)
	}
	if r.List != "" {
		l, err := s.store.ListBySlug(ctx, r.List)
		if err != nil {
			return nil, 0, nil, err
		}
		q.List = l.ID
	}
	recs, total, err := s.store.SearchSubscribers(ctx, q)
	if err != nil {
		return nil, 0, nil, err
	}
	var next *SubscriberID
	if len(recs) > r.Limit {
		recs = recs[:r.Limit]
		id := recs[len(recs)-1].Subscriber.ID
		next = &id
	}
	cache := map[ListID]List{}
	out := make([]SubscriberView, 0, len(recs))
	for _, rec := range recs {
		v, err := s.view(ctx, rec, cache)
		if err != nil {
			return nil, 0, nil, err
		}
		out = append(out, v)
	}
	return out, total, next, nil
}

// passesFilters reports whether rec has a subscription matching the list
// and state of r (any, for those left empty).
func (s *Service) passesFilters(ctx context.Context, rec *Record, r SearchRequest) (bool, error) {
	var id ListID
	if r.List != "" {
		l, err := s.store.ListBySlug(ctx, r.List)
		if err != nil {
			return false, err
		}
		id = l.ID
	}
	if id == 0 && r.State == "" {
		return true, nil
	}
	for _, sub := range rec.Subscriptions {
		if (id == 0 || sub.List == id) && (r.State == "" || sub.State == r.State) {
			return true, nil
		}
	}
	return false, nil
}

// searchByEmail answers the one subscriber with address a, if the list
// and state filters of r let them through.
func (s *Service) searchByEmail(ctx context.Context, a Address, r SearchRequest) ([]SubscriberView, int, *SubscriberID, error) {
	rec, err := s.store.Record(ctx, Key{Identity: a.Identity})
	if errors.Is(err, ErrNotFound) || err == nil && rec.Subscriber.ID <= r.After {
		return []SubscriberView{}, 0, nil, nil
	}
	if err != nil {
		return nil, 0, nil, err
	}
	ok, err := s.passesFilters(ctx, &rec, r)
	if err != nil || !ok {
		return []SubscriberView{}, 0, nil, err
	}
	v, err := s.view(ctx, rec, map[ListID]List{})
	if err != nil {
		return nil, 0, nil, err
	}
	return []SubscriberView{v}, 1, nil, nil
}
