package admin

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// inputTag is the <input> with the id in body, or "".
func inputTag(body, id string) string {
	return regexp.MustCompile(`<input[^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(body)
}

// marked reports whether an input is tied to the page's error message
// and whether it takes the focus.
func marked(tag string) (invalid, focus bool) {
	invalid = strings.Contains(tag, `aria-invalid="true"`) && strings.Contains(tag, `aria-describedby="form-error"`)
	return invalid, strings.Contains(tag, " autofocus")
}

// TestRefusedFieldIsMarked: a refused form marks the field the refusal is
// about, and only that one, and puts the focus on it, on the sign-up form
// and on the preference page.
func TestRefusedFieldIsMarked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.svc.UpdateList(t.Context(), "newsletter", list.ListPatch{Attributes: &[]string{"city"}}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	ids := []string{"email", "name", "attr-city"}
	cases := []struct {
		name string
		path string
		form url.Values
		want string // the id of the field to mark
	}{
		{"sign-up, control character in the name", "/subscribe/newsletter", url.Values{"email": {"ok@example.org"}, "name": {"bad\x01name"}}, "name"},
		{"sign-up, long name", "/subscribe/newsletter", url.Values{"email": {"ok@example.org"}, "name": {strings.Repeat("n", 201)}}, "name"},
		{"sign-up, bad address", "/subscribe/newsletter", url.Values{"email": {"nope"}, "name": {"Ann"}}, "email"},
		{"sign-up, role address", "/subscribe/newsletter", url.Values{"email": {"postmaster@example.org"}}, "email"},
		{"sign-up, long attribute", "/subscribe/newsletter", url.Values{"email": {"ok@example.org"}, "attr.city": {strings.Repeat("c", 501)}}, "attr-city"},
		{"sign-up, control character in an attribute", "/subscribe/newsletter", url.Values{"email": {"ok@example.org"}, "attr.city": {"a\x02"}}, "attr-city"},
	}
	w := e.confirmed("mia@example.org")
	manage := pathOf(w.ManageURL)
	cases = append(cases, []struct {
		name string
		path string
		form url.Values
		want string
	}{
		{"manage, bad new address", manage, url.Values{"action": {"email"}, "email": {"nope"}}, "email"},
		{"manage, long name", manage, url.Values{"action": {"save"}, "name": {strings.Repeat("n", 300)}, "list": {"newsletter"}}, "name"},
		{"manage, control character in the name", manage, url.Values{"action": {"save"}, "name": {"a\x01"}, "list": {"newsletter"}}, "name"},
		{"manage, long attribute", manage, url.Values{"action": {"save"}, "name": {"Mia"}, "list": {"newsletter"}, "attr.city": {strings.Repeat("c", 501)}}, "attr-city"},
	}...)
	for _, c := range cases {
		res, body := e.post(c.path, c.form)
		if res.StatusCode != 422 || strings.Count(body, `id="form-error"`) != 1 {
			t.Errorf("%s: %d with %d messages, want 422 with one\n%s", c.name, res.StatusCode, strings.Count(body, `id="form-error"`), body)
			continue
		}
		for _, id := range ids {
			tag := inputTag(body, id)
			if tag == "" {
				continue // the manage page's email form has no attributes, and so on
			}
			invalid, focus := marked(tag)
			if want := id == c.want; invalid != want || focus != want {
				t.Errorf("%s: #%s marked %v, focused %v; want %v: %s", c.name, id, invalid, focus, want, tag)
			}
		}
	}
	// The message of a preference-page form is in that form, not at the
	// top of the page, far above the field.
	_, body := e.post(manage, url.Values{"action": {"email"}, "email": {"nope"}})
	if i, j := strings.Index(body, `id="form-error"`), strings.Index(body, `id="change-address"`); i < j {
		t.Errorf("the address form's message comes before the form's heading (%d < %d)", i, j)
	}
	// An untouched form marks nothing.
	_, body = e.get("/subscribe/newsletter")
	for _, id := range ids {
		if invalid, focus := marked(inputTag(body, id)); invalid || focus {
			t.Errorf("a fresh form marks #%s", id)
		}
	}
}
