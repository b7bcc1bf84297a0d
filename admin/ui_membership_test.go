package admin

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// membershipUI is a UI env with a second list, weekly, and ann confirmed on
// newsletter only; it answers the editor's session and ann's page.
func membershipUI(t *testing.T) (*uiEnv, *uiSession, string) {
	t.Helper()
	u := newUIEnv(t)
	if _, err := u.svc.CreateList(t.Context(), list.List{Slug: "weekly", Name: "The Weekly"}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	v, err := u.svc.AddSubscriber(t.Context(), list.NewSubscriber{Email: "ann@example.com", Lists: []string{"newsletter"},
		State: list.StateConfirmed, Reason: "signed at the fair"}, list.HowAdmin, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	return u, u.login("ed"), fmt.Sprintf("/admin/subscribers/%d", v.ID)
}

// addOptions are the lists the page's "Add to list" form offers.
func addOptions(t *testing.T, page string) []string {
	t.Helper()
	sel := regexp.MustCompile(`(?s)<select id="add-list" name="list" required>(.*?)</select>`).FindStringSubmatch(page)
	if sel == nil {
		return nil
	}
	var out []string
	for _, m := range regexp.MustCompile(`<option value="([^"]*)"`).FindAllStringSubmatch(sel[1], -1) {
		out = append(out, m[1])
	}
	return out
}

// TestUISubscriberLists: on a subscriber's page an editor adds them to a
// list they are not confirmed on and unsubscribes them from one; refused
// input shows the page again with what was typed.
func TestUISubscriberLists(t *testing.T) {
	t.Parallel()
	u, s, page := membershipUI(t)
	_, body := s.get(page)
	if got := addOptions(t, body); len(got) != 1 || got[0] != "weekly" {
		t.Errorf("the add form offers %q, want weekly only", got)
	}
	unsub := `action="` + page + `/lists/newsletter/unsubscribe"`
	if !strings.Contains(body, unsub) || !strings.Contains(body, `data-confirm="Unsubscribe ann@example.com from Newsletter?`) {
		t.Errorf("no Unsubscribe button asking first for newsletter:\n%s", body)
	}

	res, body := s.post(page+"/lists", url.Values{"list": {"weekly"}, "state": {"confirmed"}, "reason": {" "}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "needs a reason") ||
		!regexp.MustCompile(`id="add-c" name="state" value="confirmed" checked`).MatchString(body) ||
		!regexp.MustCompile(`id="add-reason"[^>]*aria-invalid="true" aria-describedby="page-error" autofocus`).MatchString(body) {
		t.Errorf("confirmed without a reason = %d, want 422 with the choice kept and the reason marked\n%s", res.StatusCode, body)
	}
	if v, _ := u.svc.Subscriber(t.Context(), u.subID(t, "ann@example.com")); len(v.Subscriptions) != 1 {
		t.Errorf("a refused addition changed the lists: %+v", v.Subscriptions)
	}
	if res, _ := s.do(formReq(page+"/lists", url.Values{"list": {"weekly"}})); res.StatusCode != http.StatusForbidden {
		t.Errorf("without the CSRF token = %d, want 403", res.StatusCode)
	}

	res, _ = s.post(page+"/lists", url.Values{"list": {"weekly"}, "state": {"unconfirmed"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add unconfirmed = %d", res.StatusCode)
	}
	outboxMail(t, u, "ann@example.com", "Please confirm your subscription to The Weekly")
	if _, body = s.get(res.Header.Get("Location")); !strings.Contains(body, "The subscription was saved") || !strings.Contains(body, page+"/lists/weekly/unsubscribe") {
		t.Errorf("after the addition the page lacks the notice or weekly's Unsubscribe:\n%s", body)
	}

	res, _ = s.post(page+"/lists/newsletter/unsubscribe", nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("unsubscribe = %d", res.StatusCode)
	}
	_, body = s.get(page)
	if strings.Contains(body, unsub) || !strings.Contains(body, "signed at the fair") || !strings.Contains(body, "by an editor") {
		t.Errorf("after unsubscribing: the button stays, or the consent or the event is missing:\n%s", body)
	}
	if got := addOptions(t, body); len(got) != 2 {
		t.Errorf("the add form offers %q, want both lists", got)
	}
	// Asked to rejoin, the list shows when they left and that the new
	// request awaits their confirmation.
	if res, _ := s.post(page+"/lists", url.Values{"list": {"newsletter"}, "state": {"unconfirmed"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add newsletter again = %d", res.StatusCode)
	}
	if _, body = s.get(page); !strings.Contains(body, "(left then; asked to rejoin, not confirmed yet)") {
		t.Errorf("a rejoin awaiting confirmation is not told apart:\n%s", body)
	}
	if res, _ := s.post(page+"/lists/nope/unsubscribe", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("unsubscribe from an unknown list = %d", res.StatusCode)
	}
}

// subID is the id of the subscriber with address email.
func (u *uiEnv) subID(t *testing.T, email string) list.SubscriberID {
	t.Helper()
	items, _, _, err := u.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: email})
	if err != nil || len(items) != 1 {
		t.Fatalf("subscriber %s: %d found, %v", email, len(items), err)
	}
	return items[0].ID
}

// TestUISubscriberListsAllConfirmed: a person confirmed on every list is
// offered no "Add to list" form.
func TestUISubscriberListsAllConfirmed(t *testing.T) {
	t.Parallel()
	_, s, page := membershipUI(t)
	if res, _ := s.post(page+"/lists", url.Values{"list": {"weekly"}, "state": {"confirmed"}, "reason": {"asked by phone"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add = %d", res.StatusCode)
	}
	if _, body := s.get(page); addOptions(t, body) != nil || strings.Contains(body, "Add to list") {
		t.Error("the add form shows for a person confirmed on every list")
	}
}

// TestUISubscribersStateCount: a state filter without a list says how many
// subscribers match, each once however many lists they are in it on.
func TestUISubscribersStateCount(t *testing.T) {
	t.Parallel()
	u, s, _ := membershipUI(t)
	for _, email := range []string{"bo@example.com", "cy@example.com"} {
		if _, err := u.svc.AddSubscriber(t.Context(), list.NewSubscriber{Email: email, Lists: []string{"newsletter", "weekly"},
			State: list.StateConfirmed, Reason: "test"}, list.HowAdmin, list.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, body := s.get("/admin/subscribers?state=confirmed"); !strings.Contains(body, "3 matching.") {
		t.Errorf("a state filter without a list shows no count of 3:\n%s", body)
	}
}

// TestUISearchExportPerSubscription: a search's export has the rows and
// columns of a list's, one row per subscription (docs/api.md, Export).
func TestUISearchExportPerSubscription(t *testing.T) {
	t.Parallel()
	u, s, _ := membershipUI(t)
	if _, err := u.svc.SubscribeToLists(t.Context(), u.subID(t, "ann@example.com"), list.ListAddition{Lists: []string{"weekly"},
		State: list.StateConfirmed, Reason: "asked by phone"}, list.HowAdmin, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	_, listFile := s.get("/admin/subscribers/export?list=weekly")
	res, searchFile := s.get("/admin/subscribers/export?q=ann")
	recs, err := csv.NewReader(strings.NewReader(searchFile)).ReadAll()
	if res.StatusCode != http.StatusOK || err != nil || len(recs) != 3 {
		t.Fatalf("search export = %d, %d records, %v:\n%s", res.StatusCode, len(recs), err, searchFile)
	}
	if header := strings.SplitN(listFile, "\n", 2)[0]; strings.Join(recs[0], ",") != header {
		t.Errorf("search export header %q, list export header %q", recs[0], header)
	}
	if recs[1][2] != "newsletter" || recs[2][2] != "weekly" || recs[2][10] != "asked by phone" {
		t.Errorf("search export rows = %q", recs[1:])
	}
	// Both exports are in the audit log, as the API's is.
	es, _, err := u.svc.Audit(t.Context(), 0, 1000)
	n := 0
	for _, e := range es {
		if e.Action == "export.csv" {
			n++
		}
	}
	if err != nil || n != 2 {
		t.Errorf("%d export.csv audit entries, %v; want 2", n, err)
	}
}
