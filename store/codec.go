package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/bulletin/bulletin/list"
	bolt "go.etcd.io/bbolt"
)

// defaultLimit is used when a caller passes a limit of zero or less.
const defaultLimit = 100

func limitOr(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

// bucket returns a bucket that Open guarantees to exist, with its fill
// percent set (bbolt keeps it per transaction, not in the file).
func bucket(tx *bolt.Tx, name string) *bolt.Bucket {
	b := tx.Bucket([]byte(name))
	if f := fillPercent(name); f != 0 {
		b.FillPercent = f
	}
	return b
}

// fillPercent is how full bbolt packs the pages of a bucket keyed by
// increasing ids when it splits them (0: bbolt's default of one half).
// Appends fill the last page, so packing it tight halves the file instead
// of leaving every page half empty. Subscriber records (updated in place)
// and events (a known subscriber's new ones land mid-bucket) keep a tenth
// free; membership values have a fixed size.
func fillPercent(name string) float64 {
	switch name {
	case bSubscribers, bEvents:
		return 0.9
	case bMembers, bEventIP:
		return 1.0
	}
	return 0
}

// u64 encodes v as an 8-byte big-endian key, so key order is numeric order.
func u64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}

// key2 and key3 concatenate big-endian ids into a composite key.
func key2(a, b uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, a)
	binary.BigEndian.PutUint64(k[8:], b)
	return k
}

func key3(a, b, c uint64) []byte {
	k := make([]byte, 24)
	binary.BigEndian.PutUint64(k, a)
	binary.BigEndian.PutUint64(k[8:], b)
	binary.BigEndian.PutUint64(k[16:], c)
	return k
}

// readU64 decodes 8 bytes at off, or 0 when the slice is too short.
func readU64(b []byte, off int) uint64 {
	if len(b) < off+8 {
		return 0
	}
	return binary.BigEndian.Uint64(b[off:])
}

// timeKey maps t to an order-preserving uint64: Unix nanoseconds, clamped to
// 0 for the zero time and anything before 1970.
func timeKey(t time.Time) uint64 {
	if t.IsZero() || t.Unix() < 0 {
		return 0
	}
	if t.Unix() >= math.MaxInt64/int64(time.Second) {
		return math.MaxUint64
	}
	return uint64(t.UnixNano())
}

// keyTime is the inverse of timeKey; 0 is the zero time.
func keyTime(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v)).UTC()
}

// putJSON stores v as JSON under key.
func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// getJSON decodes the value under key into v; decoding copies it out of the
// transaction. It reports whether the key existed.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	return true, decode(key, data, v)
}

// decode decodes a JSON value read under key, copying it out of the tx.
func decode(key, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode value of key %x: %w", key, err)
	}
	return nil
}

// seekPast positions c at the first key greater than k, so that paging
// "after id" works for every id, the largest included.
func seekPast(c *bolt.Cursor, k []byte) ([]byte, []byte) {
	ck, v := c.Seek(k)
	if ck != nil && bytes.Equal(ck, k) {
		return c.Next()
	}
	return ck, v
}

// mustGet is getJSON with a missing key reported as list.ErrNotFound.
func mustGet(b *bolt.Bucket, key []byte, v any, what string, id uint64) error {
	ok, err := getJSON(b, key, v)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s %d", list.ErrNotFound, what, id)
	}
	return nil
}

// next assigns the bucket's next sequence number.
func next(b *bolt.Bucket) (uint64, error) {
	return b.NextSequence()
}

// clone copies b out of a transaction; nil stays nil.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return bytes.Clone(b)
}

// prefixKeys collects up to max keys with prefix starting at from (which must
// itself start with prefix). Collecting before deleting sidesteps bbolt's
// cursor skipping an element after Cursor.Delete.
func prefixKeys(b *bolt.Bucket, prefix, from []byte, max int) [][]byte {
	var keys [][]byte
	c := b.Cursor()
	k, _ := c.First()
	if from != nil {
		k, _ = c.Seek(from)
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(keys) == max {
			break
		}
		keys = append(keys, clone(k))
	}
	return keys
}

// deletePrefix deletes every key starting with prefix and returns them.
func deletePrefix(b *bolt.Bucket, prefix []byte) ([][]byte, error) {
	keys := prefixKeys(b, prefix, prefix, math.MaxInt)
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// appendSubscriber appends the JSON of v, as encoding/json writes it but
// without reflection: the subscriber record is the value an import writes
// a million times. TestSubscriberJSON holds it to json.Marshal, field by
// field. It falls back to json.Marshal for what it does not handle (a time
// json refuses), so errors stay json's.
func appendSubscriber(b []byte, v *subscriberValue) ([]byte, error) {
	s, b0 := &v.Subscriber, b
	if !jsonTimes(s.CreatedAt, s.UpdatedAt) {
		return appendMarshal(b0, v)
	}
	b = strconv.AppendUint(append(b, `{"id":`...), uint64(s.ID), 10)
	b = appendJSONString(append(b, `,"email":`...), s.Email)
	b = appendJSONString(append(b, `,"name":`...), s.Name)
	b = append(b, `,"attributes":`...)
	if s.Attributes == nil {
		b = append(b, "null"...)
	} else {
		b = appendAttributes(b, s.Attributes)
	}
	b = strconv.AppendBool(append(b, `,"blocklisted":`...), s.Blocklisted)
	if s.NoTracking {
		b = append(b, `,"no_tracking":true`...)
	}
	if s.TrackOpens {
		b = append(b, `,"track_opens":true`...)
	}
	if s.PendingEmail != "" {
		b = appendJSONString(append(b, `,"pending_email":`...), s.PendingEmail)
	}
	b = appendJSONTime(append(b, `,"created_at":`...), s.CreatedAt)
	b = appendJSONTime(append(b, `,"updated_at":`...), s.UpdatedAt)
	b = appendJSONString(append(b, `,"identity":`...), v.Identity)
	if v.Nonce != 0 {
		b = strconv.AppendUint(append(b, `,"nonce":`...), uint64(v.Nonce), 10)
	}
	b = append(b, `,"subscriptions":`...)
	if v.Subscriptions == nil {
		return append(b, "null}"...), nil
	}
	b = append(b, '[')
	for i := range v.Subscriptions {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendSubscription(b, &v.Subscriptions[i]); !ok {
			return appendMarshal(b0, v)
		}
	}
	return append(b, "]}"...), nil
}

// appendEvent appends the JSON of e as json.Marshal writes it (held to it
// by TestEventJSON), falling back to it for a time it must judge.
func appendEvent(b []byte, e *list.Event) ([]byte, error) {
	if !jsonTimes(e.At) {
		return appendMarshal(b, e)
	}
	b = strconv.AppendUint(append(b, `{"id":`...), uint64(e.ID), 10)
	b = strconv.AppendUint(append(b, `,"subscriber_id":`...), uint64(e.Subscriber), 10)
	if e.List != 0 {
		b = strconv.AppendUint(append(b, `,"list_id":`...), uint64(e.List), 10)
	}
	if e.Campaign != 0 {
		b = strconv.AppendUint(append(b, `,"campaign_id":`...), uint64(e.Campaign), 10)
	}
	b = appendJSONString(append(b, `,"kind":`...), string(e.Kind))
	b = appendJSONString(append(b, `,"how":`...), string(e.How))
	b = appendJSONTime(append(b, `,"at":`...), e.At)
	if e.IP != "" {
		b = appendJSONString(append(b, `,"ip":`...), e.IP)
	}
	if e.UserAgent != "" {
		b = appendJSONString(append(b, `,"user_agent":`...), e.UserAgent)
	}
	if e.Detail != "" {
		b = appendJSONString(append(b, `,"detail":`...), e.Detail)
	}
	return append(b, '}'), nil
}

// appendSubscription appends the JSON of one subscription, or reports a
// time that json.Marshal must judge.
func appendSubscription(b []byte, v *subscriptionValue) ([]byte, bool) {
	s := &v.Subscription
	if !jsonTimes(s.CreatedAt, v.LastConfirmMail) || !jsonTimePtrs(s.ConfirmedAt, s.UnsubscribedAt, v.RemindedAt) {
		return b, false
	}
	b = strconv.AppendUint(append(b, `{"list_id":`...), uint64(s.List), 10)
	b = appendJSONString(append(b, `,"state":`...), string(s.State))
	b = appendJSONTime(append(b, `,"created_at":`...), s.CreatedAt)
	b = appendJSONTimePtr(append(b, `,"confirmed_at":`...), s.ConfirmedAt)
	b = appendJSONTimePtr(append(b, `,"unsubscribed_at":`...), s.UnsubscribedAt)
	if c := s.Consent; c != nil {
		if !jsonTimes(c.At) || !jsonTimePtrs(c.ConfirmedAt) {
			return b, false
		}
		b = appendConsent(append(b, `,"consent":`...), c)
	}
	if c := s.PendingConsent; c != nil {
		if !jsonTimes(c.At) || !jsonTimePtrs(c.ConfirmedAt) {
			return b, false
		}
		b = appendConsent(append(b, `,"pending_consent":`...), c)
	}
	if v.Nonce != 0 {
		b = strconv.AppendUint(append(b, `,"nonce":`...), uint64(v.Nonce), 10)
	}
	if !v.LastConfirmMail.IsZero() {
		b = appendJSONTime(append(b, `,"last_confirm_mail":`...), v.LastConfirmMail)
	}
	if v.RemindedAt != nil {
		b = appendJSONTime(append(b, `,"reminded_at":`...), *v.RemindedAt)
	}
	return append(b, '}'), true
}

func appendConsent(b []byte, c *list.Consent) []byte {
	b = appendJSONString(append(b, `{"source":`...), c.Source)
	b = appendJSONString(append(b, `,"text":`...), c.Text)
	b = strconv.AppendInt(append(b, `,"text_version":`...), int64(c.TextVersion), 10)
	b = appendJSONString(append(b, `,"privacy_url":`...), c.PrivacyURL)
	if c.Reason != "" {
		b = appendJSONString(append(b, `,"reason":`...), c.Reason)
	}
	b = appendJSONTime(append(b, `,"at":`...), c.At)
	if c.IP != "" {
		b = appendJSONString(append(b, `,"ip":`...), c.IP)
	}
	if c.UserAgent != "" {
		b = appendJSONString(append(b, `,"user_agent":`...), c.UserAgent)
	}
	if c.ConfirmedAt != nil {
		b = appendJSONTime(append(b, `,"confirmed_at":`...), *c.ConfirmedAt)
	}
	if c.ConfirmIP != "" {
		b = appendJSONString(append(b, `,"confirm_ip":`...), c.ConfirmIP)
	}
	if c.ConfirmUserAgent != "" {
		b = appendJSONString(append(b, `,"confirm_user_agent":`...), c.ConfirmUserAgent)
	}
	return append(b, '}')
}

// appendAttributes appends a string map with its keys sorted, as json does.
func appendAttributes(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(append(appendJSONString(b, k), ':'), m[k])
	}
	return append(b, '}')
}

// appendMarshal appends json.Marshal's answer for v.
func appendMarshal(b []byte, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	return append(b, data...), err
}

// appendJSONString appends s quoted as json.Marshal does; anything but
// printable ASCII that json leaves alone, or the three characters it
// writes as HTML-safe escapes (as in a Message-ID's angle brackets), goes
// through json itself.
func appendJSONString(b []byte, s string) []byte {
	start := len(b)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		case c < 0x20 || c >= 0x7f || c == '"' || c == '\\':
			q, _ := json.Marshal(s) // a string always marshals
			return append(b[:start], q...)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendSendRecord appends the JSON of r as json.Marshal writes it (held
// to it by TestSendRecordJSON): a commit group writes one for every
// message sent. It falls back to json.Marshal for a time it must judge.
func appendSendRecord(b []byte, r *list.SendRecord) ([]byte, error) {
	if !jsonTimes(r.FirstTry, r.At) || !jsonTimePtrs(r.NextTry) {
		return appendMarshal(b, r)
	}
	b = strconv.AppendUint(append(b, `{"campaign_id":`...), uint64(r.Campaign), 10)
	b = strconv.AppendUint(append(b, `,"subscriber_id":`...), uint64(r.Subscriber), 10)
	b = appendJSONString(append(b, `,"outcome":`...), string(r.Outcome))
	if r.Code != 0 {
		b = strconv.AppendInt(append(b, `,"code":`...), int64(r.Code), 10)
	}
	for _, f := range [...]struct{ key, v string }{{`,"status":`, r.Status}, {`,"detail":`, r.Detail}, {`,"message_id":`, r.MessageID}} {
		if f.v != "" {
			b = appendJSONString(append(b, f.key...), f.v)
		}
	}
	b = strconv.AppendInt(append(b, `,"attempts":`...), int64(r.Attempts), 10)
	b = appendJSONTime(append(b, `,"first_try":`...), r.FirstTry)
	if r.NextTry != nil {
		b = appendJSONTime(append(b, `,"next_try":`...), *r.NextTry)
	}
	b = appendJSONTime(append(b, `,"at":`...), r.At)
	return append(b, '}'), nil
}

// jsonTimes reports whether json.Marshal accepts each time: a year of
// four digits and a zone offset under 24 hours.
func jsonTimes(ts ...time.Time) bool {
	for _, t := range ts {
		_, off := t.Zone()
		if y := t.Year(); y < 0 || y > 9999 || off <= -24*3600 || off >= 24*3600 {
			return false
		}
	}
	return true
}

func jsonTimePtrs(ts ...*time.Time) bool {
	for _, t := range ts {
		if t != nil && !jsonTimes(*t) {
			return false
		}
	}
	return true
}

// appendJSONTime appends t as time.Time.MarshalJSON does.
func appendJSONTime(b []byte, t time.Time) []byte {
	return append(t.AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
}

func appendJSONTimePtr(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendJSONTime(b, *t)
}
