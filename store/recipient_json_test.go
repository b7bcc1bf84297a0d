package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// storedSubscriber is a subscriber named name as the store writes it:
// attributes, a consent proof with escapes, one confirmed and one left
// subscription.
func storedSubscriber(tb testing.TB, name string) []byte {
	tb.Helper()
	now := testTime
	r := list.Record{
		Subscriber: list.Subscriber{ID: 12345, Email: "Reader@Example.net", Identity: "reader@example.net", Name: name,
			Attributes: map[string]string{"city": "Zürich", "plan": "gold"}, CreatedAt: now, UpdatedAt: now, Nonce: 3, TrackOpens: true},
		Subscriptions: []list.Subscription{
			{List: 1, State: list.StateConfirmed, CreatedAt: now, ConfirmedAt: &now, Nonce: 7,
				Consent: &list.Consent{Source: "form", Text: "Yes, send me \"the letter\"\n", At: now, IP: "192.0.2.1",
					UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", ConfirmedAt: &now, ConfirmIP: "192.0.2.1", PrivacyURL: "https://example.com/privacy"}},
			{List: 2, State: list.StateUnsubscribed, CreatedAt: now, UnsubscribedAt: &now, Nonce: 9},
		},
	}
	v := toValue(&r)
	raw, err := appendSubscriber(nil, &v)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

func TestDecodeRecipientFastPath(t *testing.T) {
	t.Parallel()
	raw := storedSubscriber(t, "Ann Ünïcode")
	d := recipientDecoder{data: raw}
	got, ok := d.recipient()
	if !ok || !d.end() {
		t.Fatalf("the scanner left a stored subscriber to json.Unmarshal (stopped at byte %d of %s)", d.i, raw)
	}
	var want recipientValue
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodeRecipient = %+v\nwant            %+v", got, want)
	}
}

// FuzzDecodeRecipient holds decodeRecipient to json.Unmarshal: the same
// value, or an error whenever json.Unmarshal gives one.
//
//	go test -run '^$' -fuzz FuzzDecodeRecipient ./store/
func FuzzDecodeRecipient(f *testing.F) {
	f.Add(storedSubscriber(f, "Ann Ünïcode"))
	f.Add(storedSubscriber(f, "Ann \"Quote\" \\ \u2028"))
	for _, s := range []string{
		`{"id":1,"email":"a@b","attributes":null,"subscriptions":null}`,
		`{"id":1,"subscriptions":[],"attributes":{}}`,
		`{"id":1,"id":2}`,
		`{"ID":1,"Email":"x"}`,
		`{"id":01}`, `{"id":1e3}`, `{"id":-1}`, `{"nonce":4294967296}`,
		`{"name":"a\u00e9b"}`, `{"name":"\xff"}`, `{"created_at":"\xff"}`,
		`{"subscriptions":[{"list_id":1,"state":"confirmed","consent":{"text":"q\"","n":[1,-2.5e+3,true,null]}}]}`,
		`{"subscriptions":[null]}`, `{"attributes":{"a":"1","a":"2"}}`, `{"updated_at":[[[[]]]]}`,
		` { "id" : 7 } `, `{"id":7} x`, `null`, `{`, `{"id":7,}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want recipientValue
		gerr := decodeRecipient(data, &got)
		werr := json.Unmarshal(data, &want)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("decodeRecipient(%q) error %v, json.Unmarshal error %v", data, gerr, werr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeRecipient(%q) = %+v\njson.Unmarshal       %+v", data, got, want)
		}
	})
}

// BenchmarkDecodeRecipient compares the send-time read of a stored
// subscriber with json.Unmarshal of the same value.
//
//	go test -run '^$' -bench DecodeRecipient ./store/
func BenchmarkDecodeRecipient(b *testing.B) {
	for _, name := range []string{"Ann Ünïcode", "Ann \"Quote\""} {
		raw := storedSubscriber(b, name)
		b.Run(fmt.Sprintf("scanner/%q", name), func(b *testing.B) {
			for b.Loop() {
				var v recipientValue
				if err := decodeRecipient(raw, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("json/%q", name), func(b *testing.B) {
			for b.Loop() {
				var v recipientValue
				if err := json.Unmarshal(raw, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
