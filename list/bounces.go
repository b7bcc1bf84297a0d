package list

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RcptKind says to which of Bulletin's inbound addresses a report came.
type RcptKind string

// Inbound addresses. Only these are accepted by the inbound server.
const (
	// RcptBounceToken is bounces+TOKEN@bounce-domain, the VERP envelope
	// sender of every mail Bulletin sends.
	RcptBounceToken RcptKind = "bounce-token"
	// RcptBounce is plain bounces@: reports whose token was lost.
	RcptBounce RcptKind = "bounce"
	// RcptUnsubscribe is unsubscribe+TOKEN@domain, the mailto
	// List-Unsubscribe address (RFC 2369).
	RcptUnsubscribe RcptKind = "unsubscribe"
	// RcptFeedback is feedback@, where complaint reports (RFC 5965) go.
	RcptFeedback RcptKind = "feedback"
)

// BounceUnknown marks the record of a report in which no failed recipient
// was found (a malformed or unrecognised message): kept for an editor to
// read, acting on no one.
const BounceUnknown BounceKind = "unknown"

// InboundReport is one message received on the inbound SMTP port for one of
// Bulletin's addresses, already parsed by the smtp package.
type InboundReport struct {
	Rcpt RcptKind
	// Token is the token of a bounces+TOKEN@ or unsubscribe+TOKEN@ address,
	// unchecked.
	Token string
	// Bounces has one entry per failed or delayed recipient found in the
	// report, with Email, Kind, Action, Status and Diagnostic set; for a
	// complaint one entry of kind BounceComplaint.
	Bounces []Bounce
	// MessageIDs are the Message-IDs of the original message quoted in the
	// report, without angle brackets.
	MessageIDs []string
	// OriginalHeaders are headers of the quoted original (List-Unsubscribe
	// among them) under canonical keys.
	OriginalHeaders map[string]string
	// Raw is the message as received.
	Raw []byte
	// FeedbackType is the Feedback-Type of a complaint report (abuse, fraud…).
	FeedbackType string
	// AutoReply marks an out-of-office or other automatic answer: ignored.
	AutoReply bool
	// From is the envelope sender, for logs; IP the peer's address, for
	// events.
	From string
	IP   string
}

// BounceRules decide when bounces blocklist an address.
type BounceRules struct {
	// HardLimit is how many hard bounces blocklist an address (1).
	HardLimit int `json:"hard_limit"`
	// SoftLimit is how many soft bounces within SoftWindow blocklist an
	// address (3).
	SoftLimit int `json:"soft_limit"`
	// SoftWindow is the window soft bounces are counted in (30 days).
	SoftWindow time.Duration `json:"soft_window"`
	// RawCap bounds the bytes of stored bounce records; past it the raw
	// messages of the oldest are dropped (64 MiB). Negative keeps no raw
	// message at all.
	RawCap int64 `json:"raw_cap"`
}

// DefaultBounceRules are the rules in force until SetBounceRules is called.
func DefaultBounceRules() BounceRules {
	return BounceRules{HardLimit: 1, SoftLimit: 3, SoftWindow: 30 * 24 * time.Hour, RawCap: 64 << 20}
}

func (r *BounceRules) defaults() {
	d := DefaultBounceRules()
	if r.HardLimit == 0 {
		r.HardLimit = d.HardLimit
	}
	if r.SoftLimit == 0 {
		r.SoftLimit = d.SoftLimit
	}
	if r.SoftWindow == 0 {
		r.SoftWindow = d.SoftWindow
	}
	if r.RawCap == 0 {
		r.RawCap = d.RawCap
	}
}

// bounceRulesKey is the setting under which the rules are kept, so that the
// settings page can change them while the server runs.
const bounceRulesKey = "bounce_rules"

// SetBounceRules validates and stores the bounce rules; zero fields take
// their defaults.
func (s *Service) SetBounceRules(ctx context.Context, r BounceRules) error {
	r.defaults()
	if r.HardLimit < 1 || r.SoftLimit < 1 || r.SoftWindow < time.Minute {
		return fmt.Errorf("%w: bounce limits must be at least 1 and the soft bounce window at least a minute", ErrInvalid)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("list: encode bounce rules: %w", err)
	}
	return s.store.PutSetting(ctx, bounceRulesKey, data)
}

// BounceRules returns the rules in force.
func (s *Service) BounceRules(ctx context.Context) (BounceRules, error) {
	data, err := s.store.Setting(ctx, bounceRulesKey)
	if errors.Is(err, ErrNotFound) {
		return DefaultBounceRules(), nil
	}
	if err != nil {
		return BounceRules{}, err
	}
	var r BounceRules
	if err := json.Unmarshal(data, &r); err != nil {
		s.log.Error("stored bounce rules unreadable, using defaults", "err", err)
		return DefaultBounceRules(), nil
	}
	r.defaults()
	return r, nil
}

// HandleInbound applies one inbound report. Every failed recipient yields a
// bounce record, whatever the address's state. A report acts on a
// subscriber (counts toward the limits, blocklists, unsubscribes) only when
// it proves that Bulletin sent the original: a valid VERP token, an
// unsubscribe token of the quoted original, or a quoted Message-ID of a
// sent message; anything else could be forged to blocklist anyone, so it is
// recorded with Counted false and changes nothing. Evidence quoted in a
// bounce (anything but the VERP address) travels with every copy of the
// message, so it acts only on failed recipients that are the proven
// subscriber's own address. Auto-replies are ignored.
// An unsubscribe+TOKEN@ mail unsubscribes whatever its body says. Only store
// failures are returned: the sender may try again later.
func (s *Service) HandleInbound(ctx context.Context, r InboundReport) error {
	o := Origin{IP: r.IP}
	if r.Rcpt == RcptUnsubscribe {
		err := s.Unsubscribe(ctx, r.Token, false, HowMailto, o)
		if errors.Is(err, ErrInvalidToken) {
			s.log.Info("mailto unsubscribe with an invalid token ignored", "err", err)
			return nil
		}
		return err
	}
	if r.AutoReply {
		s.log.Info("inbound auto-reply ignored", "rcpt", string(r.Rcpt))
		return nil
	}
	rules, err := s.BounceRules(ctx)
	if err != nil {
		return err
	}
	p, err := s.proveReport(ctx, &r)
	if err != nil {
		return err
	}
	if p.ok {
		s.log.Debug("inbound report proven", "via", p.via, "sub_id", p.rec.Subscriber.ID, "campaign_id", p.campaign)
	}
	if isComplaint(r.Bounces) {
		err = s.handleComplaint(ctx, &r, p, rules, o)
	} else {
		err = s.handleBounces(ctx, &r, p, rules, o)
	}
	if err != nil {
		return err
	}
	if len(r.Raw) > 0 {
		// The report is stored and acted on: a prune that fails (its
		// time ran out under load, say) must not have the sender told
		// otherwise and send it again. The next report prunes.
		if err := s.pruneRaw(ctx, rules); err != nil {
			s.log.Warn("raw bounce messages not pruned; the next report retries", "err", err)
		}
	}
	return nil
}

// CheckUnsubscribeToken reports whether token is a genuine, unexpired
// unsubscribe token, so that the inbound server can refuse a mailto
// unsubscribe that would do nothing while the sender is still connected.
func (s *Service) CheckUnsubscribeToken(token string) error {
	_, err := s.tokens.Open(PurposeUnsubscribe, token, s.Now())
	return err
}

// RecordDeliveryFailure records a relay's refusal of one campaign message
// (a 5xx answer during the SMTP transaction, classified by the caller) and
// acts on it: such an answer cannot be forged. b needs Kind, Status and
// Diagnostic; the campaign's Bounced counter grows, so the runner must not
// count it again.
func (s *Service) RecordDeliveryFailure(ctx context.Context, sub SubscriberID, c CampaignID, email string, b Bounce) error {
	switch b.Kind {
	case BounceHard, BounceSoft, BouncePolicy:
	default:
		return fmt.Errorf("%w: delivery failure of kind %q", ErrInvalid, b.Kind)
	}
	if b.Action == "" {
		b.Action = "failed"
	}
	rules, err := s.BounceRules(ctx)
	if err != nil {
		return err
	}
	rec, err := s.store.Record(ctx, Key{ID: sub})
	if errors.Is(err, ErrNotFound) {
		rec = Record{}
	} else if err != nil {
		return err
	}
	b.Email, b.Campaign, b.At, b.Raw = email, c, s.Now(), nil
	p := proof{rec: rec, campaign: c, ok: rec.Subscriber.ID != 0}
	r := InboundReport{Rcpt: RcptBounceToken, Bounces: []Bounce{b}}
	return s.handleBounces(ctx, &r, p, rules, Origin{})
}

func isComplaint(bs []Bounce) bool {
	for _, b := range bs {
		if b.Kind == BounceComplaint {
			return true
		}
	}
	return false
}

// bounceDetail is the Detail of a bounce event: kind and status, and a
// marker for bounces that count toward no limit.
func bounceDetail(b *Bounce) string {
	d := string(b.Kind)
	if b.Status != "" {
		d += " " + b.Status
	}
	if b.Action == "delayed" {
		d += " delayed"
	}
	if !b.Counted {
		d += notCounted
	}
	return d
}

const notCounted = " (not counted)"

// addReportBounce stores one record of a report: tied to the proven
// subscriber and campaign, and carrying the raw report on the first record
// only (keepRaw), so that one report is kept once.
func (s *Service) addReportBounce(ctx context.Context, b *Bounce, keepRaw bool, r *InboundReport, p proof, rules BounceRules, now time.Time) error {
	b.At, b.Raw = now, nil
	b.MessageID = firstOf(r.MessageIDs)
	if p.ok {
		b.Subscriber, b.Campaign = p.rec.Subscriber.ID, p.campaign
		b.Email, b.Diagnostic = provenRecipient(b.Email, b.Diagnostic, p.rec.Subscriber)
	}
	if keepRaw && rules.RawCap > 0 {
		b.Raw = r.Raw
	}
	if !p.ok {
		erased, err := s.erasedAddress(ctx, b.Email)
		if err != nil {
			return err
		}
		if erased {
			// A late report on an erased person must not bring their
			// address back: it is recorded without it, and without the
			// report that names it.
			b.Email, b.Raw = "", nil
		}
	}
	err := s.store.AddBounce(ctx, b)
	b.Raw = nil
	return err
}

// provenRecipient is the address and diagnostic of a proven report's
// record: the address of the subscriber it proves, whom it acts on and
// under whose address an editor looks it up. A report can name another
// address, one the mail was forwarded to or the complainant's own at a
// feedback loop; that one is kept in the diagnostic.
func provenRecipient(reported, diag string, sb Subscriber) (string, string) {
	if reported == "" {
		return sb.Email, diag
	}
	if a, err := ParseAddress(reported); err == nil && a.Identity == sb.Identity {
		return sb.Email, diag
	}
	note := "reported for " + reported
	if diag == "" {
		return sb.Email, note
	}
	return sb.Email, note + "; " + diag
}

// erasedAddress reports whether email belongs to a person erased at their
// request: the suppression list keeps their keyed hash without an address.
func (s *Service) erasedAddress(ctx context.Context, email string) (bool, error) {
	a, err := ParseAddress(email)
	if err != nil {
		return false, nil // not an address: nothing to protect
	}
	sup, err := s.store.Suppression(ctx, s.tokens.AddressHash(a.Identity))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return sup.Email == "", nil
}

// firstOf is the first of ids, or "".
func firstOf(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// bouncedBefore reports whether the same bounce (kind and status) of the
// same message to the same recipient is already counted: a report
// delivered twice (a relay's retry, or a replay) is recorded again but
// counts once, for the campaign's bounce count and the soft-bounce limit
// alike. A campaign has one message a recipient; a system mail (no
// campaign) is told by the Message-ID the report quotes, and a report
// that quotes none counts each time.
func (s *Service) bouncedBefore(ctx context.Context, p proof, b *Bounce, msgID string) (bool, error) {
	if !p.ok || (p.campaign == 0 && msgID == "") {
		return false, nil
	}
	email := b.Email
	if email == "" {
		email = p.rec.Subscriber.Email
	}
	f := BounceFilter{Email: email, Campaign: p.campaign, Limit: 100}
	for {
		bs, err := s.store.Bounces(ctx, f)
		if err != nil {
			return false, err
		}
		for _, old := range bs {
			if old.Counted && old.Subscriber == p.rec.Subscriber.ID && old.Kind == b.Kind && old.Status == b.Status &&
				old.Campaign == p.campaign && (p.campaign != 0 || old.MessageID == msgID) {
				return true, nil
			}
		}
		if len(bs) < f.Limit {
			return false, nil
		}
		f.After = bs[len(bs)-1].ID
	}
}

// handleBounces stores one record per failed recipient and, for the
// recipients the proof applies to (proof.forRecipient: each is judged on
// its own), adds the events and applies the limits.
func (s *Service) handleBounces(ctx context.Context, r *InboundReport, p proof, rules BounceRules, o Origin) error {
	bs := r.Bounces
	if len(bs) == 0 {
		bs = []Bounce{{Kind: BounceUnknown, Action: "unknown"}}
	}
	now := s.Now()
	proven := make([]Bounce, 0, len(bs))
	// One report is about one message to one subscriber (its proof): the
	// failures it lists (the address, its aliases, forwards) count once a
	// kind, not once a line.
	countedKinds := map[BounceKind]bool{}
	for i := range bs {
		b := bs[i]
		if b.Kind == "" {
			b.Kind = BounceUnknown
		}
		bp := p.forRecipient(b.Email)
		if b.Email == "" && !bp.ok {
			// Neither the report nor its envelope names whom it is about:
			// a status alone (often a broken one) makes no hard or soft
			// bounce of anyone.
			b.Kind = BounceUnknown
		}
		// A policy refusal is the sender's own problem (DESIGN): never
		// counted against the person, nor as the campaign's bounce.
		b.Counted = bp.ok && b.Action != "delayed" && b.Kind != BounceUnknown && b.Kind != BouncePolicy && !countedKinds[b.Kind]
		if b.Counted {
			again, err := s.bouncedBefore(ctx, bp, &b, firstOf(r.MessageIDs))
			if err != nil {
				return err
			}
			b.Counted = !again
			countedKinds[b.Kind] = countedKinds[b.Kind] || b.Counted
		}
		if err := s.addReportBounce(ctx, &b, i == 0, r, bp, rules, now); err != nil {
			return err
		}
		if bp.ok {
			proven = append(proven, b)
			s.log.Info("bounce recorded", "kind", string(b.Kind), "status", b.Status, "counted", b.Counted, "sub_id", bp.rec.Subscriber.ID,
				"campaign_id", p.campaign, "rcpt", string(r.Rcpt), "via", p.via)
		}
	}
	if n := len(bs) - len(proven); n > 0 {
		s.log.Info("unproven bounces recorded, not counted", "rcpt", string(r.Rcpt), "via", p.via, "recipients", n)
	}
	if len(proven) == 0 {
		return nil
	}
	bounced, err := s.applyBounces(ctx, p.rec, proven, rules, o)
	if err != nil || !bounced || p.campaign == 0 {
		return err
	}
	return s.countCampaign(ctx, p.campaign, func(st *Stats) { st.Bounced++ })
}

// countCampaign updates a campaign's counters; a deleted campaign is fine.
func (s *Service) countCampaign(ctx context.Context, id CampaignID, fn func(*Stats)) error {
	_, err := s.store.UpdateCampaign(ctx, id, func(c *Campaign) error {
		fn(&c.Stats)
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// pruneRaw keeps the stored bounce records within the raw-message cap.
func (s *Service) pruneRaw(ctx context.Context, rules BounceRules) error {
	if rules.RawCap <= 0 {
		return nil
	}
	n, err := s.store.PruneBounceRaw(ctx, rules.RawCap)
	if err != nil {
		return err
	}
	if n > 0 {
		s.log.Info("raw bounce messages pruned", "count", n)
	}
	return nil
}

// bounceLimitReason says why a report's new bounces (hard, soft) on top of
// the prior ones (hard0, soft0) blocklist the address, or "" if they do not.
// A policy bounce never does: it is the sender's problem.
func bounceLimitReason(rules BounceRules, hard0, hard, soft0, soft int, status string) string {
	switch {
	case hard > 0 && hard0+hard >= rules.HardLimit:
		if rules.HardLimit == 1 {
			return strings.TrimSpace("hard bounce " + status)
		}
		return fmt.Sprintf("%d hard bounces", hard0+hard)
	case soft > 0 && soft0+soft >= rules.SoftLimit:
		return fmt.Sprintf("%d soft bounces within %s", soft0+soft, windowText(rules.SoftWindow))
	}
	return ""
}

func windowText(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}
