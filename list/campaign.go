package list

import "time"

// Status is a campaign's state.
type Status string

// Campaign states: draft → running (send), or draft → scheduled → running when
// send_at is in the future; scheduled → draft (unschedule); running ⇄ paused;
// running | paused → cancelled; running → finished.
const (
	StatusDraft     Status = "draft"
	StatusScheduled Status = "scheduled"
	StatusRunning   Status = "running"
	StatusPaused    Status = "paused"
	StatusCancelled Status = "cancelled"
	StatusFinished  Status = "finished"
)

// Format is the format of a campaign body.
type Format string

// Body formats.
const (
	FormatHTML     Format = "html"
	FormatMarkdown Format = "markdown"
)

// Stats are a campaign's counters.
type Stats struct {
	Total        int `json:"total"`
	Sent         int `json:"sent"`
	Failed       int `json:"failed"`
	Deferred     int `json:"deferred"`
	Bounced      int `json:"bounced"`
	Complained   int `json:"complained"`
	Unsubscribed int `json:"unsubscribed"`
	Remaining    int `json:"remaining"`
	// Skipped counts recipients dropped at send time (unsubscribed or
	// suppressed since the campaign started).
	Skipped int `json:"skipped"`
	Opens   int `json:"opens"`
	Clicks  int `json:"clicks"`
	// OpensProxy and ClicksScanner count the fetches of mail-privacy
	// proxies, prefetchers and link scanners: machines, not people.
	OpensProxy    int `json:"opens_proxy"`
	ClicksScanner int `json:"clicks_scanner"`
}

// Campaign is one mailing to one or more lists.
type Campaign struct {
	ID            CampaignID `json:"id"`
	Name          string     `json:"name"`
	Subject       string     `json:"subject"`
	Lists         []ListID   `json:"lists"`
	From          string     `json:"from"`
	Body          string     `json:"body"`
	Format        Format     `json:"format"`
	Text          string     `json:"text"`
	Advertisement bool       `json:"advertisement"`
	Tracking      bool       `json:"tracking"`
	SendAt        *time.Time `json:"send_at"`
	Status        Status     `json:"status"`
	// Reason says why a campaign was paused or cancelled by the system.
	Reason     string     `json:"reason,omitempty"`
	Stats      Stats      `json:"stats"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	// Cursor is the highest subscriber id whose outcome is committed: the
	// runner resumes after it.
	Cursor SubscriberID `json:"cursor"`
	// Revision counts the edits of a draft. A Mailer caches parsed
	// templates by id, UpdatedAt and Revision: UpdatedAt alone can repeat
	// when two edits fall on the same clock reading.
	Revision uint64 `json:"revision,omitempty"`
}

// Member is an entry of a list's id-ordered membership index.
type Member struct {
	Subscriber  SubscriberID
	State       State
	ConfirmedAt time.Time
}

// Outcome is what happened to one recipient of a campaign.
type Outcome string

// Recipient outcomes.
const (
	OutcomeSent     Outcome = "sent"
	OutcomeDeferred Outcome = "deferred"
	OutcomeFailed   Outcome = "failed"
	OutcomeSkipped  Outcome = "skipped"
)

// SendRecord is the per-recipient record of a campaign.
type SendRecord struct {
	Campaign   CampaignID   `json:"campaign_id"`
	Subscriber SubscriberID `json:"subscriber_id"`
	Outcome    Outcome      `json:"outcome"`
	Code       int          `json:"code,omitempty"`
	Status     string       `json:"status,omitempty"`
	Detail     string       `json:"detail,omitempty"`
	MessageID  string       `json:"message_id,omitempty"`
	Attempts   int          `json:"attempts"`
	FirstTry   time.Time    `json:"first_try"`
	NextTry    *time.Time   `json:"next_try,omitempty"`
	At         time.Time    `json:"at"`
}

// SendBatch is one commit group of a running campaign: the outcomes of a set
// of recipients, the new cursor and the counter changes, written together.
type SendBatch struct {
	Records []SendRecord
	// Cursor, when non-zero, moves the campaign's cursor forward.
	Cursor SubscriberID
	// Delta is added to the campaign's stats.
	Delta Stats
}

// BounceKind classifies a bounce.
type BounceKind string

// Bounce kinds.
const (
	BounceHard      BounceKind = "hard"
	BounceSoft      BounceKind = "soft"
	BouncePolicy    BounceKind = "policy"
	BounceComplaint BounceKind = "complaint"
)

// BounceKinds are the kinds a bounce record can have, for filters.
var BounceKinds = []BounceKind{BounceHard, BounceSoft, BouncePolicy, BounceComplaint, BounceUnknown}

// Bounce is one failed recipient of one report or SMTP answer.
type Bounce struct {
	ID         BounceID     `json:"id"`
	Email      string       `json:"email"`
	Subscriber SubscriberID `json:"subscriber_id,omitempty"`
	Kind       BounceKind   `json:"kind"`
	Action     string       `json:"action"`
	Status     string       `json:"status"`
	Diagnostic string       `json:"diagnostic"`
	Campaign   CampaignID   `json:"campaign,omitempty"`
	// MessageID is the Message-ID of the original message the report
	// quotes, when it quotes one: two reports of one message are told
	// apart from reports of two messages by it.
	MessageID string `json:"message_id,omitempty"`
	// Counted is false for reports that could not be authenticated (no valid
	// token, no known Message-ID, or a quoted Message-ID of a message sent to
	// another address than Email) and for delays: recorded, but acting on no
	// one.
	Counted bool      `json:"counted"`
	At      time.Time `json:"at"`
	// Raw is the report as received, kept up to a size cap.
	Raw []byte `json:"-"`
}

// BounceFilter selects bounces.
type BounceFilter struct {
	Email    string
	Campaign CampaignID
	Kind     BounceKind
	After    BounceID
	Limit    int
}

// AuditEntry records an admin action.
type AuditEntry struct {
	ID     uint64    `json:"id"`
	At     time.Time `json:"at"`
	User   string    `json:"user"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	IP     string    `json:"ip,omitempty"`
}
