package list

import (
	"context"
	"errors"
	"net/netip"
	"runtime/debug"
	"time"
)

// Retention defaults (DESIGN.md "Addresses, states, consent"; issue 7).
const (
	DefaultReminderAfter         = 3 * 24 * time.Hour
	DefaultPurgeUnconfirmedAfter = 30 * 24 * time.Hour
	DefaultTruncateIPsAfter      = 90 * 24 * time.Hour
)

// EventPurged records that a subscription never confirmed was deleted.
const EventPurged EventKind = "purged"

func (c *Config) retentionDefaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.ReminderAfter, DefaultReminderAfter)
	set(&c.PurgeUnconfirmedAfter, DefaultPurgeUnconfirmedAfter)
	set(&c.TruncateIPsAfter, DefaultTruncateIPsAfter)
}

// RetentionReport says what one retention run did.
type RetentionReport struct {
	// Reminded counts the reminders queued.
	Reminded int
	// Purged counts the unconfirmed subscriptions deleted, and
	// SubscribersDeleted the subscribers who had nothing else left.
	Purged             int
	SubscribersDeleted int
	// IPsTruncated counts the event IP addresses shortened.
	IPsTruncated int
	// SessionsSwept counts the expired admin sessions deleted.
	SessionsSwept int
}

// RunRetention runs the retention jobs at once and then every interval
// (an hour when every ≤ 0) until ctx ends, logging what each run did.
func (s *Service) RunRetention(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.safeRetention(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) safeRetention(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("retention panic", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	rep, err := s.Retention(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Error("retention", "err", err)
	}
	if rep != (RetentionReport{}) || err == nil {
		s.log.Info("retention", "reminded", rep.Reminded, "purged", rep.Purged,
			"subscribers_deleted", rep.SubscribersDeleted, "ips_truncated", rep.IPsTruncated,
			"sessions_swept", rep.SessionsSwept)
	}
}

// Retention runs the retention jobs once: one reminder to each unconfirmed
// subscription older than ReminderAfter (where its list sends reminders),
// deletion of subscriptions still unconfirmed after PurgeUnconfirmedAfter
// (and of their subscriber when nothing else is left), and truncation of
// the IP addresses of events older than TruncateIPsAfter. Consent records
// keep their IPs as proof for as long as the subscription exists. Expired
// admin sessions are swept first, whatever the list jobs then meet.
func (s *Service) Retention(ctx context.Context) (RetentionReport, error) {
	var rep RetentionReport
	n, err := s.SweepSessions(ctx)
	rep.SessionsSwept = n
	if err != nil {
		return rep, err
	}
	cfg := s.Config()
	lists, err := s.store.Lists(ctx)
	if err != nil {
		return rep, err
	}
	for i := range lists {
		if err := s.retainList(ctx, &lists[i], cfg, &rep); err != nil {
			return rep, err
		}
	}
	if cfg.TruncateIPsAfter > 0 {
		n, err := s.store.TruncateEventIPs(ctx, s.Now().Add(-cfg.TruncateIPsAfter), TruncateIP)
		rep.IPsTruncated = n
		if err != nil {
			return rep, err
		}
	}
	if rep.Reminded > 0 {
		s.Kick()
	}
	return rep, nil
}

// retainList walks a list's membership index for unconfirmed subscriptions.
func (s *Service) retainList(ctx context.Context, l *List, cfg Config, rep *RetentionReport) error {
	if cfg.PurgeUnconfirmedAfter <= 0 && (cfg.ReminderAfter <= 0 || !l.Reminder) {
		return nil
	}
	var after SubscriberID
	for {
		ms, err := s.store.Members(ctx, l.ID, after, 500)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.State != StateUnconfirmed {
				continue
			}
			if err := s.retainSubscription(ctx, l, m.Subscriber, cfg, rep); err != nil {
				return err
			}
		}
		if len(ms) < 500 {
			return nil
		}
		after = ms[len(ms)-1].Subscriber
	}
}

// retentionAction is what is due for one unconfirmed subscription.
type retentionAction int

const (
	retainNothing retentionAction = iota
	retainRemind
	retainPurge
	// retainLapse ends a renewal of a left subscription that nobody
	// confirmed: back to unsubscribed, with its history and consent.
	retainLapse
)

// dueAction decides what an unconfirmed subscription is due for at now,
// counting from its latest sign-up.
func dueAction(l *List, sub *Subscription, suppressed bool, cfg Config, now time.Time) retentionAction {
	if sub == nil || sub.State != StateUnconfirmed || sub.ConfirmedAt != nil {
		return retainNothing
	}
	since := sub.CreatedAt
	if sub.Consent != nil && sub.Consent.At.After(since) {
		since = sub.Consent.At
	}
	age := now.Sub(since)
	switch {
	case cfg.PurgeUnconfirmedAfter > 0 && age >= cfg.PurgeUnconfirmedAfter && sub.UnsubscribedAt != nil:
		return retainLapse
	case cfg.PurgeUnconfirmedAfter > 0 && age >= cfg.PurgeUnconfirmedAfter:
		return retainPurge
	case cfg.ReminderAfter > 0 && l.Reminder && sub.RemindedAt == nil && !suppressed && age >= cfg.ReminderAfter:
		return retainRemind
	}
	return retainNothing
}

func (s *Service) retainSubscription(ctx context.Context, l *List, id SubscriberID, cfg Config, rep *RetentionReport) error {
	cur, err := s.store.Record(ctx, Key{ID: id})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.Now()
	var act retentionAction
	k := Key{ID: id, Hash: s.tokens.AddressHash(cur.Subscriber.Identity)}
	r, err := s.store.UpdateSubscriber(ctx, k, false, func(r *Record, fx *Effects) error {
		sub := r.Subscription(l.ID)
		act = dueAction(l, sub, r.Suppression != nil, cfg, now)
		switch act {
		case retainPurge:
			kept := r.Subscriptions[:0]
			for _, x := range r.Subscriptions {
				if x.List != l.ID {
					kept = append(kept, x)
				}
			}
			r.Subscriptions = kept
			fx.Events = append(fx.Events, s.event(r, l.ID, EventPurged, HowSystem, Origin{}, now, "never confirmed"))
		case retainLapse:
			sub.State, sub.PendingConsent, sub.Nonce = StateUnsubscribed, nil, sub.Nonce+1
			// The renewal cleared the confirmation time (a pending
			// subscription has none); the consent it rests on still has it.
			if sub.Consent != nil && sub.Consent.ConfirmedAt != nil {
				t := *sub.Consent.ConfirmedAt
				sub.ConfirmedAt = &t
			}
			fx.Events = append(fx.Events, s.event(r, l.ID, EventUnsubscribed, HowSystem, Origin{}, now, "renewed sign-up never confirmed"))
		case retainRemind:
			t := now
			sub.RemindedAt = &t
			fx.Mails = append(fx.Mails, QueuedMail{Kind: MailReminder, Subscriber: r.Subscriber.ID, List: l.ID, Due: now, Created: now})
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch act {
	case retainLapse:
		rep.Purged++
		s.log.Info("unconfirmed renewal lapsed", "sub_id", id, "list_id", l.ID)
	case retainRemind:
		rep.Reminded++
	case retainPurge:
		rep.Purged++
		s.log.Info("unconfirmed subscription purged", "sub_id", id, "list_id", l.ID)
		if len(r.Subscriptions) == 0 {
			// Nobody ever confirmed anything: nothing justifies keeping them.
			if err := s.store.DeleteSubscriber(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			rep.SubscribersDeleted++
		}
	}
	return nil
}

// TruncateIP shortens an IP address to its network: an IPv4 address to its
// /24, an IPv6 address to its /48. Anything else becomes "".
func TruncateIP(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap().WithZone("")
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.Addr().String()
}
