package admin

import (
	"strings"
	"testing"
	"time"
)

// suppressionEntry is an item of GET /api/v1/suppression.
type suppressionEntry struct {
	Email  string `json:"email"`
	Reason string `json:"reason"`
	How    string `json:"how"`
	At     string `json:"at"`
}

// TestAPISuppressDuplicate: suppressing an address twice is a 409 and the
// first entry (its time and reason) stays, for a subscriber and for an
// address nobody subscribed with.
func TestAPISuppressDuplicate(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	e.confirmed("ann@example.org")
	for _, email := range []string{"ann@example.org", "nobody@example.org"} {
		var first suppressionEntry
		e.call("POST", "/api/v1/suppression", "root", `{"email":"`+email+`","reason":"first"}`, 201, &first)
		e.advance(time.Hour)
		var ae apiErr
		e.call("POST", "/api/v1/suppression", "root", `{"email":"`+email+`","reason":"second"}`, 409, &ae)
		if !strings.Contains(ae.Error, email) {
			t.Errorf("POST %s again: error %q, want it to name the address", email, ae.Error)
		}
		var p struct {
			Items []suppressionEntry `json:"items"`
		}
		e.call("GET", "/api/v1/suppression", "root", nil, 200, &p)
		found := false
		for _, it := range p.Items {
			if it.Email == email {
				found = true
				if it != first {
					t.Errorf("%s after a duplicate POST = %+v, want the first entry %+v", email, it, first)
				}
			}
		}
		if !found {
			t.Errorf("%s missing from the suppression list: %+v", email, p.Items)
		}
	}
}
