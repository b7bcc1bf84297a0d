package list

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// mailBackoff is the wait before each retry of a system mail that the relay
// deferred.
var mailBackoff = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 2 * time.Hour}

// RunMailQueue sends queued system mails (confirmations, welcomes, …) until
// ctx ends. It wakes on Kick and at least every poll interval.
func (s *Service) RunMailQueue(ctx context.Context, poll time.Duration) {
	if poll <= 0 {
		poll = 30 * time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		s.safeDrain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
		}
	}
}

// safeDrain drains the queue and keeps a bug in one mail from killing the worker.
func (s *Service) safeDrain(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("mail queue worker panic", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	if _, err := s.DrainMailQueue(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("mail queue", "err", err)
	}
}

// DrainMailQueue sends every system mail due now and returns how many it
// handled.
func (s *Service) DrainMailQueue(ctx context.Context) (int, error) {
	n := 0
	for {
		ms, err := s.store.DueMails(ctx, s.Now(), 50)
		if err != nil || len(ms) == 0 {
			return n, err
		}
		for _, m := range ms {
			if err := s.deliverQueued(ctx, m); err != nil {
				return n, err
			}
			n++
		}
	}
}

// deliverQueued sends one queued mail and records the outcome; only store
// errors are returned.
func (s *Service) deliverQueued(ctx context.Context, q QueuedMail) error {
	msg, err := s.systemMessage(ctx, q)
	if errors.Is(err, errMailMoot) || errors.Is(err, ErrNotFound) {
		return s.store.DeleteMail(ctx, q.ID)
	}
	if err != nil {
		return err
	}
	id, err := s.sendSystem(ctx, msg)
	now := s.Now()
	var de *DeliveryError
	switch {
	case err == nil:
		s.appendEvent(ctx, Event{Subscriber: q.Subscriber, List: q.List, Kind: EventMailSent, How: HowSystem, At: now, Detail: string(q.Kind) + " " + id})
		return s.store.DeleteMail(ctx, q.ID)
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &de) && !de.Temporary, now.Sub(q.Created) > s.Config().MailRetryFor:
		s.log.Warn("system mail failed", "sub_id", q.Subscriber, "kind", q.Kind, "err", err)
		s.appendEvent(ctx, Event{Subscriber: q.Subscriber, List: q.List, Kind: EventMailFailed, How: HowSystem, At: now, Detail: string(q.Kind) + ": " + err.Error()})
		// The relay's refusal of the address is a bounce like a
		// campaign's (deliverability.md); not for a change of address,
		// whose mails go to the new, unproven address and to the old one.
		if de != nil && !de.Temporary && !de.Unsendable && !de.SenderWide && de.Code >= 500 && q.Kind != MailEmailChange && q.Kind != MailEmailChanged && q.Subscriber != 0 {
			s.recordSendFailure(ctx, SendRecord{Subscriber: q.Subscriber}, de)
		}
		return s.store.DeleteMail(ctx, q.ID)
	}
	q.LastErr = err.Error()
	q.Due = now.Add(mailBackoff[min(q.Attempts, len(mailBackoff)-1)])
	q.Attempts++
	s.log.Info("system mail deferred", "sub_id", q.Subscriber, "kind", q.Kind, "attempt", q.Attempts, "err", err)
	return s.store.PutMail(ctx, q)
}

func (s *Service) appendEvent(ctx context.Context, e Event) {
	if err := s.store.AppendEvents(ctx, []Event{e}); err != nil {
		s.log.Error("event write failed", "sub_id", e.Subscriber, "err", err)
	}
}

// errMailMoot means a queued mail no longer applies (the subscription moved
// on, or the address is suppressed).
var errMailMoot = errors.New("mail no longer applies")

// systemMessage assembles a queued mail as it must go out now: a
// confirmation for a subscription that was confirmed meanwhile is dropped.
func (s *Service) systemMessage(ctx context.Context, q QueuedMail) (*Message, error) {
	r, err := s.store.Record(ctx, Key{ID: q.Subscriber})
	if err != nil {
		return nil, err
	}
	h, err := s.store.Suppression(ctx, s.tokens.AddressHash(r.Subscriber.Identity))
	if err == nil {
		r.Suppression = &h
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	var l *List
	var sub *Subscription
	if q.List != 0 {
		ll, err := s.store.List(ctx, q.List)
		if err != nil {
			return nil, err
		}
		l, sub = &ll, r.Subscription(q.List)
	}
	if !mailApplies(q, &r, sub) {
		return nil, errMailMoot
	}
	return s.buildSystemMessage(q, &r, l, sub), nil
}

// mailApplies decides whether a queued mail still makes sense. A suppressed
// address only ever gets the confirmation it asked for itself, since
// confirming is how a person lifts their own suppression.
func mailApplies(q QueuedMail, r *Record, sub *Subscription) bool {
	switch q.Kind {
	case MailConfirm, MailReminder:
		if sub != nil && sub.State == StateConfirmed {
			// The way back of a suppressed person still on the list.
			return q.Kind == MailConfirm && r.Suppression != nil
		}
		return sub != nil && sub.State == StateUnconfirmed && (q.Kind == MailConfirm || r.Suppression == nil)
	case MailWelcome:
		return sub != nil && sub.State == StateConfirmed && r.Suppression == nil
	case MailEmailChange:
		return r.Subscriber.PendingEmail != "" && (q.To == "" || q.To == r.Subscriber.PendingEmail)
	case MailEmailChanged:
		return true
	case MailDataAccess:
		return true
	}
	return false
}

// buildSystemMessage fills a Message with the links a system mail needs.
func (s *Service) buildSystemMessage(q QueuedMail, r *Record, l *List, sub *Subscription) *Message {
	cfg, now := s.Config(), s.Now()
	m := &Message{Kind: q.Kind, From: cfg.From, To: r.Subscriber.Email, ToName: r.Subscriber.Name,
		Subscriber: &r.Subscriber, List: l, PostalAddress: cfg.PostalAddress, PrivacyURL: cfg.PrivacyURL,
		Action: q.Action, Layout: s.systemMailLayout()}
	if l != nil && l.From != "" {
		m.From = l.From
	}
	m.ReturnPath = s.bounceAddress(r.Subscriber.ID, 0, cfg)
	m.ManageURL = s.manageURL(r.Subscriber, cfg)
	switch q.Kind {
	case MailConfirm, MailReminder:
		m.ConfirmURL = cfg.BaseURL + "/confirm/" + s.tokens.Seal(Token{Purpose: PurposeConfirm,
			Subscriber: r.Subscriber.ID, List: l.ID, Nonce: sub.Nonce, Expires: now.Add(cfg.ConfirmTTL)})
		m.ManageURL = ""
	case MailWelcome:
		m.UnsubscribeURL, m.UnsubscribeMailto = s.unsubscribeLinks(r.Subscriber.ID, l.ID, 0, cfg)
	case MailEmailChange:
		m.To = r.Subscriber.PendingEmail
		// Nobody has proven they hold the new address yet (it may be a
		// typo, or a stranger's): it gets its confirmation link and
		// nothing of the owner's, neither their manage link nor their
		// name or attributes.
		m.ManageURL = ""
		anon := Subscriber{ID: r.Subscriber.ID, Email: r.Subscriber.PendingEmail, Attributes: map[string]string{}}
		m.Subscriber, m.ToName = &anon, ""
		// The new address is not proven yet: its bounce must not count
		// against the subscriber, whose VERP token would blocklist the
		// address still in use (a typo, or a stranger's request, would
		// suppress a working address). Plain bounces@ records it
		// unproven.
		m.ReturnPath = "bounces@" + cfg.BounceDomain
		m.ConfirmURL = cfg.BaseURL + "/manage/" + s.tokens.Seal(Token{Purpose: PurposeEmailChange,
			Subscriber: r.Subscriber.ID, Nonce: r.Subscriber.Nonce, Arg: s.pendingArg(r.Subscriber.PendingEmail),
			Expires: now.Add(dataLinkTTL)})
	case MailEmailChanged:
		// The old address: the subscription is no longer its holder's,
		// so it gets no link into it, and its bounce (it may be a mailbox
		// that closed) says nothing of the address in use.
		if q.To != "" {
			m.To = q.To
		}
		m.ManageURL = ""
		m.ReturnPath = "bounces@" + cfg.BounceDomain
	case MailDataAccess:
		m.ConfirmURL = cfg.BaseURL + "/manage/" + s.tokens.Seal(Token{Purpose: PurposeDataAccess,
			Subscriber: r.Subscriber.ID, Nonce: r.Subscriber.Nonce, Arg: dataActionArg(q.Action),
			Expires: now.Add(dataLinkTTL)})
	}
	return m
}

// dataActionArg numbers the data-access actions inside a token.
func dataActionArg(action string) uint64 {
	switch action {
	case "export":
		return 1
	case "erase":
		return 2
	}
	return 0
}

// unsubscribeLinks returns the one-click URL and the mailto address of an
// unsubscribe token. A campaign token leaves all the campaign's lists.
func (s *Service) unsubscribeLinks(sub SubscriberID, l ListID, c CampaignID, cfg Config) (string, string) {
	tok := s.tokens.Seal(Token{Purpose: PurposeUnsubscribe, Subscriber: sub, List: l, Campaign: c})
	return cfg.BaseURL + "/unsubscribe/" + tok, "unsubscribe+" + tok + "@" + cfg.Domain
}

// manageURL links to the preference page; the token dies when the person's
// address changes (their nonce moves).
func (s *Service) manageURL(sb Subscriber, cfg Config) string {
	return cfg.BaseURL + "/manage/" + s.tokens.Seal(Token{Purpose: PurposeManage, Subscriber: sb.ID, Nonce: sb.Nonce})
}

// bounceAddress is the VERP envelope sender of a mail to sub.
func (s *Service) bounceAddress(sub SubscriberID, c CampaignID, cfg Config) string {
	return fmt.Sprintf("bounces+%s@%s", s.tokens.Seal(Token{Purpose: PurposeBounce, Subscriber: sub, Campaign: c}), cfg.BounceDomain)
}
