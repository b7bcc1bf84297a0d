package list

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"
)

// Event kinds of the subscriber self-service.
const (
	EventEmailChangeRequested EventKind = "email_change_requested"
	EventDataRequested        EventKind = "data_requested"
)

// Data-access actions a MailDataAccess mail confirms.
const (
	DataExport = "export"
	DataErase  = "erase"
)

// dataLinkTTL is how long an address-change or data-access link lives.
const dataLinkTTL = 24 * time.Hour

// selfServiceLimit bounds the mails a preference page may ask for (address
// changes, data access) per subscriber per hour: a leaked manage link must
// not turn the instance into a mail cannon.
const selfServiceLimit = 5

// LinkKind says what a /manage/{token} link is for.
type LinkKind string

// The links that open on the preference page's address.
const (
	LinkManage      LinkKind = "manage"
	LinkEmailChange LinkKind = "email_change"
	LinkDataAccess  LinkKind = "data_access"
	// LinkSample is the manage link of a test message, which names no
	// subscriber: it opens a page that says so.
	LinkSample LinkKind = "sample"
)

// ManageLink is an opened /manage/{token} link.
type ManageLink struct {
	Kind       LinkKind
	Subscriber Subscriber
	// View is the preference page (LinkManage).
	View ManageView
	// NewEmail is the address waiting for its confirmation (LinkEmailChange).
	NewEmail string
	// Action is DataExport or DataErase (LinkDataAccess).
	Action string
}

// OpenManageLink opens a token of the /manage/ address: a preference page
// link, an address-change confirmation, or a data-access confirmation.
// It changes nothing.
func (s *Service) OpenManageLink(ctx context.Context, token string) (ManageLink, error) {
	if t, err := s.tokens.Open(PurposeManage, token, s.Now()); err == nil && t.Subscriber == 0 {
		return ManageLink{Kind: LinkSample}, nil
	}
	mv, err := s.ManageInfo(ctx, token)
	if err == nil {
		return ManageLink{Kind: LinkManage, Subscriber: mv.Subscriber, View: mv}, nil
	}
	if !errors.Is(err, ErrInvalidToken) {
		return ManageLink{}, err
	}
	if r, _, err := s.emailChangeRecord(ctx, token); err == nil {
		return ManageLink{Kind: LinkEmailChange, Subscriber: r.Subscriber, NewEmail: r.Subscriber.PendingEmail}, nil
	} else if !errors.Is(err, ErrInvalidToken) {
		return ManageLink{}, err
	}
	r, action, err := s.dataAccessRecord(ctx, token)
	if err != nil {
		return ManageLink{}, err
	}
	return ManageLink{Kind: LinkDataAccess, Subscriber: r.Subscriber, Action: action}, nil
}

// pendingArg binds an address-change token to the address it confirms, so
// that a later request for another address kills the earlier link.
func (s *Service) pendingArg(email string) uint64 {
	a, err := ParseAddress(email)
	if err != nil {
		return 0
	}
	return binary.BigEndian.Uint64(s.tokens.AddressHash("pending\x00" + a.Identity)[:8]) >> 16
}

// checkSelfServiceLimit refuses more than selfServiceLimit requests of a
// subscriber in the last hour.
func (s *Service) checkSelfServiceLimit(ctx context.Context, id SubscriberID) error {
	evs, err := s.SubscriberEvents(ctx, id)
	if err != nil {
		return err
	}
	n, since := 0, s.Now().Add(-time.Hour)
	for _, e := range evs {
		if (e.Kind == EventEmailChangeRequested || e.Kind == EventDataRequested) && e.At.After(since) {
			n++
		}
	}
	if n >= selfServiceLimit {
		return fmt.Errorf("%w: too many requests from this page; try again in an hour", ErrLimited)
	}
	return nil
}

// RequestEmailChange starts an address change from the preference page:
// the new address is kept as pending and gets a confirmation link; the old
// one stays in use until the link is followed. It answers the same whether
// or not the new address belongs to someone else.
func (s *Service) RequestEmailChange(ctx context.Context, token, email string, o Origin) error {
	mv, err := s.ManageInfo(ctx, token)
	if err != nil {
		return err
	}
	a, err := ParseAddress(email)
	if err != nil {
		return err
	}
	if err := checkMailable(a); err != nil {
		return err
	}
	sb := mv.Subscriber
	if a.Identity == sb.Identity {
		return fmt.Errorf("%w: this is already your address", ErrInvalid)
	}
	for i := range mv.Lists {
		if mv.Subscribed(mv.Lists[i].ID) {
			if err := s.CheckAddress(&mv.Lists[i], a); err != nil {
				return err
			}
		}
	}
	// The sign-up form's check too: a typo's domain is told at once rather
	// than sent a link nobody can receive.
	if err := s.checkMailDomain(ctx, a); err != nil {
		return err
	}
	if err := s.checkSelfServiceLimit(ctx, sb.ID); err != nil {
		return err
	}
	now := s.Now()
	k := Key{ID: sb.ID, Hash: s.tokens.AddressHash(sb.Identity)}
	_, err = s.store.UpdateSubscriber(ctx, k, false, func(r *Record, fx *Effects) error {
		if r.Subscriber.Nonce != sb.Nonce {
			return fmt.Errorf("%w: this link is no longer valid", ErrInvalidToken)
		}
		r.Subscriber.PendingEmail = a.Display
		fx.Events = append(fx.Events, s.event(r, 0, EventEmailChangeRequested, HowForm, o, now, ""))
		fx.Mails = append(fx.Mails, QueuedMail{Kind: MailEmailChange, Subscriber: r.Subscriber.ID, To: a.Display, Due: now, Created: now})
		return nil
	})
	if err != nil {
		return err
	}
	s.Kick()
	return nil
}

// emailChangeRecord opens an address-change token and checks that it still
// names the pending address and the subscriber's current nonce.
func (s *Service) emailChangeRecord(ctx context.Context, token string) (Record, Token, error) {
	t, err := s.tokens.Open(PurposeEmailChange, token, s.Now())
	if err != nil {
		return Record{}, Token{}, err
	}
	r, _, err := s.tokenRecord(ctx, Token{Subscriber: t.Subscriber})
	if err != nil {
		return Record{}, Token{}, err
	}
	sb := r.Subscriber
	if sb.PendingEmail == "" || t.Nonce != sb.Nonce || t.Arg != s.pendingArg(sb.PendingEmail) {
		return Record{}, Token{}, fmt.Errorf("%w: this link is no longer valid", ErrInvalidToken)
	}
	return r, t, nil
}

// ErrAddressUnavailable is the answer to an address change whose new
// address cannot be used; it says no more, so that nobody learns whether
// that address is subscribed.
var ErrAddressUnavailable = fmt.Errorf("%w: this address cannot be used", ErrExists)

// ConfirmEmailChange swaps the subscriber's address for the confirmed
// pending one. Every earlier link (manage, data access) dies with it, since
// the subscriber's nonce moves. An address that belongs to another
// subscriber is ErrAddressUnavailable.
func (s *Service) ConfirmEmailChange(ctx context.Context, token string, o Origin) (Subscriber, error) {
	cur, t, err := s.emailChangeRecord(ctx, token)
	if err != nil {
		return Subscriber{}, err
	}
	a, err := ParseAddress(cur.Subscriber.PendingEmail)
	if err != nil {
		return Subscriber{}, err
	}
	now, nonce := s.Now(), s.nonce()
	// The new address's own suppression entry travels with it.
	k := Key{ID: cur.Subscriber.ID, Hash: s.tokens.AddressHash(a.Identity)}
	r, err := s.store.UpdateSubscriber(ctx, k, false, func(r *Record, fx *Effects) error {
		if r.Subscriber.Nonce != t.Nonce || r.Subscriber.PendingEmail != cur.Subscriber.PendingEmail {
			return fmt.Errorf("%w: this link is no longer valid", ErrInvalidToken)
		}
		old := r.Subscriber.Email
		r.Subscriber.Email, r.Subscriber.Identity, r.Subscriber.PendingEmail = a.Display, a.Identity, ""
		r.Subscriber.Nonce, r.Subscriber.UpdatedAt = nonce, now
		fx.Events = append(fx.Events, s.event(r, 0, EventEmailChanged, HowForm, o, now, "confirmed from the new address"))
		// The old address is told, so that a change its owner did not make
		// (by someone holding a manage link they forwarded) does not pass
		// unseen.
		fx.Mails = append(fx.Mails, QueuedMail{Kind: MailEmailChanged, Subscriber: r.Subscriber.ID, To: old, Due: now, Created: now})
		return nil
	})
	if errors.Is(err, ErrExists) {
		return Subscriber{}, ErrAddressUnavailable
	}
	if err != nil {
		return Subscriber{}, err
	}
	s.log.Info("address changed", "sub_id", r.Subscriber.ID)
	return r.Subscriber, nil
}

// RequestDataAccess mails a fresh confirmation link for a data-access
// action (DataExport or DataErase) to the subscriber's address: whoever
// holds a forwarded newsletter cannot take or erase the data.
func (s *Service) RequestDataAccess(ctx context.Context, token, action string, o Origin) error {
	if action != DataExport && action != DataErase {
		return fmt.Errorf("%w: unknown action %q", ErrInvalid, action)
	}
	mv, err := s.ManageInfo(ctx, token)
	if err != nil {
		return err
	}
	sb := mv.Subscriber
	if err := s.checkSelfServiceLimit(ctx, sb.ID); err != nil {
		return err
	}
	now := s.Now()
	k := Key{ID: sb.ID, Hash: s.tokens.AddressHash(sb.Identity)}
	_, err = s.store.UpdateSubscriber(ctx, k, false, func(r *Record, fx *Effects) error {
		fx.Events = append(fx.Events, s.event(r, 0, EventDataRequested, HowForm, o, now, action))
		fx.Mails = append(fx.Mails, QueuedMail{Kind: MailDataAccess, Subscriber: r.Subscriber.ID, Action: action, Due: now, Created: now})
		return nil
	})
	if err != nil {
		return err
	}
	s.Kick()
	return nil
}

// dataAccessRecord opens a data-access token bound to the subscriber's
// current nonce and returns the action it confirms.
func (s *Service) dataAccessRecord(ctx context.Context, token string) (Record, string, error) {
	t, err := s.tokens.Open(PurposeDataAccess, token, s.Now())
	if err != nil {
		return Record{}, "", err
	}
	if t.Expires.IsZero() {
		return Record{}, "", fmt.Errorf("%w: this link is no longer valid", ErrInvalidToken)
	}
	r, _, err := s.tokenRecord(ctx, Token{Subscriber: t.Subscriber})
	if err != nil {
		return Record{}, "", err
	}
	if t.Nonce != r.Subscriber.Nonce {
		return Record{}, "", fmt.Errorf("%w: this link is no longer valid", ErrInvalidToken)
	}
	switch t.Arg {
	case dataActionArg(DataExport):
		return r, DataExport, nil
	case dataActionArg(DataErase):
		return r, DataErase, nil
	}
	return Record{}, "", fmt.Errorf("%w: unknown action", ErrInvalidToken)
}

// ExportByToken answers a confirmed "download my data" link.
func (s *Service) ExportByToken(ctx context.Context, token string, o Origin) (SubscriberExport, error) {
	r, action, err := s.dataAccessRecord(ctx, token)
	if err != nil {
		return SubscriberExport{}, err
	}
	if action != DataExport {
		return SubscriberExport{}, fmt.Errorf("%w: this link is not for a download", ErrInvalidToken)
	}
	return s.exportSubscriber(ctx, r.Subscriber.ID, HowForm, o)
}

// EraseByToken answers a confirmed "erase me" link.
func (s *Service) EraseByToken(ctx context.Context, token string, o Origin) error {
	r, action, err := s.dataAccessRecord(ctx, token)
	if err != nil {
		return err
	}
	if action != DataErase {
		return fmt.Errorf("%w: this link is not for an erasure", ErrInvalidToken)
	}
	return s.erase(ctx, r.Subscriber.ID, HowForm, o)
}

// ManageUnsubscribeAll is the preference page's "unsubscribe from all":
// every list is left and the address is suppressed.
func (s *Service) ManageUnsubscribeAll(ctx context.Context, token string, o Origin) error {
	mv, err := s.ManageInfo(ctx, token)
	if err != nil {
		return err
	}
	_, err = s.unsubscribe(ctx, mv.Subscriber, nil, true, 0, HowForm, o)
	return err
}

// SubscriberExport is everything Bulletin holds about one subscriber.
type SubscriberExport struct {
	ExportedAt    time.Time          `json:"exported_at"`
	Subscriber    Subscriber         `json:"subscriber"`
	Subscriptions []SubscriptionView `json:"subscriptions"`
	Suppression   *Suppression       `json:"suppression,omitempty"`
	Events        []Event            `json:"events"`
	// Mails are the campaign messages sent (or tried) to the subscriber;
	// system mails are among the events (mail_sent).
	Mails   []ExportedMail `json:"mails"`
	Bounces []Bounce       `json:"bounces"`
}

// ExportedMail is one campaign message of an export.
type ExportedMail struct {
	Campaign CampaignID `json:"campaign_id"`
	Name     string     `json:"campaign_name"`
	Subject  string     `json:"subject"`
	SendRecord
}

// ExportSubscriber gathers everything held about a subscriber, for the
// admin API and the subscriber's own confirmed download.
func (s *Service) ExportSubscriber(ctx context.Context, id SubscriberID, o Origin) (SubscriberExport, error) {
	return s.exportSubscriber(ctx, id, o.how(HowAdmin), o)
}

func (s *Service) exportSubscriber(ctx context.Context, id SubscriberID, how How, o Origin) (SubscriberExport, error) {
	cur, err := s.store.Record(ctx, Key{ID: id})
	if err != nil {
		return SubscriberExport{}, err
	}
	r, err := s.store.Record(ctx, Key{ID: id, Hash: s.tokens.AddressHash(cur.Subscriber.Identity)})
	if err != nil {
		return SubscriberExport{}, err
	}
	v, err := s.view(ctx, r, map[ListID]List{})
	if err != nil {
		return SubscriberExport{}, err
	}
	x := SubscriberExport{ExportedAt: s.Now(), Subscriber: v.Subscriber, Subscriptions: v.Subscriptions, Suppression: r.Suppression}
	if x.Events, err = s.SubscriberEvents(ctx, id); err != nil {
		return SubscriberExport{}, err
	}
	if x.Subscriber.Attributes == nil {
		x.Subscriber.Attributes = map[string]string{} // as the API shows it
	}
	if x.Mails, err = s.exportMails(ctx, &r.Subscriber); err != nil {
		return SubscriberExport{}, err
	}
	if x.Bounces, err = s.subscriberBounces(ctx, r.Subscriber); err != nil {
		return SubscriberExport{}, err
	}
	if x.Events == nil {
		x.Events = []Event{}
	}
	s.appendEvent(ctx, Event{Subscriber: id, Kind: EventExported, How: how, At: s.Now(), IP: o.IP, UserAgent: o.UserAgent})
	s.audit(ctx, o, "subscriber.export", fmt.Sprint(id))
	return x, nil
}

// exportMails finds the subscriber's record in every campaign.
func (s *Service) exportMails(ctx context.Context, sb *Subscriber) ([]ExportedMail, error) {
	out := []ExportedMail{}
	err := EachCampaign(ctx, s.store, func(c Campaign) error {
		rec, err := s.store.SendRecord(ctx, c.ID, sb.ID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, ExportedMail{Campaign: c.ID, Name: c.Name, Subject: s.subjectFor(ctx, &c, sb), SendRecord: rec})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// subjectFor is campaign c's subject as the person's mail reads it: a
// subject with template actions ("News for {{.Name}}") is rendered for
// them, from their details as they are now. Should that fail, the subject
// as written is better than none.
func (s *Service) subjectFor(ctx context.Context, c *Campaign, sb *Subscriber) string {
	if !strings.Contains(c.Subject, "{{") || len(c.Lists) == 0 {
		return c.Subject
	}
	l, err := s.store.List(ctx, c.Lists[0])
	if err != nil {
		return c.Subject
	}
	raw, err := s.mailer.Preview(ctx, s.campaignMessage(c, sb, &l, s.Config()))
	if err != nil {
		return c.Subject
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return c.Subject
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil || subj == "" {
		return c.Subject
	}
	return subj
}

// subscriberBounces returns the bounce records of the subscriber: those
// that name them, and those of their address.
func (s *Service) subscriberBounces(ctx context.Context, sb Subscriber) ([]Bounce, error) {
	out := []Bounce{}
	f := BounceFilter{Limit: 1000}
	for {
		bs, err := s.store.Bounces(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			if b.Subscriber == sb.ID || b.Email != "" && (strings.EqualFold(b.Email, sb.Email) || strings.EqualFold(b.Email, sb.Identity)) {
				b.Raw = nil
				out = append(out, b)
			}
		}
		if len(bs) < f.Limit {
			return out, nil
		}
		f.After = bs[len(bs)-1].ID
	}
}

// traceEraser is implemented by stores that can delete what a subscriber
// left outside their record: bounce records (which hold the address) and
// per-recipient send records.
type traceEraser interface {
	EraseTraces(ctx context.Context, id SubscriberID, emails []string) (int, error)
}

// eraseTraces deletes the subscriber's bounce and send records.
func (s *Service) eraseTraces(ctx context.Context, sb Subscriber) error {
	te, ok := s.store.(traceEraser)
	if !ok {
		s.log.Warn("store cannot erase bounce and send records", "sub_id", sb.ID)
		return nil
	}
	_, err := te.EraseTraces(ctx, sb.ID, []string{sb.Email, sb.Identity})
	return err
}
