package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

const sysLayoutHTML = `<!DOCTYPE html><html><body><div class="brand">SYS-LAYOUT-9</div>{{.Body}}
{{with .UnsubscribeURL}}<p><a href="{{.}}">Leave</a></p>{{end}}<p>{{lines .PostalAddress}}</p></body></html>`

const sysLayoutText = "SYS-TEXT-9\n\n{{.Body}}\n\n-- \n{{with .UnsubscribeURL}}Leave: {{.}}\n{{end}}{{.PostalAddress}}\n"

func storedSystemLayout(t *testing.T, u *uiEnv) list.LayoutInfo {
	t.Helper()
	info, err := u.svc.SystemLayout(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// outboxMail waits for a message to `to` whose subject contains subject
// in the outbox and returns it parsed.
func outboxMail(t *testing.T, u *uiEnv, to, subject string) shownMail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, _, err := u.svc.Outbox(t.Context(), 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if strings.Contains(m.To, to) && strings.Contains(m.Subject, subject) {
				raw, err := u.svc.OutboxMessage(t.Context(), m.Name)
				if err != nil {
					t.Fatal(err)
				}
				pm, err := parseMail(raw)
				if err != nil {
					t.Fatal(err)
				}
				return pm
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail %q to %s in the outbox: %+v", subject, to, msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func subscribe(t *testing.T, u *uiEnv, email string) {
	t.Helper()
	if err := u.svc.Subscribe(t.Context(), list.SubscribeRequest{List: "newsletter", Email: email, Name: "Sam", How: list.HowForm}); err != nil {
		t.Fatal(err)
	}
}

func TestUISystemLayoutSaveUsedByMails(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed") // editors may edit the layouts
	res, body := s.get("/admin/layout/system")
	if res.StatusCode != 200 || !strings.Contains(body, "max-width:640px") || !strings.Contains(body, "The built-in layout is in use") ||
		!strings.Contains(body, `action="/admin/layout/system"`) || !strings.Contains(body, "System mail layout") {
		t.Fatalf("system layout page = %d, want the built-in source\n%s", res.StatusCode, body)
	}
	checkPage(t, "/admin/layout/system", res, body)
	if res, body := s.get("/admin/layout/system/preview.html?kind=confirm"); res.StatusCode != 200 || !strings.Contains(body, "Confirm my subscription") ||
		res.Header.Get("Content-Security-Policy") != mailFrameCSP {
		t.Errorf("built-in preview = %d\n%s", res.StatusCode, body)
	}

	if res, _ := s.post("/admin/layout/system", url.Values{"html": {sysLayoutHTML}, "text": {sysLayoutText}}); res.StatusCode != http.StatusSeeOther ||
		res.Header.Get("Location") != "/admin/layout/system?done=layout-saved" {
		t.Fatalf("save = %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if info := storedSystemLayout(t, u); !info.Custom || info.HTML != sysLayoutHTML || info.Text != sysLayoutText || info.UpdatedBy != "ed" {
		t.Fatalf("stored = %+v", info)
	}
	if _, body := s.get("/admin/layout/system?done=layout-saved"); !strings.Contains(body, "The layout was saved.") || !strings.Contains(body, "SYS-LAYOUT-9") {
		t.Errorf("system layout page after save lacks the notice or the layout")
	}
	// The campaign layout is another one.
	if info := storedLayout(t, u); info.Custom {
		t.Errorf("the campaign layout changed: %+v", info)
	}
	if pv := campaignPreview(t, s); strings.Contains(pv.HTML, "SYS-LAYOUT-9") {
		t.Errorf("a campaign is in the system mail layout")
	}
	// Every preview of a system mail shows it: the editor's and the
	// templates page's.
	for _, kind := range []string{"confirm", "reminder", "welcome", "email_change", "data_access"} {
		res, body := s.get("/admin/layout/system/preview.html?kind=" + kind)
		if res.StatusCode != 200 || !strings.Contains(body, "SYS-LAYOUT-9") || !strings.Contains(body, "SYS-TEXT-9") {
			t.Errorf("preview of %s = %d\n%s", kind, res.StatusCode, body)
		}
	}
	if _, body := s.get("/admin/templates/newsletter/preview.html?kind=welcome"); !strings.Contains(body, "SYS-LAYOUT-9") {
		t.Errorf("templates page preview not in the system layout:\n%s", body)
	}
	// The unsaved text of the editor is previewed, for the mail chosen.
	_, body = s.post("/admin/layout/system/preview.html", url.Values{"html": {strings.Replace(sysLayoutHTML, "SYS-LAYOUT-9", "UNSAVED-9", 1)}, "kind": {"reminder"}})
	if !strings.Contains(body, "UNSAVED-9") || !strings.Contains(body, "never confirmed") {
		t.Errorf("unsaved preview of the reminder:\n%s", body)
	}

	// A confirmation sent by the mail queue is in the layout, with its link
	// in both parts and the footer.
	subscribe(t, u, "sam@example.org")
	m := outboxMail(t, u, "sam@example.org", "confirm")
	link := mailLink(t, m.Text, "/confirm/")
	if !strings.Contains(m.HTML, "SYS-LAYOUT-9") || !strings.Contains(m.Text, "SYS-TEXT-9") || !strings.Contains(m.HTML, link) ||
		!strings.Contains(m.HTML, "1 Main St, Springfield") || !strings.Contains(m.Text, "1 Main St, Springfield") {
		t.Errorf("confirmation not in the system layout with its link %s:\n%s\n%s", link, m.HTML, m.Text)
	}

	// Reset: the built-in layout again, for the next mail too.
	if res, _ := s.post("/admin/layout/system/reset", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset = %d", res.StatusCode)
	}
	if info := storedSystemLayout(t, u); info.Custom || !strings.Contains(info.HTML, "max-width:640px") {
		t.Errorf("after reset = %+v", info)
	}
	if _, body := s.get("/admin/layout/system?done=layout-reset"); !strings.Contains(body, "The built-in layout is in use") {
		t.Errorf("page after reset does not say so")
	}
	subscribe(t, u, "kim@example.org")
	m = outboxMail(t, u, "kim@example.org", "confirm")
	if strings.Contains(m.HTML, "SYS-LAYOUT-9") || !strings.Contains(m.HTML, "max-width:640px") {
		t.Errorf("confirmation after reset not in the built-in layout:\n%s", m.HTML)
	}
}

func TestUISystemLayoutRefused(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("root")
	// A good layout first: a refused one must leave it as it is.
	if res, _ := s.post("/admin/layout/system", url.Values{"html": {sysLayoutHTML}, "text": {sysLayoutText}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save = %d", res.StatusCode)
	}
	noBodyText := "NO-BODY\n{{.PostalAddress}}\n"
	noBodyHTML := "<html><body><p>NO-BODY</p>{{with .ConfirmURL}}{{else}}{{.Body}}{{end}}</body></html>"
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"parse error", url.Values{"html": {"<html>\n<body>\n{{.Body}\n</body></html>"}, "text": {sysLayoutText}}, "layout.html:3"},
		{"text part without body", url.Values{"html": {sysLayoutHTML}, "text": {noBodyText}}, "The text part of the confirmation mail has no confirmation link"},
		{"HTML part without the confirmation", url.Values{"html": {noBodyHTML}, "text": {sysLayoutText}}, "The HTML part of the confirmation mail has no confirmation link"},
		{"welcome without body", url.Values{"html": {"<html><body>{{if .ConfirmURL}}{{.Body}}{{end}}</body></html>"}, "text": {sysLayoutText}}, "The HTML part of the welcome mail has no link to manage the subscription"},
		{"no list", url.Values{"html": {"<html><body>{{.List.Name}} {{.Body}}</body></html>"}, "text": {sysLayoutText}}, "address change mail"},
		{"too long", url.Values{"html": {strings.Repeat("x", 101<<10)}}, "longer than"},
	} {
		res, body := s.post("/admin/layout/system", tc.form)
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) {
			t.Errorf("%s: save = %d, want 422 saying %q\n%s", tc.name, res.StatusCode, tc.want, body)
		}
		if tc.name != "too long" && (!strings.Contains(body, "The layout was not saved") || !strings.Contains(body, "&lt;html&gt;")) {
			t.Errorf("%s: the page does not say so or lost the posted layout", tc.name)
		}
		// The refusal is said once: in the list of findings, not again
		// in the message above it.
		if n := strings.Count(body, tc.want); n != 1 {
			t.Errorf("%s: the page says %q %d times, want once\n%s", tc.name, tc.want, n, body)
		}
		if info := storedSystemLayout(t, u); info.HTML != sysLayoutHTML || info.Text != sysLayoutText {
			t.Errorf("%s: a refused layout changed the stored one: %+v", tc.name, info)
		}
		res, body = s.post("/admin/layout/system/preview.html", tc.form)
		if res.StatusCode != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: preview = %d, want it to say %q\n%s", tc.name, res.StatusCode, tc.want, body)
		}
	}
	// A layout without a footer is saved with a warning: the builder adds it.
	bare := url.Values{"html": {"<html><body>BARE-9 {{.Body}}</body></html>"}, "text": {"BARE-9 {{.Body}}"}}
	if _, body := s.post("/admin/layout/system/preview.html", bare); !strings.Contains(body, "footer line is appended") || !strings.Contains(body, "1 Main St, Springfield") {
		t.Errorf("bare preview lacks the warning or the footer:\n%s", body)
	}
	if res, _ := s.post("/admin/layout/system", bare); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save a layout without footer = %d", res.StatusCode)
	}
	subscribe(t, u, "ann@example.org")
	m := outboxMail(t, u, "ann@example.org", "confirm")
	link := mailLink(t, m.Text, "/confirm/")
	for part, text := range map[string]string{"html": m.HTML, "text": m.Text} {
		if !strings.Contains(text, "BARE-9") || !strings.Contains(text, "1 Main St, Springfield") || !strings.Contains(text, link) {
			t.Errorf("%s part lacks the layout, the postal address or the link:\n%s", part, text)
		}
	}
}

// TestUISystemLayoutFallback saves a layout that passes the check on the
// sample mails but fails for a real recipient: the mail goes out in the
// built-in layout, with its link, rather than not at all.
func TestUISystemLayoutFallback(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("root")
	// The samples go to subscriber@example.com, and the address change's
	// to new-address@example.com; a real recipient fails the layout.
	tricky := `<html><body>TRICKY-9 {{.Body}}{{if and (ne .Email "subscriber@example.com") (ne .Email "new-address@example.com")}}{{index .List.Attributes 5}}{{end}}</body></html>`
	if res, body := s.post("/admin/layout/system", url.Values{"html": {tricky}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save = %d\n%s", res.StatusCode, body)
	}
	subscribe(t, u, "lee@example.org")
	m := outboxMail(t, u, "lee@example.org", "confirm")
	link := mailLink(t, m.Text, "/confirm/")
	if strings.Contains(m.HTML, "TRICKY-9") || !strings.Contains(m.HTML, "max-width:640px") || !strings.Contains(m.HTML, link) {
		t.Errorf("confirmation not in the built-in layout:\n%s", m.HTML)
	}
}

func TestUISystemLayoutAuthAndCSRF(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	b := (&env{t: t, h: u.h}).browser()
	for _, p := range []string{"/admin/layout/system", "/admin/layout/system/preview.html"} {
		if res, body := b.do(httptest.NewRequest("GET", p, nil)); res.StatusCode != 200 || !strings.Contains(body, `action="/admin/login"`) || strings.Contains(body, "Confirm my subscription") {
			t.Errorf("GET %s logged out = %d, want the login form", p, res.StatusCode)
		}
	}
	checkLayoutPostsRefused(t, u, b, "/admin/layout/system", sysLayoutHTML)
	if info := storedSystemLayout(t, u); info.Custom {
		t.Errorf("a refused request stored a layout: %+v", info)
	}
}

// TestUIReminderText edits a list's reminder text on the templates page,
// previews it, refuses a text too long, and finds it in the reminder the
// retention job sends.
func TestUIReminderText(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	s := u.login("ed")
	res, body := s.get("/admin/templates")
	if res.StatusCode != 200 || !strings.Contains(body, `name="reminder_text"`) || !strings.Contains(body, "/admin/layout/system") {
		t.Fatalf("templates page = %d, lacks the reminder text or the system layout link", res.StatusCode)
	}
	checkPage(t, "/admin/templates", res, body)
	// The unsaved text in the live preview and in the frame.
	res, body = s.post("/admin/templates/newsletter/preview", url.Values{"kind": {"reminder"}, "text": {"Still keen, friend?"}})
	var pv previewAnswer
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &pv) != nil || !strings.Contains(pv.Text, "Still keen, friend?") ||
		!strings.Contains(pv.Subject, "Reminder") || !strings.Contains(pv.Text, testBaseURL+"/confirm/") {
		t.Fatalf("reminder preview = %d %s", res.StatusCode, body)
	}
	if _, body := s.post("/admin/templates/newsletter/preview.html", url.Values{"kind": {"reminder"}, "text": {"Frame words"}}); !strings.Contains(body, "Frame words") {
		t.Errorf("reminder frame lacks the unsaved text")
	}
	// The confirmation text stays out of the reminder.
	form := url.Values{"confirm_text": {"Confirm words"}, "reminder_text": {"Remember us?"}, "welcome_text": {"Hi"}, "welcome": {"1"}}
	if res, _ := s.post("/admin/templates/newsletter", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save texts = %d", res.StatusCode)
	}
	l, _ := u.svc.ListBySlug(t.Context(), "newsletter")
	if l.ConfirmText != "Confirm words" || l.ReminderText != "Remember us?" || l.WelcomeText != "Hi" {
		t.Fatalf("texts = %q %q %q", l.ConfirmText, l.ReminderText, l.WelcomeText)
	}
	if _, body := s.get("/admin/templates"); !strings.Contains(body, "Remember us?") {
		t.Errorf("templates page does not show the saved reminder text")
	}
	if res, body := s.get("/admin/templates/newsletter/preview?kind=reminder"); res.StatusCode != 200 || !strings.Contains(body, "Remember us?") || strings.Contains(body, "Confirm words") {
		t.Errorf("stored reminder preview = %d\n%s", res.StatusCode, body)
	}
	// Too long: the page again with the message and the posted text, and
	// nothing changed.
	long := url.Values{"confirm_text": {"New confirm"}, "reminder_text": {strings.Repeat("r", 20001)}, "welcome_text": {"Hi"}}
	res, body = s.post("/admin/templates/newsletter", long)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "reminder text of list newsletter is longer than") || !strings.Contains(body, "New confirm") {
		t.Errorf("long text = %d, want 422 with the message and the posted text\n%.400s", res.StatusCode, body)
	}
	if l, _ := u.svc.ListBySlug(t.Context(), "newsletter"); l.ConfirmText != "Confirm words" || l.ReminderText != "Remember us?" {
		t.Errorf("a refused save changed the texts: %q %q", l.ConfirmText, l.ReminderText)
	}
	if res, _ := s.do(formReq("/admin/templates/newsletter", url.Values{"reminder_text": {"Forged"}})); res.StatusCode != http.StatusForbidden {
		t.Errorf("save without CSRF token = %d, want 403", res.StatusCode)
	}

	// The reminder the retention job sends carries the text, and not the
	// confirmation's.
	subscribe(t, u, "pat@example.org")
	outboxMail(t, u, "pat@example.org", "Please confirm")
	cfg := u.svc.Config()
	cfg.ReminderAfter = time.Nanosecond
	u.svc.SetConfig(cfg)
	time.Sleep(time.Millisecond)
	if rep, err := u.svc.Retention(t.Context()); err != nil || rep.Reminded != 1 {
		t.Fatalf("retention = %+v, %v", rep, err)
	}
	m := outboxMail(t, u, "pat@example.org", "Reminder")
	for part, text := range map[string]string{"html": m.HTML, "text": m.Text} {
		if !strings.Contains(text, "Remember us?") || strings.Contains(text, "Confirm words") || !strings.Contains(text, testBaseURL+"/confirm/") {
			t.Errorf("reminder %s part lacks its text or link, or has the confirmation's:\n%s", part, text)
		}
	}
}

func TestAPIListReminderText(t *testing.T) {
	t.Parallel()
	e := apiEnv(t)
	var got listJSON
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"dev","name":"Developers","confirm_text":"C","reminder_text":"R"}`, 201, &got)
	if got.ConfirmText != "C" || got.ReminderText != "R" {
		t.Errorf("POST = %+v", got)
	}
	e.call("PUT", "/api/v1/lists/dev", "ed", `{"reminder_text":"Still there?"}`, 200, &got)
	if got.ReminderText != "Still there?" || got.ConfirmText != "C" {
		t.Errorf("PUT = %+v", got)
	}
	// The GET answer sent back as is changes nothing.
	res, body := e.do(apiReq("GET", "/api/v1/lists/dev", "ed", nil))
	var raw map[string]json.RawMessage
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &raw) != nil || string(raw["reminder_text"]) != `"Still there?"` {
		t.Fatalf("GET = %d %s", res.StatusCode, body)
	}
	e.call("PUT", "/api/v1/lists/dev", "ed", body, 200, &got)
	var er apiErr
	e.call("PUT", "/api/v1/lists/dev", "ed", `{"reminder_text":"`+strings.Repeat("r", 20001)+`"}`, 422, &er)
	if l, err := e.svc.ListBySlug(e.t.Context(), "dev"); err != nil || l.ReminderText != "Still there?" {
		t.Errorf("after a refused PUT: %q, %v", l.ReminderText, err)
	}
}
