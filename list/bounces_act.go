package list

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"time"
)

// proof is what authenticates a report: the subscriber (and campaign) of a
// message Bulletin really sent.
type proof struct {
	ok       bool
	via      string
	rec      Record
	campaign CampaignID
	// quoted marks evidence found inside the report (a Message-ID, a
	// Return-Path, a List-Unsubscribe) rather than the VERP address it came
	// to. Anyone holding a copy of the message has that evidence, so it
	// proves only a failure of the address the message was sent to: see
	// forRecipient.
	quoted bool
}

// viaVERP is the via of the only proof that is not quoted: the report came
// to the VERP address of one message, which stays valid when that message
// was forwarded to another address (that is what VERP is for).
const viaVERP = "verp"

// forRecipient returns the proof as it applies to one failed recipient of
// the report. A quoted proof applies only when the recipient is the proven
// subscriber's own address (same identity): otherwise a report naming
// user5@ but quoting Ann's Message-ID would blocklist Ann. A recipient that
// does not apply gets the zero proof: recorded, acting on no one.
func (p proof) forRecipient(email string) proof {
	if !p.ok || !p.quoted {
		return p
	}
	a, err := ParseAddress(email)
	if err != nil {
		return proof{}
	}
	id := p.rec.Subscriber.Identity
	if id == "" {
		sa, err := ParseAddress(p.rec.Subscriber.Email)
		if err != nil {
			return proof{}
		}
		id = sa.Identity
	}
	if a.Identity != id {
		return proof{}
	}
	return p
}

// Limits on the work spent authenticating one report.
const (
	maxProofTokens     = 8
	maxProofMessageIDs = 8
	minTokenLen        = 20
	maxTokenLen        = 128
)

// proveReport looks for evidence that the report is about a message
// Bulletin sent, strongest first: the VERP token of the address it came to,
// a quoted Message-ID of a sent message, a VERP token quoted in the report
// (the original's Return-Path), an unsubscribe token of the original's
// List-Unsubscribe. Without any, the zero proof. All but the first are
// quoted (see proof.quoted). Only store failures are errors.
func (s *Service) proveReport(ctx context.Context, r *InboundReport) (proof, error) {
	now := s.Now()
	var toks []Token
	if r.Rcpt == RcptBounceToken {
		if t, err := s.tokens.Open(PurposeBounce, r.Token, now); err == nil {
			toks = append(toks, t)
		}
	}
	if p, err := s.proveTokens(ctx, toks, viaVERP); p.ok || err != nil {
		return p, err
	}
	if p, err := s.proveMessageIDs(ctx, r.MessageIDs); p.ok || err != nil {
		return p, err
	}
	toks = toks[:0]
	for _, c := range scanTokens(r.Raw, "bounces+") {
		if t, err := s.tokens.Open(PurposeBounce, c, now); err == nil {
			toks = append(toks, t)
		}
	}
	if p, err := s.proveTokens(ctx, toks, "quoted verp"); p.ok || err != nil {
		return p, err
	}
	toks = toks[:0]
	lu := []byte(strings.ToLower(r.OriginalHeaders["List-Unsubscribe"]))
	for _, c := range append(scanTokens(lu, "unsubscribe+"), scanTokens(lu, "/unsubscribe/")...) {
		if t, err := s.tokens.Open(PurposeUnsubscribe, c, now); err == nil {
			toks = append(toks, t)
		}
	}
	return s.proveTokens(ctx, toks, "list-unsubscribe")
}

// proveTokens returns the proof of the first token whose subscriber exists.
func (s *Service) proveTokens(ctx context.Context, toks []Token, via string) (proof, error) {
	for _, t := range toks {
		rec, err := s.store.Record(ctx, Key{ID: t.Subscriber})
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return proof{}, err
		}
		return proof{ok: true, via: via, rec: rec, campaign: t.Campaign, quoted: via != viaVERP}, nil
	}
	return proof{}, nil
}

// proveMessageIDs returns the proof of the first quoted Message-ID that
// Bulletin sent.
func (s *Service) proveMessageIDs(ctx context.Context, ids []string) (proof, error) {
	for i, id := range ids {
		if i == maxProofMessageIDs {
			break
		}
		id = strings.Trim(strings.TrimSpace(id), "<>")
		if id == "" {
			continue
		}
		var sr SendRecord
		var err error
		for _, form := range []string{id, "<" + id + ">"} {
			sr, err = s.store.SendByMessageID(ctx, form)
			if !errors.Is(err, ErrNotFound) {
				break
			}
		}
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return proof{}, err
		}
		p, err := s.proveTokens(ctx, []Token{{Subscriber: sr.Subscriber, Campaign: sr.Campaign}}, "message-id")
		if p.ok || err != nil {
			return p, err
		}
	}
	return proof{}, nil
}

// scanTokens finds up to maxProofTokens token-shaped strings (base32
// letters, either case) following prefix, matched without regard to case.
func scanTokens(b []byte, prefix string) []string {
	var out []string
	n := len(prefix)
	for i := 0; i+n <= len(b) && len(out) < maxProofTokens; {
		j := bytes.IndexByte(b[i+n-1:], prefix[n-1])
		if j < 0 {
			break
		}
		start := i + j // candidate prefix start
		i = start + 1
		if !bytes.EqualFold(b[start:start+n], []byte(prefix)) {
			continue
		}
		end := start + n
		for end < len(b) && end-start-n <= maxTokenLen && isTokenByte(b[end]) {
			end++
		}
		if l := end - start - n; l >= minTokenLen && l <= maxTokenLen {
			out = append(out, strings.ToLower(string(b[start+n:end])))
		}
	}
	return out
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '2' && c <= '7'
}

// priorBounces counts a subscriber's counted hard bounces and the counted
// soft bounces since the given time, from their events. An unblocklisting
// (an admin's, or a fresh opt-in) starts the count again.
func (s *Service) priorBounces(ctx context.Context, id SubscriberID, since time.Time) (hard, soft int, err error) {
	err = s.eachEvent(ctx, id, func(e Event) bool {
		switch {
		case e.Kind == EventUnblocklisted:
			hard, soft = 0, 0
		case e.Kind != EventBounce || strings.HasSuffix(e.Detail, notCounted):
		case strings.HasPrefix(e.Detail, string(BounceHard)):
			hard++
		case strings.HasPrefix(e.Detail, string(BounceSoft)) && !e.At.Before(since):
			soft++
		}
		return true
	})
	if err != nil {
		return 0, 0, err
	}
	return hard, soft, nil
}

// applyBounces writes the events of a proven report's bounces and
// blocklists the subscriber when a limit is reached. It reports whether any
// bounce counted.
func (s *Service) applyBounces(ctx context.Context, rec Record, bs []Bounce, rules BounceRules, o Origin) (bool, error) {
	now := s.Now()
	hard0, soft0, err := s.priorBounces(ctx, rec.Subscriber.ID, now.Add(-rules.SoftWindow))
	if err != nil {
		return false, err
	}
	counted := false
	k := Key{ID: rec.Subscriber.ID, Hash: s.tokens.AddressHash(rec.Subscriber.Identity)}
	_, err = s.store.UpdateSubscriber(ctx, k, false, func(r *Record, fx *Effects) error {
		counted = false
		var hard, soft int
		status := ""
		for i := range bs {
			b := &bs[i]
			ev := s.event(r, 0, EventBounce, HowBounce, o, now, bounceDetail(b))
			ev.Campaign = b.Campaign
			fx.Events = append(fx.Events, ev)
			if !b.Counted {
				continue
			}
			counted = true
			switch b.Kind {
			case BounceHard:
				if hard == 0 {
					status = b.Status
				}
				hard++
			case BounceSoft:
				soft++
			}
		}
		reason := bounceLimitReason(rules, hard0, hard, soft0, soft, status)
		if reason != "" {
			s.setBlocklisted(r, fx, true, reason, HowBounce, o, now)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return counted, nil // erased meanwhile
	}
	return counted, err
}

// handleComplaint records a complaint report and, when proven,
// unsubscribes the person from every list and blocklists them at once.
func (s *Service) handleComplaint(ctx context.Context, r *InboundReport, p proof, rules BounceRules, o Origin) error {
	now := s.Now()
	detail := "complaint"
	if r.FeedbackType != "" {
		detail += " " + r.FeedbackType
	}
	counted := false
	for i, b := range r.Bounces {
		b.Counted = p.ok && b.Kind == BounceComplaint && !counted
		if b.Counted {
			// Feedback loops send a complaint again, and one person may
			// complain twice about one message: it counts once, for the
			// campaign's complaint rate as for the person.
			again, err := s.bouncedBefore(ctx, p, &b, firstOf(r.MessageIDs))
			if err != nil {
				return err
			}
			b.Counted = !again
			counted = counted || b.Counted
		}
		if err := s.addReportBounce(ctx, &b, i == 0, r, p, rules, now); err != nil {
			return err
		}
	}
	if !p.ok {
		s.log.Info("unproven complaint recorded, not counted", "rcpt", string(r.Rcpt))
		return nil
	}
	if !counted {
		s.log.Info("repeated complaint recorded, not counted", "rcpt", string(r.Rcpt), "campaign_id", p.campaign)
		return nil
	}
	s.log.Info("complaint recorded: unsubscribed and blocklisted", "sub_id", p.rec.Subscriber.ID, "campaign_id", p.campaign,
		"feedback_type", r.FeedbackType, "rcpt", string(r.Rcpt))
	k := Key{ID: p.rec.Subscriber.ID, Hash: s.tokens.AddressHash(p.rec.Subscriber.Identity)}
	_, err := s.store.UpdateSubscriber(ctx, k, false, func(rec *Record, fx *Effects) error {
		ev := s.event(rec, 0, EventComplaint, HowComplaint, o, now, detail)
		ev.Campaign = p.campaign
		fx.Events = append(fx.Events, ev)
		for i := range rec.Subscriptions {
			sub := &rec.Subscriptions[i]
			if sub.State == StateUnsubscribed {
				continue
			}
			t := now
			sub.State, sub.UnsubscribedAt, sub.Nonce = StateUnsubscribed, &t, sub.Nonce+1
			fx.Events = append(fx.Events, s.event(rec, sub.List, EventUnsubscribed, HowComplaint, o, now, "complaint"))
		}
		s.setBlocklisted(rec, fx, true, "complaint", HowComplaint, o, now)
		rec.Subscriber.UpdatedAt = now
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil || p.campaign == 0 {
		return err
	}
	return s.countCampaign(ctx, p.campaign, func(st *Stats) { st.Complained++ })
}
