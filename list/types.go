package list

import "time"

// Typed identifiers. Stores assign them from big-endian sequences, so their
// order is creation order.
type (
	// ListID identifies a mailing list.
	ListID uint64
	// SubscriberID identifies a subscriber (one per address identity).
	SubscriberID uint64
	// CampaignID identifies a campaign.
	CampaignID uint64
	// UserID identifies an admin user.
	UserID uint64
	// EventID identifies an event in the event log.
	EventID uint64
	// MailID identifies a queued system mail.
	MailID uint64
	// BounceID identifies a bounce record.
	BounceID uint64
)

// OptIn is how a list confirms new subscribers.
type OptIn string

// Opt-in modes.
const (
	OptInDouble OptIn = "double"
	OptInSingle OptIn = "single"
)

// List is a mailing list.
type List struct {
	ID          ListID `json:"id"`
	Slug        string `json:"slug"`
	Name        string `json:"name"`
	Description string `json:"description"`
	OptIn       OptIn  `json:"optin"`
	Public      bool   `json:"public"`
	ConsentText string `json:"consent_text"`
	// ConsentVersion grows each time ConsentText changes, so a consent record
	// names the exact wording the person saw.
	ConsentVersion int    `json:"consent_version"`
	From           string `json:"from"`
	WelcomeText    string `json:"welcome_text"`
	ConfirmText    string `json:"confirm_text"`
	// ReminderText is the list's own wording of the one reminder to an
	// unconfirmed sign-up; empty means the default wording.
	ReminderText string `json:"reminder_text"`
	// Welcome sends a welcome mail after confirmation.
	Welcome bool `json:"welcome"`
	// Reminder sends one reminder to unconfirmed subscriptions.
	Reminder bool `json:"reminder"`
	// Attributes are the custom fields the list asks for.
	Attributes []string `json:"attributes"`
	// Address rules (see CheckAddress): AllowDomains, when not empty, is the
	// only domains accepted; BlockDomains are refused; BlockFreeMail refuses
	// the free-mail domains of Config.FreeMailDomains; AllowRoles accepts
	// role addresses such as postmaster@, refused by default.
	AllowDomains  []string  `json:"allow_domains,omitempty"`
	BlockDomains  []string  `json:"block_domains,omitempty"`
	BlockFreeMail bool      `json:"block_free_mail,omitempty"`
	AllowRoles    bool      `json:"allow_roles,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Counts are the number of subscriptions of a list in each state.
type Counts struct {
	Unconfirmed  int `json:"unconfirmed"`
	Confirmed    int `json:"confirmed"`
	Unsubscribed int `json:"unsubscribed"`
}

// State is a subscription's state.
type State string

// Subscription states: unconfirmed → confirmed → unsubscribed, and
// unsubscribed → unconfirmed again on a new sign-up.
const (
	StateUnconfirmed  State = "unconfirmed"
	StateConfirmed    State = "confirmed"
	StateUnsubscribed State = "unsubscribed"
)

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	return s == StateUnconfirmed || s == StateConfirmed || s == StateUnsubscribed
}

// Subscriber is one person, identified by their address identity.
type Subscriber struct {
	ID SubscriberID `json:"id"`
	// Email is the address as the person typed it, kept for display.
	Email string `json:"email"`
	// Identity is the lower-cased address with an IDNA A-label domain.
	Identity   string            `json:"-"`
	Name       string            `json:"name"`
	Attributes map[string]string `json:"attributes"`
	// Blocklisted mirrors the suppression list for this address.
	Blocklisted bool `json:"blocklisted"`
	// NoTracking is the subscriber's opt-out of click and open counting.
	NoTracking bool `json:"no_tracking,omitempty"`
	// TrackOpens is the subscriber's opt-in to per-person open counting.
	TrackOpens bool `json:"track_opens,omitempty"`
	// PendingEmail is a new address waiting for its confirmation.
	PendingEmail string    `json:"pending_email,omitempty"`
	Nonce        uint32    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Subscription is a subscriber's membership of one list.
type Subscription struct {
	List           ListID     `json:"list_id"`
	State          State      `json:"state"`
	CreatedAt      time.Time  `json:"created_at"`
	ConfirmedAt    *time.Time `json:"confirmed_at"`
	UnsubscribedAt *time.Time `json:"unsubscribed_at"`
	// Nonce changes on every state change, so a token bound to it dies then.
	Nonce uint32 `json:"-"`
	// LastConfirmMail is when a confirmation mail was last queued, for the
	// per-address limit.
	LastConfirmMail time.Time `json:"-"`
	// RemindedAt is when the one reminder went out.
	RemindedAt *time.Time `json:"-"`
	Consent    *Consent   `json:"consent,omitempty"`
	// PendingConsent is a renewed sign-up waiting for its confirmation,
	// kept apart so that the consent the mail already sent rests on stays
	// whole until the new one is confirmed.
	PendingConsent *Consent `json:"pending_consent,omitempty"`
}

// Consent is the proof of a subscription's consent.
type Consent struct {
	Source      string `json:"source"`
	Text        string `json:"text"`
	TextVersion int    `json:"text_version"`
	PrivacyURL  string `json:"privacy_url"`
	// Reason is given for confirmed imports and admin additions.
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	// Confirmation of a double opt-in.
	ConfirmedAt      *time.Time `json:"confirmed_at,omitempty"`
	ConfirmIP        string     `json:"confirm_ip,omitempty"`
	ConfirmUserAgent string     `json:"confirm_user_agent,omitempty"`
}

// ByEditor reports whether an editor recorded the consent (an import, the
// admin UI, the API): the person was not there, so the time, IP and user
// agent are the editor's, and the record's consent text is the list's at
// the time, which nobody was shown.
func (c *Consent) ByEditor() bool {
	switch How(c.Source) {
	case HowAdmin, HowAPI, HowImport:
		return true
	}
	return false
}

// How says by which path a change happened.
type How string

// The paths by which a change can happen.
const (
	HowForm      How = "form"
	HowAPI       How = "api"
	HowImport    How = "import"
	HowAdmin     How = "admin"
	HowOneClick  How = "one-click"
	HowMailto    How = "mailto"
	HowBounce    How = "bounce"
	HowComplaint How = "complaint"
	HowSystem    How = "system"
)

// EventKind names what happened.
type EventKind string

// Event kinds.
const (
	EventSubscribed     EventKind = "subscribed"
	EventConfirmed      EventKind = "confirmed"
	EventUnsubscribed   EventKind = "unsubscribed"
	EventMailQueued     EventKind = "mail_queued"
	EventMailSent       EventKind = "mail_sent"
	EventMailFailed     EventKind = "mail_failed"
	EventBounce         EventKind = "bounce"
	EventComplaint      EventKind = "complaint"
	EventBlocklisted    EventKind = "blocklisted"
	EventUnblocklisted  EventKind = "unblocklisted"
	EventProfileChanged EventKind = "profile_changed"
	EventEmailChanged   EventKind = "email_changed"
	EventExported       EventKind = "exported"
)

// Event is one entry of a subscriber's history.
type Event struct {
	ID         EventID      `json:"id"`
	Subscriber SubscriberID `json:"subscriber_id"`
	List       ListID       `json:"list_id,omitempty"`
	Campaign   CampaignID   `json:"campaign_id,omitempty"`
	Kind       EventKind    `json:"kind"`
	How        How          `json:"how"`
	At         time.Time    `json:"at"`
	IP         string       `json:"ip,omitempty"`
	UserAgent  string       `json:"user_agent,omitempty"`
	Detail     string       `json:"detail,omitempty"`
}

// Record is a subscriber with their subscriptions and suppression, the unit a
// store reads and writes in one transaction.
type Record struct {
	Subscriber Subscriber
	// Subscriptions are ordered by list id.
	Subscriptions []Subscription
	// Suppression is the subscriber's suppression entry, nil when not suppressed.
	Suppression *Suppression
}

// Subscription returns the subscription to list l, or nil.
func (r *Record) Subscription(l ListID) *Subscription {
	for i := range r.Subscriptions {
		if r.Subscriptions[i].List == l {
			return &r.Subscriptions[i]
		}
	}
	return nil
}

// Suppression is an entry of the global never-mail list. It is keyed by a
// keyed hash of the address identity, so an erased person leaves no address.
type Suppression struct {
	Hash   []byte    `json:"-"`
	Email  string    `json:"email,omitempty"`
	Reason string    `json:"reason"`
	How    How       `json:"how"`
	At     time.Time `json:"at"`
	// Cursor is the entry's place in the oldest-first order, set by
	// Store.Suppressions for the next page; opaque outside the store.
	Cursor []byte `json:"-"`
}

// Role is a user's role.
type Role string

// User roles.
const (
	RoleAdmin  Role = "admin"
	RoleEditor Role = "editor"
)

// User is an account of the admin UI and API.
type User struct {
	ID           UserID    `json:"id"`
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
}

// APIToken is a bearer token for the JSON API; only its hash is stored.
type APIToken struct {
	ID        uint64    `json:"id"`
	User      UserID    `json:"user_id"`
	Name      string    `json:"name"`
	Hash      []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// Session is a logged-in admin browser as stored. Only the SHA-256 of the
// session id is kept, so that a copy of the store (a backup) holds nothing
// a browser could present as its cookie.
type Session struct {
	Hash      []byte    `json:"-"`
	User      UserID    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	// SeenAt is when the session was last used, written at most every
	// SessionTouchEvery.
	SeenAt time.Time `json:"seen_at"`
}

// MailKind names a system mail.
type MailKind string

// System mail kinds.
const (
	MailConfirm     MailKind = "confirm"
	MailWelcome     MailKind = "welcome"
	MailReminder    MailKind = "reminder"
	MailEmailChange MailKind = "email_change"
	// MailEmailChanged tells the old address that the subscription moved
	// to another one: the owner learns of a change they did not make.
	MailEmailChanged MailKind = "email_changed"
	MailDataAccess   MailKind = "data_access"
)

// QueuedMail is a system mail committed with the state change that caused it
// and sent by a worker after the commit.
type QueuedMail struct {
	ID         MailID       `json:"id"`
	Kind       MailKind     `json:"kind"`
	Subscriber SubscriberID `json:"subscriber_id"`
	List       ListID       `json:"list_id"`
	// To overrides the subscriber's address (address change confirmation).
	To string `json:"to,omitempty"`
	// Action is the data-access action being confirmed (export, erase).
	Action   string    `json:"action,omitempty"`
	Attempts int       `json:"attempts"`
	Due      time.Time `json:"due"`
	Created  time.Time `json:"created"`
	LastErr  string    `json:"last_err,omitempty"`
}

// Effects are what a subscriber mutation produces besides the record itself;
// the store writes them in the same transaction.
type Effects struct {
	Events []Event
	Mails  []QueuedMail
}
