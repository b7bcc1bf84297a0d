package list

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
)

// Purpose binds a token to one use: a token made for one purpose is refused
// for every other.
type Purpose byte

// Token purposes.
const (
	PurposeConfirm Purpose = iota + 1
	PurposeUnsubscribe
	PurposeManage
	PurposeBounce
	PurposeEmailChange
	PurposeDataAccess
	PurposeTrack
	// purposeMessageID keys the MAC of a campaign message's Message-ID
	// (MessageIDOf); no token is made for it.
	purposeMessageID
)

// macLen is the MAC length in bytes: 96 bits, as DESIGN.md asks.
const macLen = 12

// tokenEncoding is lower-case base32 without padding, so that case-folding
// MTAs keep VERP and mailto tokens valid.
var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Token is the clear content of a link or address token.
type Token struct {
	Purpose    Purpose
	Subscriber SubscriberID
	List       ListID
	Campaign   CampaignID
	// Nonce ties the token to a subscription's (or subscriber's) current
	// state: it dies when that changes.
	Nonce uint32
	// Expires is the end of validity; zero never expires.
	Expires time.Time
	// Arg is a small purpose-specific value (e.g. the data-access action).
	Arg uint64
}

// Tokens seals and opens tokens under the instance secret.
type Tokens struct {
	key []byte
	// macs holds HMACs keyed with key: resetting one is cheaper than keying
	// a new one, and a campaign seals three tokens a message.
	macs sync.Pool
}

// NewTokens returns a token codec keyed by a purpose-derived key of secret.
func NewTokens(secret []byte) *Tokens {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("bulletin token key v1"))
	t := &Tokens{key: m.Sum(nil)}
	t.macs.New = func() any { return hmac.New(sha256.New, t.key) }
	return t
}

// Seal encodes t with its MAC.
func (k *Tokens) Seal(t Token) string {
	var exp uint64
	if !t.Expires.IsZero() {
		exp = uint64(t.Expires.Unix())
	}
	buf := make([]byte, 0, 40)
	for _, v := range []uint64{uint64(t.Subscriber), uint64(t.List), uint64(t.Campaign), uint64(t.Nonce), exp, t.Arg} {
		buf = binary.AppendUvarint(buf, v)
	}
	buf = append(buf, k.mac(t.Purpose, buf)...)
	return tokenEncoding.EncodeToString(buf)
}

// Open decodes s, checks its MAC for purpose p and its expiry at now.
func (k *Tokens) Open(p Purpose, s string, now time.Time) (Token, error) {
	if len(s) > 128 {
		return Token{}, fmt.Errorf("%w: token too long", ErrInvalidToken)
	}
	s = strings.ToLower(strings.TrimSpace(s))
	raw, err := tokenEncoding.DecodeString(s)
	// The last character may carry bits that decoding drops; a token is
	// its one canonical spelling, so that no altered link still opens.
	if err != nil || len(raw) <= macLen || tokenEncoding.EncodeToString(raw) != s {
		return Token{}, fmt.Errorf("%w: malformed token", ErrInvalidToken)
	}
	body, sum := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	if !hmac.Equal(sum, k.mac(p, body)) {
		return Token{}, fmt.Errorf("%w: bad signature", ErrInvalidToken)
	}
	var vals [6]uint64
	for i := range vals {
		v, n := binary.Uvarint(body)
		if n <= 0 {
			return Token{}, fmt.Errorf("%w: malformed token", ErrInvalidToken)
		}
		vals[i], body = v, body[n:]
	}
	if len(body) != 0 || vals[3] > 1<<32-1 {
		return Token{}, fmt.Errorf("%w: malformed token", ErrInvalidToken)
	}
	t := Token{Purpose: p, Subscriber: SubscriberID(vals[0]), List: ListID(vals[1]),
		Campaign: CampaignID(vals[2]), Nonce: uint32(vals[3]), Arg: vals[5]}
	if vals[4] != 0 {
		t.Expires = time.Unix(int64(vals[4]), 0).UTC()
		if now.After(t.Expires) {
			return Token{}, fmt.Errorf("%w: link expired", ErrInvalidToken)
		}
	}
	return t, nil
}

func (k *Tokens) mac(p Purpose, body []byte) []byte {
	m := k.macs.Get().(hash.Hash)
	defer k.macs.Put(m)
	m.Reset()
	m.Write([]byte{byte(p)})
	m.Write(body)
	return m.Sum(make([]byte, 0, sha256.Size))[:macLen]
}

// messageIDEncoding is base32hex in lower case, without padding: it keeps
// the byte order, so that a campaign's Message-IDs sort by recipient.
var messageIDEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// MessageIDOf is the Message-ID local part of campaign c's message to
// subscriber sb: the same for every copy, so that a copy sent again after
// a crash (at most a commit group's worth) can be dropped by the receiver
// as the duplicate it is. The campaign and the subscriber, in big-endian
// order, lead, so that a run's ids land at the end of the store's index;
// 96 bits of MAC keep it unguessable, as a bounce that quotes it is acted
// upon.
func (k *Tokens) MessageIDOf(c CampaignID, sb SubscriberID) string {
	var b [28]byte
	binary.BigEndian.PutUint64(b[:8], uint64(c))
	binary.BigEndian.PutUint64(b[8:16], uint64(sb))
	copy(b[16:], k.mac(purposeMessageID, b[:16]))
	return messageIDEncoding.EncodeToString(b[:])
}

// AddressHash is the keyed hash of an address identity under which its
// suppression entry is stored; it survives erasure without keeping the address.
func (k *Tokens) AddressHash(identity string) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte("suppression\x00"))
	m.Write([]byte(identity))
	return m.Sum(nil)
}
