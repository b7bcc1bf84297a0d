package admin

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/list/logtest"
)

// TestAPISubscriberLists: an editor puts an existing subscriber on lists
// and takes them off one through the API; both answer the subscriber as
// GET does, and asking twice changes nothing.
func TestAPISubscriberLists(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	var s subscriberJSON
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"amy@example.com","lists":["newsletter"],"state":"confirmed","reason":"paper form"}`, 201, &s)
	for _, slug := range []string{"weekly", "daily"} {
		e.call("POST", "/api/v1/lists", "ed", fmt.Sprintf(`{"slug":%q,"name":%q}`, slug, slug), 201, nil)
	}
	lists := fmt.Sprintf("/api/v1/subscribers/%d/lists", s.ID)

	var got, again subscriberJSON
	e.call("POST", lists, "ed", `{"lists":["weekly"],"state":"confirmed","reason":"asked by phone"}`, 200, &got)
	weekly := subscriptionOf(t, got, "weekly")
	if weekly.State != list.StateConfirmed || weekly.ConfirmedAt == nil || weekly.Consent == nil ||
		weekly.Consent.Source != "api" || weekly.Consent.Reason != "asked by phone" || len(got.Events) == 0 {
		t.Fatalf("weekly = %+v consent %+v, events %d", weekly, weekly.Consent, len(got.Events))
	}
	e.call("POST", lists, "ed", `{"lists":["weekly"],"state":"confirmed","reason":"asked again"}`, 200, &again)
	if len(again.Events) != len(got.Events) || subscriptionOf(t, again, "weekly").Consent.Reason != "asked by phone" {
		t.Errorf("a second confirmed addition changed the subscriber: %d events, was %d", len(again.Events), len(got.Events))
	}
	e.call("POST", lists, "ed", `{"lists":["daily"],"state":"unconfirmed"}`, 200, &got)
	if ms := e.drain(); len(ms) != 1 || ms[0].Kind != list.MailConfirm || ms[0].List.Slug != "daily" || subscriptionOf(t, got, "daily").State != list.StateUnconfirmed {
		t.Errorf("an unconfirmed addition mailed %d messages, want daily's confirmation", len(ms))
	}

	var er apiErr
	for _, c := range []struct {
		path, body string
		want       int
	}{
		{lists, `{"lists":["weekly"],"state":"confirmed"}`, 422},
		{lists, `{"lists":["nope"]}`, 422},
		{lists, `{"lists":[]}`, 422},
		{lists, `{"list":["weekly"]}`, 422}, // an unknown field
		{"/api/v1/subscribers/999999/lists", `{"lists":["weekly"]}`, 404},
	} {
		e.call("POST", c.path, "ed", c.body, c.want, &er)
	}
	if res, _ := e.do(apiReq("POST", lists, "", `{"lists":["weekly"]}`)); res.StatusCode != 401 {
		t.Errorf("without credentials = %d", res.StatusCode)
	}

	// DELETE answers 204, as every DELETE of the API does; the
	// subscription stays, unsubscribed, as GET shows.
	e.call("DELETE", lists+"/weekly?reason=asked+by+mail", "ed", nil, 204, nil)
	e.call("GET", lists[:strings.LastIndex(lists, "/lists")], "ed", nil, 200, &got)
	weekly = subscriptionOf(t, got, "weekly")
	last := got.Events[len(got.Events)-1]
	if weekly.State != list.StateUnsubscribed || weekly.UnsubscribedAt == nil || weekly.Consent == nil || weekly.Consent.Reason != "asked by phone" ||
		last.Kind != list.EventUnsubscribed || last.How != list.HowAPI || last.List != "weekly" || last.Detail != "by an editor: asked by mail" {
		t.Errorf("after DELETE: %+v consent %+v, last event %+v", weekly, weekly.Consent, last)
	}
	e.call("DELETE", lists+"/weekly", "ed", nil, 204, nil)
	e.call("GET", lists[:strings.LastIndex(lists, "/lists")], "ed", nil, 200, &again)
	if len(again.Events) != len(got.Events) {
		t.Errorf("a second DELETE recorded %d events", len(again.Events)-len(got.Events))
	}
	for _, path := range []string{lists + "/nope", "/api/v1/subscribers/999999/lists/weekly"} {
		e.call("DELETE", path, "ed", nil, 404, &er)
	}
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"bo@example.com","lists":["newsletter"]}`, 201, &s)
	e.call("DELETE", fmt.Sprintf("/api/v1/subscribers/%d/lists/weekly", s.ID), "ed", nil, 404, &er)
	if !strings.Contains(er.Error, "not found") {
		t.Errorf("DELETE from a list they are not on: %q", er.Error)
	}
}

// TestAPIStateFilterTotal: a state filter without a list, or a search
// with filters, answers the number of subscribers it matches on every
// page, each person once, as the collection contract says.
func TestAPIStateFilterTotal(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"weekly","name":"Weekly"}`, 201, nil)
	for i, lists := range []string{`["newsletter","weekly"]`, `["weekly"]`, `["newsletter"]`} {
		e.call("POST", "/api/v1/subscribers", "ed", fmt.Sprintf(`{"email":"p%d@example.com","lists":%s,"state":"confirmed","reason":"test"}`, i, lists), 201, nil)
	}
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"u@example.com","lists":["weekly"]}`, 201, nil)
	var pg page[subscriberJSON]
	e.call("GET", "/api/v1/subscribers?state=confirmed&limit=1", "ed", nil, 200, &pg)
	if pg.Total != 3 || len(pg.Items) != 1 || pg.Next == nil {
		t.Errorf("confirmed, first page: total %d, %d items, next %v; want 3, 1 and a cursor", pg.Total, len(pg.Items), pg.Next)
	}
	for _, q := range []string{fmt.Sprintf("state=confirmed&limit=1&after=%d", *pg.Next), "q=p&state=confirmed&limit=1", "q=p&list=weekly&limit=1"} {
		var later page[subscriberJSON]
		e.call("GET", "/api/v1/subscribers?"+q, "ed", nil, 200, &later)
		if want := map[bool]int{true: 2, false: 3}[strings.Contains(q, "weekly")]; later.Total != want {
			t.Errorf("?%s: total %d, want %d", q, later.Total, want)
		}
	}
}

// subscriptionOf is s's subscription to slug; the test fails without one.
func subscriptionOf(t *testing.T, s subscriberJSON, slug string) subscriptionJSON {
	t.Helper()
	for _, sub := range s.Subscriptions {
		if sub.List == slug {
			return sub
		}
	}
	t.Fatalf("%s is not on %s: %+v", s.Email, slug, s.Subscriptions)
	return subscriptionJSON{}
}

// TestAPIEventsSayAPI: a profile edit, a blocklisting and an export made
// through the API are recorded as such in the subscriber's history, not
// as the admin UI's.
func TestAPIEventsSayAPI(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	id := e.confirmed("ann@example.com").Subscriber.ID
	path := fmt.Sprintf("/api/v1/subscribers/%d", id)
	e.call("PUT", path, "ed", `{"name":"Ann B.","blocklisted":true}`, 200, nil)
	e.call("GET", path+"/export", "ed", nil, 200, nil)
	want := map[list.EventKind]bool{list.EventProfileChanged: false, list.EventBlocklisted: false, list.EventExported: false}
	for _, ev := range e.events(id) {
		if _, ok := want[ev.Kind]; ok {
			want[ev.Kind] = true
			if ev.How != list.HowAPI {
				t.Errorf("%s event how = %q, want api", ev.Kind, ev.How)
			}
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no %s event", k)
		}
	}
}

// TestProgressRequestsLoggedAtDebug: a campaign page's progress stream,
// opened again every few seconds, is logged at the debug level, and other
// requests at info.
func TestProgressRequestsLoggedAtDebug(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	e := newEnv(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	e.addUser("ed", list.RoleEditor)
	name, subj, body := "c", "S", "<p>x</p>"
	c, err := e.svc.CreateCampaign(t.Context(), list.CampaignInput{Name: &name, Subject: &subj, Body: &body}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := e.do(apiReq("GET", fmt.Sprintf("/api/v1/campaigns/%d/progress", c.ID), "ed", nil)); res.StatusCode != 200 {
		t.Fatalf("progress = %d", res.StatusCode)
	}
	e.call("GET", "/api/v1/lists", "ed", nil, 200, nil)
	got := logs.String()
	if strings.Contains(got, "/progress") || !strings.Contains(got, "route=/api/v1/lists") {
		t.Errorf("request log at info:\n%s", got)
	}
}
