package list

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"time"
)

// This file holds what the admin UI shows of mail without sending it:
// previews of campaigns and system mails, and the outbox.

// OutboxMessage describes one message in the outbox (the Maildir where
// mail goes while no relay is configured).
type OutboxMessage struct {
	// Name is the message's key for OutboxMessage.
	Name      string    `json:"name"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	MessageID string    `json:"message_id"`
	Date      time.Time `json:"date"`
	Size      int64     `json:"size"`
}

// OutboxLister is implemented by a Mailer that keeps an outbox.
type OutboxLister interface {
	// OutboxMessages lists the outbox, newest first, at most limit.
	OutboxMessages(ctx context.Context, limit int) ([]OutboxMessage, error)
	// OutboxMessage returns one raw message, or ErrNotFound.
	OutboxMessage(ctx context.Context, name string) ([]byte, error)
}

// Outbox lists the outbox messages, newest first; ok is false when the
// Mailer keeps no outbox (mail goes to a relay).
func (s *Service) Outbox(ctx context.Context, limit int) (msgs []OutboxMessage, ok bool, err error) {
	ol, ok := s.mailer.(OutboxLister)
	if !ok {
		return nil, false, nil
	}
	msgs, err = ol.OutboxMessages(ctx, limit)
	return msgs, true, err
}

// OutboxMessage returns one raw outbox message.
func (s *Service) OutboxMessage(ctx context.Context, name string) ([]byte, error) {
	ol, ok := s.mailer.(OutboxLister)
	if !ok {
		return nil, fmt.Errorf("%w: there is no outbox", ErrNotFound)
	}
	return ol.OutboxMessage(ctx, name)
}

// PreviewCampaign renders a campaign as its sample recipient would get it,
// without saving or sending anything: the stored campaign id (0 for a new
// one) with the unsaved changes in applied. It returns the raw message and
// the findings of the pre-send lint.
func (s *Service) PreviewCampaign(ctx context.Context, id CampaignID, in CampaignInput) ([]byte, []Finding, error) {
	c := Campaign{Status: StatusDraft}
	if id != 0 {
		var err error
		if c, err = s.store.Campaign(ctx, id); err != nil {
			return nil, nil, err
		}
	}
	if err := s.applyCampaign(ctx, &c, in); err != nil {
		return nil, nil, err
	}
	// A Mailer may cache parsed templates by campaign id and update time:
	// unsaved content gets a stamp of its own, derived from the content,
	// so that a preview never shows a stale parse.
	c.UpdatedAt = previewStamp(&c)
	fs, m, err := s.lint(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	raw, err := s.mailer.Preview(ctx, m)
	if err != nil && hasErrors(fs) {
		// The lint has said what is wrong (a broken template, say): the
		// findings are the answer, there is just no message to show.
		return nil, fs, nil
	}
	return raw, fs, err
}

// hasErrors reports whether a finding but those with the except codes is
// an error.
func hasErrors(fs []Finding, except ...string) bool {
	for _, f := range fs {
		if f.Severity == "error" && !slices.Contains(except, f.Code) {
			return true
		}
	}
	return false
}

// PreviewSystemMail renders a list's confirmation, reminder or welcome mail
// for a sample subscriber, with text, when not nil, in place of the list's
// stored text for that mail.
func (s *Service) PreviewSystemMail(ctx context.Context, slug string, kind MailKind, text *string) ([]byte, error) {
	l, err := s.store.ListBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	switch kind {
	case MailConfirm:
		if text != nil {
			l.ConfirmText = *text
		}
	case MailReminder:
		if text != nil {
			l.ReminderText = *text
		}
	case MailWelcome:
		if text != nil {
			l.WelcomeText = *text
		}
	default:
		return nil, fmt.Errorf("%w: no preview of %q mails", ErrInvalid, kind)
	}
	if text != nil && len(*text) > 20000 {
		return nil, fmt.Errorf("%w: the text is longer than 20000 characters", ErrInvalid)
	}
	r := Record{Subscriber: Subscriber{Email: "subscriber@example.com", Name: "Sample Subscriber",
		Identity: "subscriber@example.com", Attributes: map[string]string{}}}
	sub := Subscription{List: l.ID, State: StateUnconfirmed}
	m := s.buildSystemMessage(QueuedMail{Kind: kind, List: l.ID}, &r, &l, &sub)
	return s.mailer.Preview(ctx, m)
}

// previewStamp is a time that changes with a campaign's content.
func previewStamp(c *Campaign) time.Time {
	h := fnv.New64a()
	for _, v := range []string{c.Subject, c.Body, c.Text, string(c.Format), c.From, fmt.Sprint(c.Advertisement, c.Lists)} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return time.Unix(0, int64(h.Sum64()>>1)).UTC()
}
