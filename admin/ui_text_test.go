package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// TestUIFormsRefuseNotUTF8 is the tester's report: web forms refused a
// value that is not UTF-8 with the import's advice to "save the file as
// UTF-8", and a campaign's body and text part were stored with "�" for
// each bad byte. Every form now refuses such a value with a message about
// the field alone, keeping the rest of what was typed, and changes nothing.
func TestUIFormsRefuseNotUTF8(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	ctx := t.Context()
	s := u.login("ed")
	v, err := u.svc.AddSubscriber(ctx, list.NewSubscriber{Email: "ann@example.com", Name: "Ann", Lists: []string{"newsletter"},
		State: list.StateConfirmed, Reason: "test"}, list.HowAdmin, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	subj, body, lists := "Spring", "Hello", []string{"newsletter"}
	c, err := u.svc.CreateCampaign(ctx, list.CampaignInput{Subject: &subj, Body: &body, Lists: &lists}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	campaign := func(body, text string) url.Values {
		return url.Values{"subject": {"Spring typed"}, "lists": {"newsletter"}, "format": {"markdown"}, "body": {body}, "text": {text}, "send_at": {""}}
	}
	for _, f := range []struct {
		name, path string
		form       url.Values
		msg, kept  string
	}{
		{"list name", "/admin/lists", url.Values{"slug": {"friends"}, "name": {"Bad\xff\xfeName"}, "description": {"Kept description"}},
			"name is not UTF-8 text", "Kept description"},
		{"list description", "/admin/lists", url.Values{"slug": {"friends"}, "name": {"Friends"}, "description": {"D\xe9j\xe0 vu"}},
			"the description of list friends is not UTF-8 text", `value="Friends"`},
		{"attribute", fmt.Sprintf("/admin/subscribers/%d", v.ID), url.Values{"name": {"Ann Typed"}, "attributes": {"city=S\xe3o Paulo"}},
			"city is not UTF-8 text", `value="Ann Typed"`},
		{"campaign body", fmt.Sprintf("/admin/campaigns/%d", c.ID), campaign("Hi\xff\xfe there", "Plain"),
			"body is not UTF-8 text", "Spring typed"},
		{"campaign text part", fmt.Sprintf("/admin/campaigns/%d", c.ID), campaign("Hi there", "Plain \xff"),
			"text part is not UTF-8 text", "Hi there"},
	} {
		res, html := s.post(f.path, f.form)
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(html, f.msg) || !strings.Contains(html, f.kept) {
			t.Errorf("%s = %d, want 422 saying %q and keeping %q:\n%s", f.name, res.StatusCode, f.msg, f.kept, html)
		}
		if strings.Contains(html, "save the file") {
			t.Errorf("%s: a web form's refusal speaks of a file", f.name)
		}
	}
	if _, err := u.svc.ListBySlug(ctx, "friends"); err == nil {
		t.Error("a refused list was created")
	}
	if got, _ := u.svc.Subscriber(ctx, v.ID); got.Name != "Ann" || len(got.Attributes) != 0 {
		t.Errorf("a refused edit changed the subscriber: %q %v", got.Name, got.Attributes)
	}
	if got, _ := u.svc.GetCampaign(ctx, c.ID); got.Subject != "Spring" || got.Body != "Hello" || got.Text != "" {
		t.Errorf("a refused edit changed the campaign: %q %q %q", got.Subject, got.Body, got.Text)
	}
}
