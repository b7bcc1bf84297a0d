package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"time"
)

// optional is a field of a partial update (PUT): absent leaves the value
// as it is, null clears it, anything else sets it. A plain pointer cannot
// tell null from absent: encoding/json leaves it nil for both.
type optional[T any] struct {
	set  bool // the field was in the body
	null bool // …as null
	v    T
}

// UnmarshalJSON records that the field was given, and its value. A value
// of the wrong type is a *json.UnmarshalTypeError, so that decodeJSON
// answers 422 naming the field; a time that does not parse is one too.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.set = true
	if bytes.Equal(b, []byte("null")) {
		o.null = true
		return nil
	}
	err := json.Unmarshal(b, &o.v)
	var typ *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &typ) {
		// time.Time's own error is a *time.ParseError, which would read as
		// malformed JSON; the body is valid JSON with a bad value.
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[T]()}
	}
	return err
}

// ptr is the value for a list.*Input field: nil when absent, the zero
// value when null (list treats a zero time as "no time").
func (o optional[T]) ptr() *T {
	if !o.set {
		return nil
	}
	if o.null {
		var zero T
		return &zero
	}
	v := o.v
	return &v
}

// jsonKind names the kind of a JSON value, as json.UnmarshalTypeError.Value
// does.
func jsonKind(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	switch b[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// wantType says what JSON a Go type takes, for 422 messages that must not
// show Go type names.
func wantType(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() || t == reflect.TypeFor[rfcTime]() {
		return `an RFC 3339 time such as "2026-04-01T08:00:00Z"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another value"
}
