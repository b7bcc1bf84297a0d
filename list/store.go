package list

import (
	"context"
	"io"
	"time"
)

// Key finds a subscriber by id or by identity. Hash, when set, is the keyed
// hash of the identity under which a suppression entry would be stored; the
// store loads and writes Record.Suppression with it.
type Key struct {
	ID       SubscriberID
	Identity string
	Hash     []byte
}

// SubscriberQuery selects subscribers for search and export. Prefix matches
// the start of the address identity or of the lower-cased name.
type SubscriberQuery struct {
	Prefix string
	List   ListID
	State  State
	After  SubscriberID
	Limit  int
	// Count asks for the total where it takes a walk: a state filter
	// without a list (the membership index), or a prefix with filters
	// (each match checked). The API and the page ask; an export does not.
	Count bool
}

// Store is the persistence Bulletin needs. Every method is one transaction:
// it either happens whole or not at all. Values returned are copies.
type Store interface {
	ListStore
	SubscriberStore
	CampaignStore
	UserStore
	// Setting returns a stored setting, or ErrNotFound.
	Setting(ctx context.Context, key string) ([]byte, error)
	// PutSetting stores a setting.
	PutSetting(ctx context.Context, key string, value []byte) error
	// Backup writes a consistent copy of the whole store to w.
	Backup(ctx context.Context, w io.Writer) (int64, error)
	// Size is the size of the store in bytes.
	Size() int64
}

// ListStore keeps lists.
type ListStore interface {
	// CreateList stores l and sets its ID; ErrExists if the slug is taken.
	CreateList(ctx context.Context, l *List) error
	List(ctx context.Context, id ListID) (List, error)
	ListBySlug(ctx context.Context, slug string) (List, error)
	// Lists returns every list ordered by id.
	Lists(ctx context.Context) ([]List, error)
	// UpdateList runs fn on the list in one transaction; fn must be pure.
	UpdateList(ctx context.Context, id ListID, fn func(*List) error) (List, error)
	// DeleteList deletes the list and every subscription to it.
	DeleteList(ctx context.Context, id ListID) error
	// Counts counts the list's subscriptions by state, in O(1).
	Counts(ctx context.Context, id ListID) (Counts, error)
	// Members returns up to limit entries of the list's membership index with
	// subscriber ids greater than after, in id order.
	Members(ctx context.Context, id ListID, after SubscriberID, limit int) ([]Member, error)
}

// SubscriberStore keeps subscribers, subscriptions, suppression, events and
// the system mail queue.
type SubscriberStore interface {
	// Record reads a subscriber with subscriptions (and suppression when
	// k.Hash is set); ErrNotFound if absent.
	Record(ctx context.Context, k Key) (Record, error)
	// Recipient reads what sending a campaign needs of a subscriber (id,
	// address, name, attributes, flags, nonces, each subscription's list and
	// state), faster than Record; the other fields are left zero.
	Recipient(ctx context.Context, id SubscriberID) (Record, error)
	// UpdateSubscriber runs fn on the record in one transaction and writes the
	// record, its indexes and fn's effects. With create, an absent subscriber
	// is handed to fn as a zero record with Identity set, and gets an id when
	// written. fn must be pure: no I/O, no logging, no sending.
	UpdateSubscriber(ctx context.Context, k Key, create bool, fn func(*Record, *Effects) error) (Record, error)
	// UpdateSubscribers is UpdateSubscriber for many keys in one
	// transaction, in order: a later key sees what an earlier one wrote. An
	// error from fn skips that key only and is returned at its index in
	// errs; any other error writes nothing at all.
	UpdateSubscribers(ctx context.Context, keys []Key, create bool, fn func(i int, r *Record, fx *Effects) error) (errs []error, err error)
	// DeleteSubscriber deletes a subscriber, subscriptions, events and
	// queued mails; their suppression entry, if any, stays.
	DeleteSubscriber(ctx context.Context, id SubscriberID) error
	// SearchSubscribers returns up to q.Limit records after q.After in id
	// order, and the total matching when it is cheap to know (else -1).
	SearchSubscribers(ctx context.Context, q SubscriberQuery) ([]Record, int, error)
	// Events returns a subscriber's events after the given id, oldest first.
	Events(ctx context.Context, id SubscriberID, after EventID, limit int) ([]Event, error)
	// AppendEvents stores events not tied to a subscriber mutation.
	AppendEvents(ctx context.Context, evs []Event) error
	// TruncateEventIPs shortens the IP addresses of events older than before
	// with fn and returns how many it changed.
	TruncateEventIPs(ctx context.Context, before time.Time, fn func(string) string) (int, error)

	// Suppression returns the entry under hash, or ErrNotFound.
	Suppression(ctx context.Context, hash []byte) (Suppression, error)
	// PutSuppression adds an entry for an address that has no subscriber;
	// ErrExists when one is already there (it is left unchanged).
	PutSuppression(ctx context.Context, s Suppression) error
	// DeleteSuppression removes an entry for an address with no subscriber.
	DeleteSuppression(ctx context.Context, hash []byte) error
	// Suppressions returns entries oldest first after the given cursor (a
	// Suppression.Cursor), and the number of entries in all.
	Suppressions(ctx context.Context, after []byte, limit int) ([]Suppression, int, error)

	// DueMails returns queued system mails due at now, oldest first.
	DueMails(ctx context.Context, now time.Time, limit int) ([]QueuedMail, error)
	// PutMail stores a queued mail (rescheduling it).
	PutMail(ctx context.Context, m QueuedMail) error
	// DeleteMail removes a queued mail after it was sent or given up.
	DeleteMail(ctx context.Context, id MailID) error

	// AddBounce stores b and sets its id.
	AddBounce(ctx context.Context, b *Bounce) error
	// Bounces returns bounces matching f, oldest first.
	Bounces(ctx context.Context, f BounceFilter) ([]Bounce, error)
	// CountBounces counts the bounces f selects, its After and Limit
	// aside.
	CountBounces(ctx context.Context, f BounceFilter) (int, error)
	// PruneBounceRaw drops the raw messages of the oldest bounce records
	// until the stored bounce records, newest first, fit in maxBytes; it
	// returns how many it dropped.
	PruneBounceRaw(ctx context.Context, maxBytes int64) (int, error)
}

// CampaignStore keeps campaigns and their per-recipient records.
type CampaignStore interface {
	CreateCampaign(ctx context.Context, c *Campaign) error
	Campaign(ctx context.Context, id CampaignID) (Campaign, error)
	// Campaigns returns campaigns after the given id, oldest first.
	Campaigns(ctx context.Context, after CampaignID, limit int) ([]Campaign, error)
	// UpdateCampaign runs fn on the campaign in one transaction.
	UpdateCampaign(ctx context.Context, id CampaignID, fn func(*Campaign) error) (Campaign, error)
	// DeleteCampaign deletes a campaign and its records.
	DeleteCampaign(ctx context.Context, id CampaignID) error
	// CommitSends writes a commit group: records (indexed by Message-ID and,
	// when deferred, by next try), cursor and stats, in one transaction. The
	// campaign it returns may lack its body and text.
	CommitSends(ctx context.Context, id CampaignID, b SendBatch) (Campaign, error)
	// SendRecord returns the record of one recipient, or ErrNotFound.
	SendRecord(ctx context.Context, id CampaignID, sub SubscriberID) (SendRecord, error)
	// LastSend returns the highest subscriber id with a record of the
	// campaign, or 0 when it has none.
	LastSend(ctx context.Context, id CampaignID) (SubscriberID, error)
	// SendByMessageID finds the record of a message Bulletin sent.
	SendByMessageID(ctx context.Context, messageID string) (SendRecord, error)
	// DueDeferrals returns deferred records of a campaign whose next try is
	// at or before now, earliest first.
	DueDeferrals(ctx context.Context, id CampaignID, now time.Time, limit int) ([]SendRecord, error)
	// CountDeferrals counts a campaign's deferred records.
	CountDeferrals(ctx context.Context, id CampaignID) (int, error)
	// FoldSends deletes up to limit per-recipient records older than before
	// of finished and cancelled campaigns, with their index entries; the
	// campaigns' stats keep the counts. It returns how many it deleted.
	FoldSends(ctx context.Context, before time.Time, limit int) (int, error)
}

// UserStore keeps admin users, API tokens and the audit log.
type UserStore interface {
	// CreateUser stores u and sets its ID; ErrExists if the name is taken.
	CreateUser(ctx context.Context, u *User) error
	User(ctx context.Context, id UserID) (User, error)
	UserByName(ctx context.Context, name string) (User, error)
	Users(ctx context.Context) ([]User, error)
	UpdateUser(ctx context.Context, id UserID, fn func(*User) error) (User, error)
	// DeleteUser deletes a user with their API tokens and sessions.
	DeleteUser(ctx context.Context, id UserID) error
	// CreateAPIToken stores t and sets its ID.
	CreateAPIToken(ctx context.Context, t *APIToken) error
	APITokenByHash(ctx context.Context, hash []byte) (APIToken, error)
	APITokens(ctx context.Context, user UserID) ([]APIToken, error)
	DeleteAPIToken(ctx context.Context, id uint64) error
	SessionStore
	// AppendAudit stores an audit entry and sets its ID.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// Audit returns audit entries after the given id, oldest first.
	Audit(ctx context.Context, after uint64, limit int) ([]AuditEntry, error)
	// AuditBefore returns audit entries with an id below before (0: from
	// the newest), newest first.
	AuditBefore(ctx context.Context, before uint64, limit int) ([]AuditEntry, error)
	// CountAudit counts the audit entries kept.
	CountAudit(ctx context.Context) (int, error)
}

// SessionStore keeps the admin UI's login sessions, by the hash of their
// id. The rules (how long a session lives) are the Service's: the store
// only reads, writes and deletes what it is told.
type SessionStore interface {
	// CreateSession stores s, first deleting the least recently seen
	// sessions of its user so that they keep fewer than perUser;
	// ErrNotFound if the user does not exist, ErrExists if the hash is
	// taken.
	CreateSession(ctx context.Context, s Session, perUser int) error
	// Session returns the session stored under hash, or ErrNotFound.
	Session(ctx context.Context, hash []byte) (Session, error)
	// TouchSession sets the session's SeenAt to seen, unless it is already
	// later; ErrNotFound if the session is gone.
	TouchSession(ctx context.Context, hash []byte, seen time.Time) error
	// DeleteSession deletes a session; deleting one that is gone is no
	// error.
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteUserSessions deletes every session of user except the one
	// under keep (nil: none kept) and returns how many it deleted.
	DeleteUserSessions(ctx context.Context, user UserID, keep []byte) (int, error)
	// SweepSessions deletes the sessions last seen before seenBefore or
	// created before createdBefore and returns how many it deleted.
	SweepSessions(ctx context.Context, seenBefore, createdBefore time.Time) (int, error)
}
