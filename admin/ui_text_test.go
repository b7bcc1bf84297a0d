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

// TestUIFormLimitsInCharacters is the tester's report: 1500 × "€" passes
// the description's maxlength="2000" and was refused as "longer than 2000
// bytes". Every form's limit is counted in characters, as its maxlength
// shows it, and its message says characters.
func TestUIFormLimitsInCharacters(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	ctx := t.Context()
	s := u.login("ed")
	euros := func(n int) string { return strings.Repeat("€", n) }
	res, _ := s.post("/admin/lists", url.Values{"slug": {"friends"}, "name": {euros(200)}, "description": {euros(1500)},
		"consent_text": {euros(4000)}, "confirm_text": {euros(20000)}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a list within its limits in characters = %d, want 303", res.StatusCode)
	}
	if l, err := u.svc.ListBySlug(ctx, "friends"); err != nil || l.Description != euros(1500) {
		t.Fatalf("friends: %v, description of %d bytes", err, len(l.Description))
	}
	for _, c := range []struct {
		field string
		n     int
		want  string
	}{
		{"description", 2001, "the description of list others is longer than 2000 characters"},
		{"name", 201, "name is longer than 200 characters"},
	} {
		form := url.Values{"slug": {"others"}, "name": {"Others"}}
		form.Set(c.field, euros(c.n))
		if res, html := s.post("/admin/lists", form); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(html, c.want) {
			t.Errorf("%s of %d characters = %d, want 422 saying %q", c.field, c.n, res.StatusCode, c.want)
		}
	}
	res, html := s.post("/admin/campaigns", url.Values{"subject": {euros(400)}, "name": {euros(200)}, "lists": {"newsletter"}, "format": {"markdown"}, "body": {"Hi"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("a campaign within its limits in characters = %d:\n%s", res.StatusCode, html)
	}
	v, err := u.svc.AddSubscriber(ctx, list.NewSubscriber{Email: "ann@example.com", Name: euros(200), Attributes: map[string]string{"city": euros(500)},
		Lists: []string{"newsletter"}, State: list.StateConfirmed, Reason: euros(500)}, list.HowAdmin, list.Origin{})
	if err != nil {
		t.Fatalf("a subscriber within the limits in characters: %v", err)
	}
	// A copy of a campaign named with 200 characters is cut to 200
	// characters, on a character's boundary.
	cs, _, err := u.svc.Campaigns(ctx, 0, 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("campaigns: %v %v", cs, err)
	}
	cp, err := u.svc.CloneCampaign(ctx, cs[0].ID, list.Origin{})
	if err != nil || cp.Name != "Copy of "+euros(192) {
		t.Errorf("clone = %q, %v; want \"Copy of \" and 192 €", cp.Name, err)
	}
	if _, err := u.svc.PatchSubscriber(ctx, v.ID, list.SubscriberPatch{Attributes: &map[string]string{"city": euros(501)}}, list.Origin{}); err == nil ||
		!strings.Contains(err.Error(), "city is longer than 500 characters") {
		t.Errorf("an attribute of 501 characters: %v", err)
	}
}

// TestPublicFormLimitsInCharacters: the sign-up form takes a name and an
// attribute as long as their maxlength in characters, whatever their
// bytes, and refuses one character more, saying the limit.
func TestPublicFormLimitsInCharacters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.svc.UpdateList(t.Context(), "newsletter", list.ListPatch{Attributes: &[]string{"city"}}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, city string
		status     int
		want       string
	}{
		{strings.Repeat("é", 200), strings.Repeat("€", 500), http.StatusOK, ""},
		{strings.Repeat("é", 201), "Oslo", http.StatusUnprocessableEntity, "The name is too long: at most 200 characters."},
		{"Zoë", strings.Repeat("€", 501), http.StatusUnprocessableEntity, "is too long: at most 500 characters."},
	} {
		res, body := e.post("/subscribe/newsletter", url.Values{"email": {"z@example.com"}, "name": {c.name}, "attr.city": {c.city}})
		if res.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("name of %d bytes, city of %d = %d, want %d with %q", len(c.name), len(c.city), res.StatusCode, c.status, c.want)
		}
	}
	if v := e.subscriber("z@example.com"); v.Name != strings.Repeat("é", 200) {
		t.Errorf("name = %q", v.Name)
	}
}
