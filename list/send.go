package list

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// process sends one recipient their message and says what happened. It
// re-checks the subscriber at send time: an unsubscribe or suppression
// during the run takes effect for the rest of it. Once stop is done it
// starts no delivery; ctx is the delivery's own, carrying stop for the
// Mailer (see deliveryContext).
func (r *run) process(stop, ctx context.Context, j job) result {
	now := r.s.Now()
	res := result{job: j, rec: SendRecord{Campaign: r.id, Subscriber: j.id, At: now, FirstTry: now}}
	if j.retry != nil {
		res.rec = *j.retry
		res.rec.At = now
		if !now.Before(res.rec.FirstTry.Add(r.opts.RetryFor)) {
			res.rec.Outcome, res.rec.NextTry = OutcomeFailed, nil
			res.rec.Detail = "gave up: still deferred after the retry period; last answer: " + res.rec.Detail
			res.delta = Stats{Deferred: -1, Failed: 1}
			return res
		}
	}
	rec, err := r.s.store.Recipient(ctx, j.id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		res.abandoned = true
		return res
	}
	l := r.recipientList(&rec)
	if err != nil || rec.Subscriber.Blocklisted || l == nil {
		return r.outcome(res, OutcomeSkipped, nil)
	}
	m := r.s.campaignMessage(&r.c, &rec.Subscriber, l, r.cfg)
	if stop.Err() != nil {
		res.abandoned = true
		return res
	}
	start := time.Now()
	msgID, err := r.s.mailer.Send(ctx, m)
	if r.s.observe != nil {
		r.s.observe("", time.Since(start))
	}
	if err != nil && stop.Err() != nil && errors.Is(err, stop.Err()) {
		// Stopped while waiting its turn: nothing reached a relay.
		res.abandoned = true
		return res
	}
	res.rec.MessageID = msgID
	return r.classify(ctx, res, err)
}

// recipientList is the first of the campaign's lists (by id) that the
// subscriber is confirmed on, or nil when they left them all.
func (r *run) recipientList(rec *Record) *List {
	for _, id := range r.c.Lists {
		if sub := rec.Subscription(id); sub != nil && sub.State == StateConfirmed {
			return r.lists[id]
		}
	}
	return nil
}

// classify turns a delivery answer into an outcome.
func (r *run) classify(ctx context.Context, res result, err error) result {
	var de *DeliveryError
	switch {
	case err == nil:
		r.connFails.Store(0)
		r.policy.add(false)
		return r.outcome(res, OutcomeSent, nil)
	case ctx.Err() != nil:
		res.abandoned = true
		return res
	case !errors.As(err, &de):
		// Not an answer from the relay: the campaign itself cannot be
		// rendered or signed, and every other recipient would fail alike.
		// The editor reads the reason: the sentinel's ": invalid" at its
		// end says nothing to them.
		res.abandoned, res.pause = true, "cannot build the message: "+strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error())
		return res
	case de.Unsendable:
		res = r.outcome(res, OutcomeFailed, de)
		r.s.recordUnsendable(ctx, res.rec, de)
		return res
	}
	if de.Code == 0 {
		r.connFails.Add(1)
	} else {
		r.connFails.Store(0)
	}
	share := r.policy.add(de.Policy)
	switch {
	case de.SenderWide:
		res = r.defer_(res, de, true)
		res.pause = fmt.Sprintf("the relay refused the sender: %d %s %s", de.Code, de.Status, de.Text)
	case de.Temporary:
		res = r.defer_(res, de, false)
	case de.Policy && res.rec.Attempts == 0:
		// A policy refusal may be the sender's standing of the moment
		// (the refusals that pause a campaign are), not this recipient's
		// rule: it is tried once more after the back-off, so that those
		// refused before a pause get the campaign after the resume. A
		// second one is the recipient's policy bounce.
		res = r.defer_(res, de, false)
	default:
		res = r.outcome(res, OutcomeFailed, de)
		r.s.recordSendFailure(ctx, res.rec, de)
	}
	if res.pause == "" && share >= r.opts.PolicyShare {
		res.pause = fmt.Sprintf("%.0f%% of recent attempts were refused for sender policy; last: %d %s %s", share*100, de.Code, de.Status, de.Text)
	}
	return res
}

// outcome records a final outcome and its counter change.
func (r *run) outcome(res result, o Outcome, de *DeliveryError) result {
	res.rec.Outcome, res.rec.NextTry = o, nil
	res.rec.Attempts++
	if de != nil {
		res.rec.Code, res.rec.Status, res.rec.Detail = de.Code, de.Status, Truncate(de.Text, 500)
	}
	var d Stats
	switch o {
	case OutcomeSent:
		d.Sent = 1
	case OutcomeFailed:
		d.Failed = 1
	case OutcomeSkipped:
		d.Skipped = 1
	}
	if res.retry != nil {
		d.Deferred = -1
	}
	res.delta = d
	return res
}

// defer_ records a temporary failure with its next try, backing off; the
// last try is at the end of the retry period. now retries at once after a
// resume (the sender was refused, not the recipient).
func (r *run) defer_(res result, de *DeliveryError, now bool) result {
	t := r.s.Now()
	res.rec.Outcome = OutcomeDeferred
	res.rec.Code, res.rec.Status, res.rec.Detail = de.Code, de.Status, Truncate(de.Text, 500)
	wait := r.opts.Backoff[min(res.rec.Attempts, len(r.opts.Backoff)-1)]
	res.rec.Attempts++
	next := t.Add(wait)
	if now {
		next = t
	}
	if end := res.rec.FirstTry.Add(r.opts.RetryFor); next.After(end) {
		next = end
	}
	res.rec.NextTry = &next
	if res.retry == nil {
		res.delta = Stats{Deferred: 1}
	}
	return res
}

// recordSendFailure turns a permanent refusal during delivery into a bounce
// record, classified like an inbound report; it acts on the subscriber.
func (s *Service) recordSendFailure(ctx context.Context, rec SendRecord, de *DeliveryError) {
	kind := de.Kind
	if kind == "" {
		kind = BounceHard
		if de.Policy {
			kind = BouncePolicy
		}
	}
	b := deliveryBounce(rec, de, kind, s.Now())
	b.Counted = true
	if err := s.RecordDeliveryFailure(ctx, rec.Subscriber, rec.Campaign, "", b); err != nil {
		s.log.Error("record delivery failure", "campaign_id", rec.Campaign, "sub_id", rec.Subscriber, "err", err)
	}
}

// deliveryBounce is the bounce record of a refusal during the delivery of
// rec, of the kind given.
func deliveryBounce(rec SendRecord, de *DeliveryError, kind BounceKind, at time.Time) Bounce {
	return Bounce{Subscriber: rec.Subscriber, Kind: kind, Action: "failed", Status: de.Status,
		Diagnostic: Truncate(fmt.Sprintf("%d %s", de.Code, de.Text), 1000), Campaign: rec.Campaign, At: at}
}

// recordUnsendable records a recipient this sender cannot write a message
// to (an address with a non-ASCII local part, which needs SMTPUTF8: the
// sign-up form refuses one, editors' imports and the API keep it): a bounce record, which
// counts toward no limit since the address itself may work, an event in
// their history and a warning, so that an editor can see why they got
// nothing.
func (s *Service) recordUnsendable(ctx context.Context, rec SendRecord, de *DeliveryError) {
	s.log.Warn("campaign recipient cannot be sent to", "campaign_id", rec.Campaign, "sub_id", rec.Subscriber, "err", de.Text)
	r, err := s.store.Record(ctx, Key{ID: rec.Subscriber})
	if err != nil {
		return
	}
	now := s.Now()
	b := deliveryBounce(rec, de, BounceHard, now)
	b.Email = r.Subscriber.Email
	if err := s.store.AddBounce(ctx, &b); err != nil {
		s.log.Error("record unsendable recipient", "campaign_id", rec.Campaign, "sub_id", rec.Subscriber, "err", err)
	}
	s.appendEvent(ctx, Event{Subscriber: rec.Subscriber, Campaign: rec.Campaign, Kind: EventMailFailed, How: HowSystem, At: now,
		Detail: "campaign: " + de.Text})
}

// Truncate cuts s to at most n bytes on a rune boundary, so that a cut
// never leaves invalid UTF-8 behind.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
