package list

import (
	"context"
	"errors"
	"fmt"
)

// The system mail layout is the one confirmations, reminders, welcomes and
// the address-change and data-request mails are wrapped in. It starts as
// the built-in layout (the same files as the campaign layout's) and can be
// edited apart from the campaign layout: a custom one is stored as a
// setting, checked on a sample of every system mail before it is saved,
// and passed to the Mailer in Message.Layout. The Mailer keeps appending
// the footer pieces a layout drops; the check refuses a layout that would
// drop the body, and with it the confirmation link a confirmation exists
// for.

// systemLayoutKey is the setting holding the custom system mail layout.
const systemLayoutKey = "layout.system"

// systemLayoutLinter is a Mailer that can check a system mail layout
// (smtp.Sender can): it renders each sample (whose Layout is the layout to
// check) and reports templates that do not parse or run, parts without
// the link the mail exists for, and footer pieces it had to add.
type systemLayoutLinter interface {
	LintSystemLayout(ctx context.Context, samples []*Message) []Finding
}

// previewKinds are the system mails the layout editor previews, first the
// default one.
var previewKinds = []MailKind{MailConfirm, MailReminder, MailWelcome, MailEmailChange, MailEmailChanged, MailDataAccess}

// SystemLayout returns the system mail layout in use: the custom one, or
// the built-in one's source.
func (s *Service) SystemLayout(ctx context.Context) (LayoutInfo, error) {
	return s.layoutInfo(ctx, systemLayoutKey)
}

// systemMailLayout returns the custom layout system mails are wrapped in,
// nil for the built-in one (cachedLayout).
func (s *Service) systemMailLayout() *Layout {
	return s.cachedLayout(&s.sysLayout, systemLayoutKey)
}

// systemSamples are a sample of every system mail, for the first list (or
// a sample list), each wrapped in l (nil: the built-in layout).
func (s *Service) systemSamples(ctx context.Context, l *Layout) ([]*Message, error) {
	ls, err := s.store.Lists(ctx)
	if err != nil {
		return nil, err
	}
	lst := List{Slug: "sample", Name: "Sample list"}
	if len(ls) > 0 {
		lst = ls[0]
	}
	out := make([]*Message, 0, len(previewKinds))
	for _, k := range previewKinds {
		r := Record{Subscriber: Subscriber{Email: "subscriber@example.com", Name: "Sample Subscriber",
			Identity: "subscriber@example.com", Attributes: map[string]string{}, PendingEmail: "new-address@example.com"}}
		sub := Subscription{List: lst.ID, State: StateUnconfirmed}
		q := QueuedMail{Kind: k, List: lst.ID, Action: "export"}
		var ml *List
		if k == MailConfirm || k == MailReminder || k == MailWelcome {
			cp := lst
			ml = &cp
		} else {
			q.List = 0
		}
		m := s.buildSystemMessage(q, &r, ml, &sub)
		m.Layout = l
		if m.PostalAddress == "" {
			m.PostalAddress = samplePostalAddress
		}
		out = append(out, m)
	}
	return out, nil
}

// lintSystemLayout checks l on a sample of every system mail; the samples
// are returned for a preview.
func (s *Service) lintSystemLayout(ctx context.Context, l *Layout) ([]*Message, []Finding, error) {
	ms, err := s.systemSamples(ctx, l)
	if err != nil {
		return nil, nil, err
	}
	if l == nil {
		return ms, nil, nil
	}
	ln, ok := s.mailer.(systemLayoutLinter)
	if !ok {
		return nil, nil, fmt.Errorf("%w: the mailer cannot check a system mail layout", ErrInvalid)
	}
	return ms, ln.LintSystemLayout(ctx, ms), nil
}

// PreviewSystemLayout renders the sample mail of the given kind (confirm,
// reminder, welcome, email_change, data_access) in l (unsaved) and returns
// the raw message with the findings of the check on every system mail;
// raw is nil when the findings hold an error.
func (s *Service) PreviewSystemLayout(ctx context.Context, l Layout, kind MailKind) ([]byte, []Finding, error) {
	if err := checkLayout(l); err != nil {
		return nil, nil, err
	}
	ms, fs, err := s.lintSystemLayout(ctx, newLayout(l.HTML, l.Text))
	if err != nil || hasErrors(fs) {
		return nil, fs, err
	}
	for _, m := range ms {
		if m.Kind == kind {
			raw, err := s.mailer.Preview(ctx, m)
			return raw, fs, err
		}
	}
	return nil, nil, fmt.Errorf("%w: no preview of %q mails", ErrInvalid, kind)
}

// SaveSystemLayout validates l on a sample of every system mail and stores
// it as the system mail layout; the next system mail uses it. A layout
// that does not parse or run, or that drops a mail's confirmation or
// preference link, is a *LintError (nothing is stored); its warnings are
// returned. A layout equal to the built-in one is stored as no custom
// layout.
func (s *Service) SaveSystemLayout(ctx context.Context, l Layout, o Origin) ([]Finding, error) {
	return s.saveLayout(ctx, systemLayoutKey, l, o, func(ctx context.Context, l *Layout) ([]Finding, error) {
		_, fs, err := s.lintSystemLayout(ctx, l)
		return fs, err
	}, s.sysLayout.set)
}

// ResetSystemLayout drops the custom system mail layout: the built-in one
// is used.
func (s *Service) ResetSystemLayout(ctx context.Context, o Origin) error {
	return s.resetLayout(ctx, systemLayoutKey, o, s.sysLayout.set)
}

// sendSystem sends a system mail. A custom layout that fails for this mail
// although it passed the check on the samples must not keep a
// confirmation from going out: the mail is sent again in the built-in
// layout, which carries every link.
func (s *Service) sendSystem(ctx context.Context, m *Message) (string, error) {
	id, err := s.mailer.Send(ctx, m)
	var de *DeliveryError
	if err == nil || m.Layout == nil || errors.As(err, &de) || ctx.Err() != nil {
		return id, err
	}
	s.log.Error("system mail layout failed, the built-in layout is used", "sub_id", subscriberID(m), "kind", m.Kind, "err", err)
	m.Layout = nil
	return s.mailer.Send(ctx, m)
}

func subscriberID(m *Message) SubscriberID {
	if m.Subscriber == nil {
		return 0
	}
	return m.Subscriber.ID
}
