package admin

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// TestUISubscribersNextPage follows the "Next page" link of a filtered
// search: page 2 keeps the filter and goes on after page 1.
func TestUISubscribersNextPage(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	ctx := t.Context()
	if _, err := u.svc.CreateList(ctx, list.List{Slug: "weekly", Name: "Weekly", OptIn: list.OptInSingle}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if _, err := u.svc.AddSubscriber(ctx, list.NewSubscriber{Email: fmt.Sprintf("w%02d@example.com", i), Lists: []string{"weekly"},
			State: list.StateConfirmed, Reason: "test"}, list.HowAdmin, list.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	// Others that page 2 of the filtered search must not show.
	for i := range 5 {
		u.svc.AddSubscriber(ctx, list.NewSubscriber{Email: fmt.Sprintf("other%d@example.com", i), Lists: []string{"newsletter"}}, list.HowAdmin, list.Origin{})
	}
	s := u.login("ed")
	_, body := s.get("/admin/subscribers?list=weekly&state=confirmed")
	m := regexp.MustCompile(`href="([^"]*)" rel="next"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no next link in\n%s", body)
	}
	next := html.UnescapeString(m[1])
	if !strings.HasPrefix(next, "/admin/subscribers?") || !strings.Contains(next, "list=weekly") || !strings.Contains(next, "state=confirmed") || !strings.Contains(next, "after=") {
		t.Fatalf("next link = %q", next)
	}
	res, body := s.get(next)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("page 2 = %d", res.StatusCode)
	}
	if n := strings.Count(body, `<th scope="row">`); n != 10 {
		t.Errorf("page 2 rows = %d, want 10", n)
	}
	if strings.Contains(body, "w00@example.com") || !strings.Contains(body, "w59@example.com") || strings.Contains(body, "other0@") {
		t.Errorf("page 2 is not the rest of the filtered search:\n%s", body)
	}
}

// TestUISearchWholeAddress: a search for a whole address keeps the list
// and state filters, and a partial address that looks whole still matches
// as a prefix.
func TestUISearchWholeAddress(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	ctx := t.Context()
	if _, err := u.svc.CreateList(ctx, list.List{Slug: "events", Name: "Events", OptIn: list.OptInSingle}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.svc.AddSubscriber(ctx, list.NewSubscriber{Email: "s18@example.com", Lists: []string{"newsletter"},
		State: list.StateConfirmed, Reason: "test"}, list.HowAdmin, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	s := u.login("ed")
	for q, want := range map[string]string{
		"q=s18@example.com":                             "1 matching",
		"q=s18@example.c":                               "1 matching",
		"q=S18@Example.com&list=newsletter":             "1 matching",
		"q=s18@example.com&list=events&state=confirmed": "0 matching",
		"q=s18@example.com&state=unsubscribed":          "0 matching",
	} {
		if _, body := s.get("/admin/subscribers?" + q); !strings.Contains(body, want) {
			t.Errorf("?%s: want %q in\n%s", q, want, body)
		}
	}
	// The API's ?email= applies them too.
	items, total, _, err := u.svc.SearchSubscribers(ctx, list.SearchRequest{Email: "s18@example.com", List: "events"})
	if err != nil || total != 0 || len(items) != 0 {
		t.Errorf("email search filtered by a list they are not on: total %d, %d items, %v", total, len(items), err)
	}
}

// TestUICampaignLayoutNeedsBody refuses a campaign layout whose HTML or
// text part leaves out {{.Body}}, as the system mail layout does: 422,
// the input kept, nothing stored.
func TestUICampaignLayoutNeedsBody(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	for _, tc := range []struct {
		name, html, text, want string
	}{
		{"both", "<html><body><p>Only my header</p></body></html>", "Only text header", "The HTML part of the layout leaves out"},
		{"html", "<html><body><p>Only my header</p></body></html>", customLayoutText, "The HTML part of the layout leaves out"},
		{"text", customLayoutHTML, "Only text header", "The text part of the layout leaves out"},
	} {
		res, body := s.post("/admin/layout", url.Values{"html": {tc.html}, "text": {tc.text}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) ||
			!strings.Contains(body, html.EscapeString(tc.text)) || !strings.Contains(body, "Only my header") && tc.name != "text" {
			t.Errorf("%s: save = %d, want 422 saying %q with the input kept\n%s", tc.name, res.StatusCode, tc.want, body)
		}
		if info, _ := u.svc.CampaignLayout(t.Context()); info.Custom {
			t.Fatalf("%s: the refused layout was stored", tc.name)
		}
	}
}

// TestUINewCampaignNoListTicked: the compose form starts with no list
// ticked, so ticking one list sends to that list only.
func TestUINewCampaignNoListTicked(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	res, body := s.get("/admin/campaigns/new")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="l-newsletter"`) {
		t.Fatalf("compose form = %d\n%s", res.StatusCode, body)
	}
	if regexp.MustCompile(`name="lists" value="[^"]*" checked`).MatchString(body) {
		t.Errorf("a list is ticked on a new campaign:\n%s", body)
	}
}

// TestUINewCampaignFindingsWait: only the new campaign's empty form asks
// the live preview to keep the pre-send check's findings until the author
// types (admin.js; the browser test sees it); a form sent back with an
// error, and a saved draft, show them at once.
func TestUINewCampaignFindingsWait(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	if _, body := s.get("/admin/campaigns/new"); !strings.Contains(body, "data-findings-later") {
		t.Errorf("the new campaign's form shows the findings at once:\n%s", body)
	}
	res, body := s.post("/admin/campaigns", url.Values{"subject": {"Hi"}, "body": {"Hello"}, "format": {"markdown"}, "send_at": {"soon"}})
	if res.StatusCode != http.StatusUnprocessableEntity || strings.Contains(body, "data-findings-later") {
		t.Errorf("a refused new campaign = %d, keeps its findings back:\n%s", res.StatusCode, body)
	}
	res, _ = s.post("/admin/campaigns", url.Values{"subject": {"Hi"}, "body": {"Hello"}, "format": {"markdown"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create = %d", res.StatusCode)
	}
	if _, body := s.get(res.Header.Get("Location")); !strings.Contains(body, `id="compose"`) || strings.Contains(body, "data-findings-later") {
		t.Errorf("a saved draft keeps its findings back:\n%s", body)
	}
}

// TestUISubscriberEditKeepsInput: a refused edit shows the form again
// with what was typed, not the stored values.
func TestUISubscriberEditKeepsInput(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	v, err := u.svc.AddSubscriber(t.Context(), list.NewSubscriber{Email: "ann@example.com", Name: "Ann", Attributes: map[string]string{"city": "Berlin"},
		Lists: []string{"newsletter"}, State: list.StateConfirmed, Reason: "test"}, list.HowAdmin, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	s := u.login("ed")
	page := fmt.Sprintf("/admin/subscribers/%d", v.ID)
	res, body := s.post(page, url.Values{"name": {"Ann Typed"}, "attributes": {"city=Paris\nbadline"}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad attributes = %d", res.StatusCode)
	}
	if !strings.Contains(body, `value="Ann Typed"`) || !strings.Contains(body, "city=Paris\nbadline</textarea>") {
		t.Errorf("the typed input is not kept:\n%s", body)
	}
	if got, _ := u.svc.Subscriber(t.Context(), v.ID); got.Name != "Ann" {
		t.Errorf("a refused edit changed the name to %q", got.Name)
	}
}

// TestUISubscriberAttributesNameBadLines is the tester's report: a
// profile's attributes with bad lines were refused with "write one
// name=value per line" alone. The refusal names each bad line, by number
// and quoted, with what is wrong with it, and what was typed stays.
func TestUISubscriberAttributesNameBadLines(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	v, err := u.svc.AddSubscriber(t.Context(), list.NewSubscriber{Email: "ann@example.com", Name: "Ann", Attributes: map[string]string{"city": "Berlin"},
		Lists: []string{"newsletter"}, State: list.StateConfirmed, Reason: "test"}, list.HowAdmin, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	s := u.login("ed")
	page := fmt.Sprintf("/admin/subscribers/%d", v.ID)
	for _, c := range []struct{ attrs, want string }{
		{"city=Paris\nnonsense line\n=novalue\ncolor=blue",
			"attributes: write one name=value per line; line 2 “nonsense line” has no “=”, line 3 “=novalue” has no name before “=”"},
		{"city=Paris\r\n\r\ncolor=blue\r\ncity = Rome\r\n",
			"attributes: write one name=value per line; line 4 “city = Rome” gives “city” again (line 1 gives it)"},
		{"<b>\x01" + strings.Repeat("x", 60) + "\n1\n2\n3\n4\n5\n6",
			"attributes: write one name=value per line; line 1 “&lt;b&gt;�" + strings.Repeat("x", 36) + "…” has no “=”, line 2 “1” has no “=”, line 3 “2” has no “=”, line 4 “3” has no “=”, line 5 “4” has no “=”, and 2 more"},
	} {
		res, body := s.post(page, url.Values{"name": {"Ann"}, "attributes": {c.attrs}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, c.want) {
			t.Errorf("attributes %q = %d, want 422 with %q:\n%s", c.attrs, res.StatusCode, c.want, body)
		}
	}
	if got, _ := u.svc.Subscriber(t.Context(), v.ID); got.Attributes["city"] != "Berlin" || len(got.Attributes) != 1 {
		t.Errorf("a refused edit changed the attributes to %v", got.Attributes)
	}
}

func TestFormatETA(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		secs float64
		want string
	}{{0, ""}, {-1, ""}, {42, "about 42 s left"}, {185, "about 3 min left"}, {3600 + 25*60, "about 1 h 25 min left"}} {
		if got := formatETA(tc.secs); got != tc.want {
			t.Errorf("formatETA(%v) = %q, want %q", tc.secs, got, tc.want)
		}
	}
}

// TestUIPatternsValidWithV: browsers compile pattern attributes with the
// RegExp v flag, where a literal "-" (and other syntax characters) in a
// character class must be escaped; an invalid pattern checks nothing.
func TestUIPatternsValidWithV(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("root")
	classRE := regexp.MustCompile(`\[(?:\\.|[^\]\\])*\]`)
	for _, p := range []string{"/admin/lists/new", "/admin/lists/newsletter", "/admin/subscribers/new", "/admin/campaigns/new", "/admin/users", "/admin/settings", "/admin/account"} {
		_, body := s.get(p)
		for _, m := range regexp.MustCompile(`pattern="([^"]*)"`).FindAllStringSubmatch(body, -1) {
			pat := html.UnescapeString(m[1])
			for _, class := range classRE.FindAllString(pat, -1) {
				inner := class[1 : len(class)-1]
				// Outside escapes, v mode refuses a "-" that is not between two
				// class members, and the reserved double punctuators.
				plain := regexp.MustCompile(`\\.`).ReplaceAllString(inner, "x")
				if strings.HasPrefix(plain, "-") || strings.HasSuffix(plain, "-") || strings.Contains(plain, "--") || strings.ContainsAny(plain, "()[{}/|") {
					t.Errorf("%s: pattern %q is invalid with the v flag (class %s)", p, pat, class)
				}
			}
		}
	}
}

// TestUIAuditLinkedAndFavicon: admins reach the audit log from the
// navigation, its paging link points forward in time (it is oldest
// first), and pages name an icon so browsers do not ask for a missing
// /favicon.ico.
func TestUIAuditLinkedAndFavicon(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	root, ed := u.login("root"), u.login("ed")
	if _, body := root.get("/admin/"); !strings.Contains(body, `href="/admin/audit"`) || !strings.Contains(body, `rel="icon"`) {
		t.Errorf("the admin navigation lacks the audit log or the page lacks an icon:\n%s", body)
	}
	if _, body := ed.get("/admin/"); strings.Contains(body, `href="/admin/audit"`) {
		t.Error("an editor is shown the audit log link")
	}
	for i := range 120 {
		u.svc.RecordAudit(t.Context(), list.Origin{User: "root"}, "test.action", fmt.Sprint(i))
	}
	// Newest first: the last action is the first row, and the page links
	// to the older entries, which link back to the newest.
	_, body := root.get("/admin/audit")
	first, last := strings.Index(body, "<td>119</td>"), strings.Index(body, "<td>20</td>")
	if first < 0 || last < first || strings.Contains(body, "<td>19</td>") || strings.Contains(body, "Newest entries") {
		t.Errorf("audit page does not show entries 119 down to 20 alone:\n%s", body)
	}
	i := strings.Index(body, `href="/admin/audit?before=`)
	if i < 0 {
		t.Fatalf("audit page lacks the link to older entries:\n%s", body)
	}
	link := body[i+len(`href="`):]
	link = link[:strings.IndexByte(link, '"')]
	_, body = root.get(html.UnescapeString(link))
	if !strings.Contains(body, "<td>19</td>") || !strings.Contains(body, "<td>0</td>") || strings.Contains(body, "<td>20</td>") ||
		strings.Contains(body, "Older entries") || !strings.Contains(body, `href="/admin/audit">Newest entries`) {
		t.Errorf("older audit page (%s):\n%s", link, body)
	}
	if _, body := root.get("/admin/audit?before=1"); !strings.Contains(body, "No older entries.") || strings.Contains(body, "No admin action is recorded yet") {
		t.Errorf("audit page past the oldest entry:\n%s", body)
	}
	if res, _ := root.get("/admin/audit?before=x"); res.StatusCode != 422 {
		t.Errorf("audit page with a bad cursor = %d, want 422", res.StatusCode)
	}
	if _, body := u.do(httptest.NewRequest("GET", "/subscribe/newsletter", nil)); !strings.Contains(body, `rel="icon"`) {
		t.Error("the public page lacks an icon")
	}
}

// TestConsentRecordByEditor: a consent an editor recorded (an import, an
// addition) reads as theirs on the subscriber's page, its consent text as
// the list's at the time, not as shown to the person; a sign-up through
// the form shows the text shown.
func TestConsentRecordByEditor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	text := "Yes, send me the newsletter."
	if _, err := e.svc.UpdateList(ctx, "newsletter", list.ListPatch{ConsentText: &text}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	added, err := e.svc.AddSubscriber(ctx, list.NewSubscriber{Email: "met@example.com", Lists: []string{"newsletter"}, State: list.StateConfirmed,
		Reason: "met at the fair"}, list.HowAdmin, list.Origin{User: "root", IP: "192.0.2.7", UserAgent: "EditorBrowser/1"})
	if err != nil {
		t.Fatal(err)
	}
	e.confirmed("form@example.com")
	byForm := e.subscriber("form@example.com")
	e.addUser("root", list.RoleAdmin)
	b := e.browser()
	b.login(t, "root", "root-password")
	_, page := b.do(httptest.NewRequest("GET", fmt.Sprintf("/admin/subscribers/%d", added.ID), nil))
	consent := page[strings.Index(page, "Consent records"):]
	if !strings.Contains(consent, "Recorded by an editor") || !strings.Contains(consent, "192.0.2.7") || strings.Contains(consent, "Text shown") ||
		!strings.Contains(consent, "The list's consent text then") || strings.Contains(consent, "<dt>Given</dt>") || !strings.Contains(consent, "as the editor recorded it") {
		t.Errorf("an editor's consent record reads as the person's:\n%s", consent)
	}
	_, page = b.do(httptest.NewRequest("GET", fmt.Sprintf("/admin/subscribers/%d", byForm.ID), nil))
	consent = page[strings.Index(page, "Consent records"):]
	if !strings.Contains(consent, "<dt>Given</dt>") || !strings.Contains(consent, "Text shown") || !strings.Contains(consent, text) || !strings.Contains(consent, "by the person, from") {
		t.Errorf("a form sign-up's consent record lacks the text shown or the confirmation:\n%s", consent)
	}
}
