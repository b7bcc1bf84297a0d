// Package store is Bulletin's bbolt implementation of list.Store: buckets,
// keys, secondary indexes, schema migrations and backups. It holds no
// business rules: the list package decides, the store persists.
//
// It is not a stable API: it serves the bulletin binary only.
//
// # Bucket layout
//
// Ids are big-endian uint64 from each bucket's NextSequence, so key order is
// creation order. "|" below is plain concatenation; times in keys are
// big-endian uint64 Unix nanoseconds (0 for the zero time). Values are JSON
// unless noted; every index is written in the same transaction as its record,
// except the name entries of an import's new subscribers (names.go).
//
//	meta             "schema_version" → uint64; "subscribers" → uint64 count;
//	                 "suppressions" → uint64 count of suppression entries;
//	                 "names_deferred", "names_touched"|0x00|subID: an import's
//	                 name entries added at its end (names.go)
//	lists            listID → List
//	list_slug        slug → listID
//	list_counts      listID → 3×uint64 (unconfirmed, confirmed, unsubscribed)
//	list_deleting    listID → nil: a DeleteList in progress, resumed at Open
//	subscribers      subID → subscriber with its subscriptions inline
//	sub_identity     identity → subID (lookup, and identity prefix search)
//	sub_name         lower(name)[:255] | 0x00 | subID → identity (name prefix search)
//	members          listID | subID → state(1) | confirmedAt(8)
//	events           subID | eventID → Event (a subscriber's history is a range)
//	event_ip         at | subID | eventID → nil, events whose IP is not yet truncated
//	suppression      keyed hash → Suppression
//	suppression_at   at | keyed hash → nil: the entries oldest first, for
//	                 the API's pages (v3; meta "suppressions" counts them)
//	mails            mailID → QueuedMail
//	mail_due         due | mailID → nil
//	sub_mails        subID | mailID → nil
//	campaigns        campaignID → Campaign, without its body and text
//	campaign_body    campaignID → {body, text}: apart, so that a commit
//	                 group rewrites a small record, not the message (v2)
//	sends            campaignID | subID → SendRecord
//	send_msgid       Message-ID → campaignID | subID
//	send_defer       campaignID | nextTry | subID → nil, deferred records only
//	bounces          bounceID → Bounce (with the raw report)
//	bounce_email     lower(email) | 0x00 | bounceID → nil
//	bounce_campaign  campaignID | bounceID → nil
//	users            userID → User (with password hash)
//	user_name        name → userID
//	tokens           tokenID → APIToken (with hash); listed by a scan, as they are few
//	token_hash       hash → tokenID
//	audit            auditID → AuditEntry
//	sessions         SHA-256 of a session id → Session (never the id itself);
//	                 made at Open with no schema change; scanned, as they are few
//	settings         key → raw bytes
//
// Every method is one transaction (DeleteList: a first one, then chunks;
// FinishNameIndex: reads and writes in chunks), checks its context first,
// and returns copies; collections come back as empty, non-nil slices.
//
// A bounce query with only a kind filter scans the bounces bucket from the
// cursor on: bounces are few compared to subscribers, and the email and
// campaign filters have their own indexes.
package store
