package list

import (
	"context"
	"fmt"
)

// Message is everything the Mailer needs to render, build, sign and deliver
// one mail. The list package decides who gets what; the Mailer decides how
// it looks on the wire.
type Message struct {
	// Kind is a system mail kind, or "" for a campaign message.
	Kind MailKind
	// Test marks a test send of a campaign.
	Test bool
	// From is the sender as "Name <addr>".
	From string
	// DefaultFrom is the instance's sender (Config.From), at whose domain
	// the settings page and bulletin dkim dns publish the DKIM record: the
	// lint warns when From, a campaign's or list's own, is elsewhere.
	DefaultFrom string
	// To is the recipient address; ToName its display name.
	To     string
	ToName string

	Subscriber *Subscriber
	List       *List
	Campaign   *Campaign

	// URLs the mail links to; empty when not relevant.
	ConfirmURL     string
	UnsubscribeURL string
	ManageURL      string
	// UnsubscribeMailto is the mailto unsubscribe address (without "mailto:").
	UnsubscribeMailto string
	// ReturnPath is the envelope sender: the VERP bounce address.
	ReturnPath string
	// Action names the data-access action a MailDataAccess mail confirms.
	Action string
	// PostalAddress and PrivacyURL go into every footer.
	PostalAddress string
	PrivacyURL    string
	// OpenURL and ClickURL, when set, turn on open and click counting:
	// ClickURL is a prefix to which the escaped target URL is appended.
	OpenURL  string
	ClickURL string
	// MessageID, when set, is the Message-ID's local part (the sender adds
	// its domain): a campaign message's is the same for every copy
	// (Tokens.MessageIDOf); otherwise the sender makes a fresh one.
	MessageID string
	// Layout, when set, is the custom layout to wrap the message in instead
	// of the default one: the campaign layout for a campaign message, the
	// system mail layout for a system mail.
	Layout *Layout
}

// Finding is one result of the pre-send lint.
type Finding struct {
	// Severity is "error" (blocks sending) or "warning".
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

// Mailer renders and delivers mail. It is implemented by the smtp package.
type Mailer interface {
	// Send renders, builds, signs and delivers one message and returns its
	// Message-ID. A refusal by the relay, or of a recipient address that
	// cannot be sent to, is a *DeliveryError.
	Send(ctx context.Context, m *Message) (messageID string, err error)
	// Preview renders m without sending it and returns the raw RFC 5322
	// message as it would be sent.
	Preview(ctx context.Context, m *Message) ([]byte, error)
	// Lint checks a campaign before its first message goes; sample is a
	// message to a sample recipient used to render the templates.
	Lint(ctx context.Context, sample *Message) []Finding
}

type stopKey struct{}

// WithStop returns ctx carrying stop. Once stop is done, a Mailer starts
// no new delivery (a wait for the rate limit or for a relay connection
// ends with stop's error), but lets one already under way finish within
// ctx: a relay that has the message may only be waiting to say so.
func WithStop(ctx, stop context.Context) context.Context {
	return context.WithValue(ctx, stopKey{}, stop)
}

// StopOf returns the stop context that WithStop attached to ctx, or ctx
// itself.
func StopOf(ctx context.Context) context.Context {
	if stop, ok := ctx.Value(stopKey{}).(context.Context); ok {
		return stop
	}
	return ctx
}

// DeliveryError is a relay's answer other than 2xx, classified.
type DeliveryError struct {
	Code   int    // SMTP reply code, 0 when the connection failed
	Status string // enhanced status code, e.g. "5.1.1"
	Text   string
	// Temporary is true for 4xx answers and connection failures: retry later.
	Temporary bool
	// Policy marks 5.7.x: a sender-side authentication or reputation problem.
	Policy bool
	// SenderWide marks a refusal of the sender itself (at MAIL or AUTH),
	// which no other recipient would escape.
	SenderWide bool
	// Kind classifies a permanent failure by what it says about the address
	// (hard, soft or policy), as inbound bounces are classified.
	Kind BounceKind
	// Unsendable marks a recipient address that this sender cannot put in
	// an envelope (a non-ASCII local part without SMTPUTF8, say): refused
	// before any relay saw it, a failure of that recipient alone, and no
	// bounce, since it says nothing about the mailbox.
	Unsendable bool
	// Err is the refusal behind an Unsendable error.
	Err error
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("delivery: %d %s %s", e.Code, e.Status, e.Text)
}

// Unwrap returns the refusal behind an Unsendable error, if any.
func (e *DeliveryError) Unwrap() error { return e.Err }
