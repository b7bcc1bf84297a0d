package list

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers check them with errors.Is; the admin package maps
// them to HTTP statuses in one place.
var (
	// ErrNotFound means the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists means a thing with the same unique key already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid means the input is well-formed but its values are not valid.
	ErrInvalid = errors.New("invalid")
	// ErrInvalidToken means a token is forged, expired, of another purpose or stale.
	ErrInvalidToken = errors.New("invalid or expired link")
	// ErrBadTransition means a state change is not allowed from the current state.
	ErrBadTransition = errors.New("illegal state transition")
	// ErrSuppressed means the address is on the suppression list.
	ErrSuppressed = errors.New("address is suppressed")
	// ErrForbidden means the acting user may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized means the credentials are missing or wrong.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrLimited means a rate limit was hit.
	ErrLimited = errors.New("rate limited")
	// ErrStoreInUse means another process holds the store.
	ErrStoreInUse = errors.New("store in use: stop the server or use --server")
	// ErrSchemaTooNew means the store was written by a newer Bulletin.
	ErrSchemaTooNew = errors.New("store written by a newer version of bulletin")
	// ErrCorrupt means a store or backup file is cut short or damaged, so
	// that opening it could read past its end.
	ErrCorrupt = errors.New("store file truncated or damaged")
)

// reason is what a refusal says, without ErrInvalid's "invalid: " in front:
// the words to show where several refusals are put together, or where the
// import adds its own advice.
func reason(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")
}

// refusals gathers the refusals of one input, so that a form is answered
// with every reason at once rather than one a time.
type refusals []string

// add keeps err's reason; a nil err adds nothing.
func (r *refusals) add(err error) {
	if err != nil {
		*r = append(*r, reason(err))
	}
}

// err is one ErrInvalid naming every reason, or nil when there is none.
func (r refusals) err() error {
	if len(r) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(r, "; "))
}
