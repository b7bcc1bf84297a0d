package store

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/bulletin/bulletin/list"
)

// decodeRecipient decodes a stored subscriber into v as json.Unmarshal
// would. The runner reads one subscriber for every message it sends, and
// json.Unmarshal spends most of its time on what sending never uses (the
// consent proofs and timestamps); this scanner skips those without
// building them. It handles the JSON that appendSubscriber and
// json.Marshal write, and hands anything else (an unknown, escaped or
// repeated key, a number out of range, null where a value is read) to
// json.Unmarshal, so that results and errors stay json's.
// FuzzDecodeRecipient holds it to json.Unmarshal.
func decodeRecipient(data []byte, v *recipientValue) error {
	d := recipientDecoder{data: data}
	if w, ok := d.recipient(); ok && d.end() {
		*v = w
		return nil
	}
	*v = recipientValue{}
	return json.Unmarshal(data, v)
}

// recipientDecoder scans one stored subscriber. Every method reports
// false for input it leaves to json.Unmarshal.
type recipientDecoder struct {
	data []byte
	i    int
}

// Keys of a stored subscriber and of its subscriptions: those sending
// reads, then those it skips (still checked to be well-formed JSON). A
// key's place in its list is its bit in the set of keys seen.
var (
	subscriberKeys   = []string{"id", "email", "identity", "name", "attributes", "blocklisted", "no_tracking", "track_opens", "nonce", "subscriptions", "pending_email", "created_at", "updated_at"}
	subscriptionKeys = []string{"list_id", "state", "nonce", "created_at", "confirmed_at", "unsubscribed_at", "consent", "pending_consent", "last_confirm_mail", "reminded_at"}
)

// keyOnce returns the key's place in keys, or false for an unknown key or
// one seen before (json.Unmarshal matches keys regardless of case and
// merges repeated ones: left to it).
func keyOnce(keys []string, key []byte, seen *uint32) (int, bool) {
	for i, k := range keys {
		if k == string(key) {
			ok := *seen&(1<<i) == 0
			*seen |= 1 << i
			return i, ok
		}
	}
	return 0, false
}

func (d *recipientDecoder) recipient() (recipientValue, bool) {
	var v recipientValue
	var seen uint32
	ok := d.object(func(key []byte) bool {
		i, ok := keyOnce(subscriberKeys, key, &seen)
		if !ok {
			return false
		}
		switch subscriberKeys[i] {
		case "id":
			n, ok := d.uint(64)
			v.ID = list.SubscriberID(n)
			return ok
		case "email":
			return d.str(&v.Email)
		case "identity":
			return d.str(&v.Identity)
		case "name":
			return d.str(&v.Name)
		case "attributes":
			return d.attributes(&v.Attributes)
		case "blocklisted":
			return d.bool(&v.Blocklisted)
		case "no_tracking":
			return d.bool(&v.NoTracking)
		case "track_opens":
			return d.bool(&v.TrackOpens)
		case "nonce":
			n, ok := d.uint(32)
			v.Nonce = uint32(n)
			return ok
		case "subscriptions":
			return d.subscriptions(&v)
		}
		return d.skip(0)
	})
	return v, ok
}

func (d *recipientDecoder) subscriptions(v *recipientValue) bool {
	if d.null() {
		v.Subscriptions = nil
		return true
	}
	v.Subscriptions = make([]recipientSubscription, 0, 2)
	return d.array(func() bool {
		var s recipientSubscription
		var seen uint32
		ok := d.object(func(key []byte) bool {
			i, ok := keyOnce(subscriptionKeys, key, &seen)
			if !ok {
				return false
			}
			switch subscriptionKeys[i] {
			case "list_id":
				n, ok := d.uint(64)
				s.List = list.ListID(n)
				return ok
			case "state":
				var st string
				ok := d.str(&st)
				s.State = list.State(st)
				return ok
			case "nonce":
				n, ok := d.uint(32)
				s.Nonce = uint32(n)
				return ok
			}
			return d.skip(0)
		})
		v.Subscriptions = append(v.Subscriptions, s)
		return ok
	})
}

func (d *recipientDecoder) attributes(m *map[string]string) bool {
	if d.null() {
		*m = nil
		return true
	}
	out := map[string]string{}
	ok := d.object(func(key []byte) bool {
		if _, dup := out[string(key)]; dup {
			return false
		}
		var val string
		if !d.str(&val) {
			return false
		}
		out[string(key)] = val
		return true
	})
	*m = out
	return ok
}

// object reads {"key": value, ...}, calling field after each key's colon
// to read the value. The key is only valid during the call.
func (d *recipientDecoder) object(field func(key []byte) bool) bool {
	if !d.byte('{') {
		return false
	}
	if d.byte('}') {
		return true
	}
	for {
		key, plain, ok := d.rawString()
		if !ok || !plain || !d.byte(':') || !field(key) {
			return false
		}
		if d.byte('}') {
			return true
		}
		if !d.byte(',') {
			return false
		}
	}
}

// array reads [elem, ...], calling elem to read each element.
func (d *recipientDecoder) array(elem func() bool) bool {
	if !d.byte('[') {
		return false
	}
	if d.byte(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if d.byte(']') {
			return true
		}
		if !d.byte(',') {
			return false
		}
	}
}

// byte consumes c, after any whitespace, if it comes next.
func (d *recipientDecoder) byte(c byte) bool {
	d.space()
	if d.i < len(d.data) && d.data[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *recipientDecoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// end reports whether only whitespace is left.
func (d *recipientDecoder) end() bool {
	d.space()
	return d.i == len(d.data)
}

func (d *recipientDecoder) literal(word string) bool {
	d.space()
	if len(d.data)-d.i >= len(word) && string(d.data[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

func (d *recipientDecoder) null() bool { return d.literal("null") }

func (d *recipientDecoder) bool(b *bool) bool {
	switch {
	case d.literal("true"):
		*b = true
	case d.literal("false"):
		*b = false
	default:
		return false
	}
	return true
}

// uint reads a plain non-negative integer that fits in bits.
func (d *recipientDecoder) uint(bits int) (uint64, bool) {
	d.space()
	start := d.i
	for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
		d.i++
	}
	digits := d.data[start:d.i]
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	if d.i < len(d.data) && (d.data[d.i] == '.' || d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseUint(string(digits), 10, bits)
	return n, err == nil
}

// str reads a string. One with escapes or bytes that are not UTF-8 (a
// rare name or attribute) is decoded by json.Unmarshal, alone.
func (d *recipientDecoder) str(s *string) bool {
	start := d.i
	raw, plain, ok := d.rawString()
	switch {
	case !ok:
		return false
	case plain && utf8.Valid(raw):
		*s = string(raw)
		return true
	}
	d.space()
	return json.Unmarshal(d.data[start:d.i], s) == nil
}

// rawString reads a string and returns its contents as they stand, and
// whether they hold no escape sequence.
func (d *recipientDecoder) rawString() (raw []byte, plain, ok bool) {
	if !d.byte('"') {
		return nil, false, false
	}
	start, plain := d.i, true
	for d.i < len(d.data) {
		c := d.data[d.i]
		if c != '"' && c != '\\' && c >= 0x20 {
			d.i++
			continue
		}
		switch {
		case c == '"':
			d.i++
			return d.data[start : d.i-1], plain, true
		case c == '\\' && d.escape():
			plain = false
		default:
			return nil, false, false
		}
	}
	return nil, false, false
}

// escape steps over one well-formed escape sequence (RFC 8259 §7).
func (d *recipientDecoder) escape() bool {
	if d.i+1 >= len(d.data) {
		return false
	}
	switch d.data[d.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		d.i += 2
		return true
	case 'u':
		if d.i+6 > len(d.data) {
			return false
		}
		for _, h := range d.data[d.i+2 : d.i+6] {
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return false
			}
		}
		d.i += 6
		return true
	}
	return false
}

// maxSkipDepth bounds the nesting skip follows; deeper input goes to
// json.Unmarshal, which has its own limit.
const maxSkipDepth = 32

// skip steps over one well-formed JSON value of any kind.
func (d *recipientDecoder) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	d.space()
	if d.i >= len(d.data) {
		return false
	}
	switch c := d.data[d.i]; {
	case c == '{':
		return d.object(func([]byte) bool { return d.skip(depth + 1) })
	case c == '[':
		return d.array(func() bool { return d.skip(depth + 1) })
	case c == '"':
		_, _, ok := d.rawString()
		return ok
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.null()
	}
	return d.number()
}

// number steps over a number as RFC 8259 §6 writes it.
func (d *recipientDecoder) number() bool {
	digits := func() int {
		n := 0
		for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.data) && d.data[d.i] == '-' {
		d.i++
	}
	start := d.i
	if n := digits(); n == 0 || n > 1 && d.data[start] == '0' {
		return false
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return false
		}
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
