package list

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ManageView is what the preference page shows.
type ManageView struct {
	Subscriber    Subscriber
	Subscriptions []SubscriptionView
	// Lists are the lists the person may join or leave: the public ones and
	// any they are on.
	Lists []List
	// Attributes are the fields the person's lists ask for.
	Attributes []string
	// Privacy says whether the data-access actions (export, erase) are offered.
	Privacy bool
}

// Subscribed reports whether the view's subscriber is on the list (pending or confirmed).
func (v ManageView) Subscribed(id ListID) bool {
	for _, s := range v.Subscriptions {
		if s.List == id && s.State != StateUnsubscribed {
			return true
		}
	}
	return false
}

// Pending reports whether the view's subscriber joined the list and has not
// confirmed yet.
func (v ManageView) Pending(id ListID) bool {
	for _, s := range v.Subscriptions {
		if s.List == id && s.State == StateUnconfirmed {
			return true
		}
	}
	return false
}

// ManageUpdate is a save from the preference page.
type ManageUpdate struct {
	Name       string
	Attributes map[string]string
	// Lists are the slugs of the lists the person wants to be on.
	Lists []string
	// NoTracking and TrackOpens, when set, are the tracking choices: no
	// counting at all, or consent to per-person open and click records.
	NoTracking *bool
	TrackOpens *bool
}

// ManageInfo opens a manage token and gathers the preference page.
func (s *Service) ManageInfo(ctx context.Context, token string) (ManageView, error) {
	t, err := s.tokens.Open(PurposeManage, token, s.Now())
	if err != nil {
		return ManageView{}, err
	}
	r, _, err := s.tokenRecord(ctx, Token{Subscriber: t.Subscriber})
	if err != nil {
		return ManageView{}, err
	}
	if t.Nonce != 0 && t.Nonce != r.Subscriber.Nonce {
		return ManageView{}, fmt.Errorf("%w: this link is no longer valid", ErrInvalidToken)
	}
	return s.manageView(ctx, r)
}

func (s *Service) manageView(ctx context.Context, r Record) (ManageView, error) {
	v, err := s.view(ctx, r, map[ListID]List{})
	if err != nil {
		return ManageView{}, err
	}
	all, err := s.store.Lists(ctx)
	if err != nil {
		return ManageView{}, err
	}
	mv := ManageView{Subscriber: v.Subscriber, Subscriptions: v.Subscriptions, Privacy: true}
	seen := map[string]bool{}
	for _, l := range all {
		if !l.Public && !mv.Subscribed(l.ID) {
			continue
		}
		mv.Lists = append(mv.Lists, l)
		if !mv.Subscribed(l.ID) {
			continue
		}
		for _, a := range l.Attributes {
			if !seen[a] {
				seen[a] = true
				mv.Attributes = append(mv.Attributes, a)
			}
		}
	}
	return mv, nil
}

// ManageSave applies the preference page: name, attributes the person's
// lists ask for, joining public lists and leaving any. Joining is a
// sign-up as the list's form makes it (the consent record says it came
// from the preference page): a double opt-in list, or a suppressed
// address, gets a confirmation mail, whose link confirms (and lifts the
// suppression). The manage link is in every mail's footer, and a mail
// forwarded to someone else carries it: holding it proves no consent, and
// must not put back on a list a person who left it.
func (s *Service) ManageSave(ctx context.Context, token string, u ManageUpdate, o Origin) error {
	mv, err := s.ManageInfo(ctx, token)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(u.Name)
	if err := checkText("name", name, 200); err != nil {
		return fieldError("name", err)
	}
	want := map[string]bool{}
	for _, slug := range u.Lists {
		want[slug] = true
	}
	now, nonce, cfg := s.Now(), s.nonce(), s.Config()
	sb := mv.Subscriber
	k := Key{ID: sb.ID, Hash: s.tokens.AddressHash(sb.Identity)}
	_, err = s.store.UpdateSubscriber(ctx, k, false, func(r *Record, fx *Effects) error {
		if err := s.saveProfile(r, fx, mv.Attributes, name, u.Attributes, o, now); err != nil {
			return err
		}
		s.saveTracking(r, fx, u, o, now)
		for i := range mv.Lists {
			l := &mv.Lists[i]
			on := mv.Subscribed(l.ID)
			switch {
			case want[l.Slug] && !on:
				consent := &Consent{Source: "manage page", Text: l.ConsentText, TextVersion: l.ConsentVersion,
					PrivacyURL: cfg.PrivacyURL, At: now, IP: o.IP, UserAgent: o.UserAgent}
				if err := s.signUp(r, fx, l, consent, HowForm, o, now, nonce); err != nil {
					return err
				}
			case !want[l.Slug] && on:
				sub := r.Subscription(l.ID)
				t := now
				sub.State, sub.UnsubscribedAt, sub.Nonce = StateUnsubscribed, &t, sub.Nonce+1
				fx.Events = append(fx.Events, s.event(r, l.ID, EventUnsubscribed, HowForm, o, now, "preference page"))
			}
		}
		return nil
	})
	if err == nil {
		s.Kick()
	}
	return err
}

// saveProfile sets the name and the allowed attributes.
func (s *Service) saveProfile(r *Record, fx *Effects, allowed []string, name string, attrs map[string]string, o Origin, now time.Time) error {
	changed := r.Subscriber.Name != name
	r.Subscriber.Name = name
	for _, a := range allowed {
		v, ok := attrs[a]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if err := checkText(a, v, 500); err != nil {
			return fieldError(AttrField(a), err)
		}
		if r.Subscriber.Attributes == nil {
			r.Subscriber.Attributes = map[string]string{}
		}
		if r.Subscriber.Attributes[a] != v {
			r.Subscriber.Attributes[a], changed = v, true
		}
	}
	if changed {
		fx.Events = append(fx.Events, s.event(r, 0, EventProfileChanged, HowForm, o, now, "preference page"))
		r.Subscriber.UpdatedAt = now
	}
	return nil
}
