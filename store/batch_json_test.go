package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

// fillAll sets every exported field of v, recursively, to a value that
// json writes: a field added to a stored type without teaching
// appendSubscriber about it makes TestSubscriberJSON fail.
func fillAll(t *testing.T, v reflect.Value, s string) {
	t.Helper()
	at := time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("", 2*3600))
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(at))
		return
	case v.Kind() == reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(t, v.Elem(), s)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				fillAll(t, v.Field(i), s+"-"+f.Name)
			}
		}
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(len(s)))
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		v.SetUint(uint64(len(s)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Map:
		v.Set(reflect.ValueOf(map[string]string{"zeta": s, "alpha": "<b>&é\u2028\xff", "": "\x01\"\\"}))
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fillAll(t, v.Index(0), s+"0")
		fillAll(t, v.Index(1), s+"1")
	default:
		t.Fatalf("fillAll: no value for %s (%s)", s, v.Type())
	}
}

func TestSubscriberJSON(t *testing.T) {
	t.Parallel()
	var full subscriberValue
	fillAll(t, reflect.ValueOf(&full).Elem(), "x")
	confirmed := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]subscriberValue{
		"zero": {},
		"full": full,
		"import": toValue(&list.Record{
			Subscriber: list.Subscriber{ID: 42, Email: "Ann@Example.com", Identity: "ann@example.com", Name: "Ann O'Neil",
				Attributes: map[string]string{"city": "Zürich"}, CreatedAt: confirmed, UpdatedAt: confirmed, Nonce: 7},
			Subscriptions: []list.Subscription{{List: 1, State: list.StateConfirmed, CreatedAt: confirmed, ConfirmedAt: &confirmed,
				Consent: &list.Consent{Source: "import", Reason: "fair", At: confirmed, ConfirmedAt: &confirmed}}},
		}),
		"empty-subscriptions": {Subscriptions: []subscriptionValue{}},
		"far-year":            {Subscriber: list.Subscriber{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for name, v := range cases {
		want, wantErr := json.Marshal(&v)
		got, err := appendSubscriber(nil, &v)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Errorf("%s: appendSubscriber =\n%s, %v\nwant (json.Marshal)\n%s, %v", name, got, err, want, wantErr)
		}
	}
}

func TestEventJSON(t *testing.T) {
	t.Parallel()
	var full list.Event
	fillAll(t, reflect.ValueOf(&full).Elem(), "x")
	cases := map[string]list.Event{
		"zero": {},
		"full": full,
		"import": {ID: 9, Subscriber: 42, List: 1, Kind: list.EventConfirmed, How: list.HowImport,
			At: time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC), Detail: "fair"},
		"far-year": {At: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for name, e := range cases {
		want, wantErr := json.Marshal(&e)
		got, err := appendEvent(nil, &e)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Errorf("%s: appendEvent =\n%s, %v\nwant (json.Marshal)\n%s, %v", name, got, err, want, wantErr)
		}
	}
}

func TestSendRecordJSON(t *testing.T) {
	t.Parallel()
	var full list.SendRecord
	fillAll(t, reflect.ValueOf(&full).Elem(), "x")
	at := time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC)
	cases := map[string]list.SendRecord{
		"zero": {},
		"full": full,
		"sent": {Campaign: 3, Subscriber: 42, Outcome: list.OutcomeSent, MessageID: "<01KB2M3N4P5Q6R7S8T9V@news.example.com>",
			Attempts: 1, FirstTry: at, At: at},
		"deferred": {Campaign: 3, Subscriber: 43, Outcome: list.OutcomeDeferred, Code: 451, Status: "4.7.1",
			Detail: "try again later & \"soon\"", Attempts: 2, FirstTry: at, NextTry: &at, At: at},
		"far-year": {At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for name, r := range cases {
		want, wantErr := json.Marshal(&r)
		got, err := appendSendRecord(nil, &r)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Errorf("%s: appendSendRecord =\n%s, %v\nwant (json.Marshal)\n%s, %v", name, got, err, want, wantErr)
		}
	}
}

// FuzzAppendJSONString holds appendJSONString to json.Marshal.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<a@b>", "a&b", "q\"", "\\", "é", "\x00", "\u2028", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Fatalf("appendJSONString(%q) = %s, want x%s", s, got, want)
		}
	})
}
