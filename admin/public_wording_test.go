package admin

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bulletin/bulletin/list"
)

// TestCheckInboxByOptIn: the answer to a sign-up follows the list's opt-in
// mode, which is public, and nothing else: on a single opt-in list it asks
// no one to confirm, and it is the same for a new, a pending and a
// confirmed address.
func TestCheckInboxByOptIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.CreateList(ctx, list.List{Slug: "single", Name: "Single Opt", OptIn: list.OptInSingle, Public: true, Welcome: true}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	post := func(slug, email string) string {
		t.Helper()
		res, body := e.post("/subscribe/"+slug, url.Values{"email": {email}})
		if res.StatusCode != 200 {
			t.Fatalf("sign-up of %s to %s = %d\n%s", email, slug, res.StatusCode, body)
		}
		return body
	}
	fresh := post("single", "s1@example.org")
	if strings.Contains(fresh, "follow the link to confirm") || !strings.Contains(fresh, "welcome message") {
		t.Errorf("single opt-in answer asks to confirm, or promises no welcome:\n%s", fresh)
	}
	if msgs := e.drain(); len(msgs) != 1 || msgs[0].Kind != list.MailWelcome {
		t.Fatalf("single opt-in mails = %+v, want a welcome", msgs)
	}
	// A suppressed address is asked to confirm (pending), a confirmed one
	// gets nothing: the same answer for both, and for a new address.
	e.confirmed("s2@example.org")
	if _, err := e.svc.Suppress(ctx, "s2@example.org", "test", list.Origin{}); err != nil {
		t.Fatal(err)
	}
	pending := post("single", "s2@example.org")
	if st := e.state("s2@example.org", "single"); st != list.StateUnconfirmed {
		t.Fatalf("suppressed sign-up to single = %s, want unconfirmed", st)
	}
	if confirmed := post("single", "s1@example.org"); confirmed != fresh || pending != fresh {
		t.Error("single opt-in answers differ between a new, a pending and a confirmed address")
	}
	// A double opt-in list asks to confirm, and says how long to wait
	// before trying again: a second try sooner sends nothing.
	double := post("newsletter", "d1@example.org")
	if !strings.Contains(double, "follow the link to confirm") || !strings.Contains(double, "5 minutes") || strings.Contains(double, "after a few minutes") {
		t.Errorf("double opt-in answer:\n%s", double)
	}
}

// TestRateLimitPageSaysTheWait: the 429 page asks for the wait its
// Retry-After gives, not "a few minutes".
func TestRateLimitPageSaysTheWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for range 10 {
		e.post("/subscribe/newsletter", url.Values{"email": {"nope"}}) // refused ones count too
	}
	e.advance(32 * time.Second)
	res, body := e.post("/subscribe/newsletter", url.Values{"email": {"rl@example.org"}})
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "28" {
		t.Fatalf("11th sign-up = %d, Retry-After %q; want 429 after 28 s", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if !strings.Contains(body, "wait 28 seconds") || strings.Contains(body, "few minutes") {
		t.Errorf("the 429 page does not say the wait of its Retry-After (28 s):\n%s", body)
	}
}

func TestWaitWords(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "1 second"}, {time.Second, "1 second"}, {1500 * time.Millisecond, "2 seconds"}, {28 * time.Second, "28 seconds"},
		{time.Minute, "1 minute"}, {61 * time.Second, "2 minutes"}, {5 * time.Minute, "5 minutes"},
	} {
		if got := waitWords(c.d); got != c.want {
			t.Errorf("waitWords(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

// TestPublicFormWording: the public forms word their refusals for a
// person at a web form: no import advice, the input as typed, and no "�"
// for a line break.
func TestPublicFormWording(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.svc.UpdateList(t.Context(), "newsletter", list.ListPatch{Attributes: &[]string{"city"}}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	w := e.confirmed("words@example.org")
	manage := pathOf(w.ManageURL)
	cases := []struct {
		name, path string
		form       url.Values
		want       string
	}{
		{"name not UTF-8", "/subscribe/newsletter", url.Values{"email": {"ok@example.org"}, "name": {"\xff\xfe"}}, "The name contains characters that are not text. Please type it again."},
		{"attribute not UTF-8", "/subscribe/newsletter", url.Values{"email": {"ok@example.org"}, "attr.city": {"\xff"}}, "The field “City” contains characters that are not text."},
		{"manage name not UTF-8", manage, url.Values{"action": {"save"}, "name": {"\xff\xfe"}, "list": {"newsletter"}}, "The name contains characters that are not text."},
		{"role address", "/subscribe/newsletter", url.Values{"email": {"postmaster@example.org"}}, "“postmaster@example.org” is a role address"},
		{"role address as typed", "/subscribe/newsletter", url.Values{"email": {"PostMaster@Example.org"}}, "“PostMaster@Example.org” is a role address"},
		{"line break", "/subscribe/newsletter", url.Values{"email": {"a@b.c\r\nBcc: x@y.z"}}, "An email address must be on one line."},
		{"manage line break", manage, url.Values{"action": {"email"}, "email": {"a@b.c\nBcc: x@y.z"}}, "An email address must be on one line."},
	}
	for _, c := range cases {
		res, body := e.post(c.path, c.form)
		if res.StatusCode != 422 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d, want 422 saying %q\n%s", c.name, res.StatusCode, c.want, body)
		}
		for _, bad := range []string{"save the file", "UTF-8", "�", "Postmaster@ is"} {
			if m := alertRE.FindStringSubmatch(body); m != nil && strings.Contains(m[1], bad) {
				t.Errorf("%s: the message says %q: %s", c.name, bad, m[1])
			}
		}
		// The page is UTF-8: a value that is not is asked for again, not
		// shown back as the bytes it was.
		if !utf8.ValidString(body) {
			t.Errorf("%s: the page shown again is not UTF-8", c.name)
		}
	}
}
