package list

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Campaign actions of the API: POST /api/v1/campaigns/{id}/{action}.
const (
	ActionSend       = "send"
	ActionPause      = "pause"
	ActionResume     = "resume"
	ActionCancel     = "cancel"
	ActionUnschedule = "unschedule"
)

// NextStatus is the campaign state machine: the state an action leads to
// from cur, or ErrBadTransition. future says whether send_at lies ahead.
func NextStatus(cur Status, action string, future bool) (Status, error) {
	switch {
	case action == ActionSend && cur == StatusDraft && future:
		return StatusScheduled, nil
	case action == ActionSend && cur == StatusDraft:
		return StatusRunning, nil
	case action == ActionUnschedule && cur == StatusScheduled:
		return StatusDraft, nil
	case action == ActionPause && cur == StatusRunning:
		return StatusPaused, nil
	case action == ActionResume && cur == StatusPaused:
		return StatusRunning, nil
	case action == ActionCancel && (cur == StatusRunning || cur == StatusPaused):
		return StatusCancelled, nil
	}
	return "", fmt.Errorf("%w: cannot %s a %s campaign", ErrBadTransition, action, cur)
}

// codeNoLists is the lint finding of a campaign with no lists.
const codeNoLists = "no-lists"

// LintError is a send refused by the pre-send lint; it carries every finding.
type LintError struct {
	Findings []Finding
}

func (e *LintError) Error() string {
	var msgs []string
	for _, f := range e.Findings {
		if f.Severity == "error" {
			msgs = append(msgs, f.Message)
		}
	}
	// Each message is a sentence of its own.
	return "campaign cannot be sent: " + strings.Join(msgs, " ")
}

// Unwrap makes a LintError an ErrInvalid.
func (e *LintError) Unwrap() error { return ErrInvalid }

// CampaignAction applies send, pause, resume, cancel or unschedule. Send
// runs the pre-send lint first and refuses on any error finding.
func (s *Service) CampaignAction(ctx context.Context, id CampaignID, action string, o Origin) (CampaignView, error) {
	c, err := s.store.Campaign(ctx, id)
	if err != nil {
		return CampaignView{}, err
	}
	now := s.Now()
	future := c.SendAt != nil && c.SendAt.After(now)
	if _, err := NextStatus(c.Status, action, future); err != nil {
		return CampaignView{}, err
	}
	if action == ActionSend {
		if err := s.lintBlocks(ctx, c); err != nil {
			return CampaignView{}, err
		}
	}
	c, err = s.store.UpdateCampaign(ctx, id, func(c *Campaign) error {
		next, err := NextStatus(c.Status, action, future)
		if err != nil {
			return err
		}
		c.Status, c.UpdatedAt = next, now
		if next == StatusRunning && c.StartedAt == nil {
			t := now
			c.StartedAt, c.Reason = &t, ""
		}
		if next == StatusRunning || next == StatusCancelled {
			c.Reason = ""
		}
		if next == StatusCancelled {
			t := now
			c.FinishedAt = &t
		}
		return nil
	})
	if err != nil {
		return CampaignView{}, err
	}
	if c.Status == StatusPaused || c.Status == StatusCancelled {
		s.stops.stop(id)
	}
	what := action
	if action == ActionSend && c.Status == StatusScheduled {
		what = "schedule" // sent later: the log says what the button did
	}
	s.audit(ctx, o, "campaign."+what, fmt.Sprint(id))
	s.log.Info("campaign action", "action", what, "campaign_id", id, "status", c.Status, "user", o.User)
	s.KickRunner()
	return s.campaignView(ctx, c)
}

// lintBlocks refuses a campaign whose lint has errors.
func (s *Service) lintBlocks(ctx context.Context, c Campaign) error {
	fs, _, err := s.lint(ctx, c)
	if err != nil {
		return err
	}
	if hasErrors(fs) {
		return &LintError{Findings: fs}
	}
	return nil
}

// LintCampaign returns every finding of the pre-send lint.
func (s *Service) LintCampaign(ctx context.Context, id CampaignID) ([]Finding, error) {
	c, err := s.store.Campaign(ctx, id)
	if err != nil {
		return nil, err
	}
	fs, _, err := s.lint(ctx, c)
	return fs, err
}

// lint runs the pre-send lint on the campaign's message to its sample
// recipient, and returns that message too, for the callers that go on to
// render or send it.
func (s *Service) lint(ctx context.Context, c Campaign) ([]Finding, *Message, error) {
	var fs []Finding
	if len(c.Lists) == 0 {
		fs = append(fs, Finding{Severity: "error", Code: codeNoLists, Message: "the campaign has no lists",
			Fix: "choose at least one list to send to"})
	}
	m, err := s.sampleMessage(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	return append(fs, s.mailer.Lint(ctx, m)...), m, nil
}

// sampleMessage is the campaign's message to a sample recipient: its first
// recipient as a run would find them now (confirmed, not suppressed, with
// the first of the campaign's lists they are on), or a made-up one.
func (s *Service) sampleMessage(ctx context.Context, c Campaign) (*Message, error) {
	sb, l, err := s.firstRecipient(ctx, c)
	if err != nil {
		return nil, err
	}
	if sb == nil {
		sb = &Subscriber{ID: 0, Email: "subscriber@example.com", Name: "Sample Subscriber", Attributes: map[string]string{}}
	}
	if l == nil && len(c.Lists) > 0 {
		ll, err := s.store.List(ctx, c.Lists[0])
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if err == nil {
			l = &ll
		}
	}
	if l == nil {
		l = &List{Slug: "sample", Name: "Sample list"}
	}
	return s.campaignMessage(&c, sb, l, s.Config()), nil
}

// sampleScan bounds how many leading members a preview looks through for
// one that would really be sent to.
const sampleScan = 50

// firstRecipient finds the campaign's first recipient and their list, the
// way the runner picks them, or nil when none shows up among the first
// sampleScan members.
func (s *Service) firstRecipient(ctx context.Context, c Campaign) (*Subscriber, *List, error) {
	rs := NewRecipients(s.store, c.Lists, 0, s.Now())
	for range sampleScan {
		id, err := rs.Next(ctx)
		if err != nil || id == 0 {
			return nil, nil, err
		}
		rec, err := s.store.Recipient(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if a, err := ParseAddress(rec.Subscriber.Email); rec.Subscriber.Blocklisted || err != nil || a.NeedsSMTPUTF8() {
			// Not one the run sends to: a stored address it cannot write
			// to fails alone, and must not make the lint refuse the
			// campaign for everyone.
			continue
		}
		for _, lid := range c.Lists {
			if sub := rec.Subscription(lid); sub == nil || sub.State != StateConfirmed {
				continue
			}
			l, err := s.store.List(ctx, lid)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			return &rec.Subscriber, &l, nil
		}
	}
	return nil, nil, nil
}

// campaignMessage assembles one campaign message for one subscriber, with
// the List-Id and tokens of list l.
func (s *Service) campaignMessage(c *Campaign, sb *Subscriber, l *List, cfg Config) *Message {
	m := &Message{From: cfg.From, DefaultFrom: cfg.From, To: sb.Email, ToName: sb.Name, Subscriber: sb, List: l, Campaign: c,
		PostalAddress: cfg.PostalAddress, PrivacyURL: cfg.PrivacyURL, Layout: s.campaignLayout()}
	switch {
	case c.From != "":
		m.From = c.From
	case l.From != "":
		m.From = l.From
	}
	m.UnsubscribeURL, m.UnsubscribeMailto = s.unsubscribeLinks(sb.ID, l.ID, c.ID, cfg)
	m.ManageURL = s.manageURL(*sb, cfg)
	m.ReturnPath = s.bounceAddress(sb.ID, c.ID, cfg)
	if sb.ID != 0 {
		// A test send (no subscriber) gets fresh ids: its copies are
		// different messages to different testers.
		m.MessageID = s.tokens.MessageIDOf(c.ID, sb.ID)
	}
	s.addTracking(m, c, sb, cfg)
	return m
}

// maxTestRecipients bounds a test send.
const maxTestRecipients = 20

// TestSend sends the campaign to the given addresses, subscribers or not,
// without touching the campaign's state. Every address is checked, and the
// campaign linted, before the first mail goes: an error answer then means
// nothing was sent, so a caller can fix and retry without mailing twice.
// A lint error is a *LintError, as for send, except that a test needs no
// lists (it goes out with a sample list).
func (s *Service) TestSend(ctx context.Context, id CampaignID, emails []string, o Origin) error {
	if len(emails) == 0 || len(emails) > maxTestRecipients {
		return fmt.Errorf("%w: give 1 to %d addresses for a test", ErrInvalid, maxTestRecipients)
	}
	// Every refused address is named at once, not the first alone.
	addrs := make([]Address, len(emails))
	var refused refusals
	for i, e := range emails {
		a, err := ParseAddress(e)
		if err == nil {
			err = checkMailable(a)
		}
		refused.add(err)
		addrs[i] = a
	}
	if err := refused.err(); err != nil {
		return err
	}
	c, err := s.store.Campaign(ctx, id)
	if err != nil {
		return err
	}
	// The findings that would make every test mail fail (a broken
	// template, no postal address…) refuse it; the campaign's missing
	// lists do not.
	fs, sample, err := s.lint(ctx, c)
	if err != nil {
		return err
	}
	if hasErrors(fs, codeNoLists) {
		return &LintError{Findings: fs}
	}
	var errs []error
	for _, a := range addrs {
		sb := Subscriber{Email: a.Display, Identity: a.Identity, Attributes: map[string]string{}}
		if r, err := s.store.Record(ctx, Key{Identity: a.Identity}); err == nil {
			sb = r.Subscriber
		}
		// Links in a test mail belong to nobody: a tester's click must not
		// unsubscribe a real subscriber.
		sb.ID = 0
		m := s.campaignMessage(&c, &sb, sample.List, s.Config())
		m.Test = true
		if _, err := s.mailer.Send(ctx, m); err != nil {
			errs = append(errs, fmt.Errorf("test to %s: %w", a.Display, err))
		}
	}
	s.audit(ctx, o, "campaign.test", fmt.Sprint(id))
	return errors.Join(errs...)
}

// KickRunner wakes the campaign scheduler.
func (s *Service) KickRunner() {
	select {
	case s.runKick <- struct{}{}:
	default:
	}
}

func sortListIDs(ids []ListID) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}

// due reports whether a scheduled campaign should start at now.
func due(c Campaign, now time.Time) bool {
	return c.Status == StatusScheduled && (c.SendAt == nil || !c.SendAt.After(now))
}
