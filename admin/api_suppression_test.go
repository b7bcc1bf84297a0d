package admin

import (
	"fmt"
	"net/url"
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

// TestAPISuppressionPages: the suppression list comes oldest first, in
// pages that follow the opaque cursor, each with the real total.
func TestAPISuppressionPages(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	e.confirmed("sub@example.org")
	var want []string
	for i := range 5 {
		email := fmt.Sprintf("p%d@example.org", i)
		if i == 2 {
			email = "sub@example.org" // a subscriber's entry is indexed too
		}
		e.call("POST", "/api/v1/suppression", "root", `{"email":"`+email+`"}`, 201, nil)
		want = append(want, email)
		e.advance(time.Minute)
	}
	type page struct {
		Items []suppressionEntry `json:"items"`
		Total int                `json:"total"`
		Next  *string            `json:"next"`
	}
	var one page
	e.call("GET", "/api/v1/suppression", "root", nil, 200, &one)
	if one.Total != 5 || one.Next != nil || len(one.Items) != 5 {
		t.Errorf("one page: total %d next %v, %d items; want 5, null, 5", one.Total, one.Next, len(one.Items))
	}
	var got []string
	path := "/api/v1/suppression?limit=2"
	for range 10 {
		var p page
		e.call("GET", path, "root", nil, 200, &p)
		if p.Total != 5 {
			t.Errorf("GET %s: total %d, want 5", path, p.Total)
		}
		for _, it := range p.Items {
			got = append(got, it.Email)
		}
		if p.Next == nil {
			break
		}
		path = "/api/v1/suppression?limit=2&after=" + url.QueryEscape(*p.Next)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pages = %v, want oldest first %v", got, want)
	}
	e.call("DELETE", "/api/v1/suppression?email=p0@example.org", "root", nil, 204, nil)
	e.call("GET", "/api/v1/suppression", "root", nil, 200, &one)
	if one.Total != 4 || len(one.Items) != 4 || one.Items[0].Email != "p1@example.org" {
		t.Errorf("after DELETE: total %d, items %+v", one.Total, one.Items)
	}
	e.call("GET", "/api/v1/suppression?after=zz", "root", nil, 422, nil)
}
