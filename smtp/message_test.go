package smtp

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".eml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	markdown := func() *list.Message {
		m := testMessage()
		m.Campaign.Format = list.FormatMarkdown
		m.Campaign.Body = "# Spring issue\n\nHello **{{.Name}}**,\n\nRead [our story](https://example.org/story) and:\n\n1. plant\n2. water\n"
		m.Campaign.Advertisement = true
		return m
	}
	confirm := func() *list.Message {
		m := testMessage()
		m.Kind, m.Campaign = list.MailConfirm, nil
		m.UnsubscribeURL, m.UnsubscribeMailto, m.ManageURL = "", "", ""
		m.ConfirmURL = "https://news.example.com/confirm/c7dddddddddddddddddddddddd"
		return m
	}
	nonASCII := func() *list.Message {
		m := testMessage()
		m.From = "Café Zeitung <news@news.example.com>"
		m.ToName = "Jürgen Müller"
		m.List.Name = "Café Zeitung"
		m.Subscriber.Name = "Jürgen"
		m.Campaign.Subject = "Grüße aus Köln – Ausgabe 12 für {{.Name}}: das Frühjahr ist da, und mit ihm die langen Abende"
		m.Campaign.Text = "Hallo {{.Name}},\n\ndie Ausgabe 12 ist da.\n"
		return m
	}
	tests := []struct {
		name string
		m    *list.Message
		// header fields that must (true) or must not (false) be present
		want map[string]bool
	}{
		{"campaign-html", testMessage(), map[string]bool{"List-Unsubscribe-Post": true, "Precedence": true, "Auto-Submitted": false}},
		{"campaign-markdown", markdown(), map[string]bool{"List-Unsubscribe-Post": true, "Feedback-ID": true}},
		{"confirm", confirm(), map[string]bool{"List-Unsubscribe": false, "List-Unsubscribe-Post": false, "Precedence": false, "Auto-Submitted": true}},
		{"non-ascii", nonASCII(), map[string]bool{"List-Id": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newTestSender(t, nil)
			raw, err := s.Preview(t.Context(), tc.m)
			if err != nil {
				t.Fatalf("Preview: %v", err)
			}
			golden(t, tc.name, raw)
			p := parseMessage(t, raw)
			for k, present := range tc.want {
				if got := p.msg.Header.Get(k) != ""; got != present {
					t.Errorf("header %s present = %v, want %v", k, got, present)
				}
			}
			for _, k := range []string{"From", "To", "Subject", "Date", "Message-Id", "Mime-Version"} {
				if p.msg.Header.Get(k) == "" {
					t.Errorf("no %s header", k)
				}
			}
			if id := p.msg.Header.Get("Message-ID"); !strings.HasSuffix(id, "@"+testDomain+">") {
				t.Errorf("Message-ID = %q", id)
			}
			checkFooter(t, tc.m, p)
		})
	}
}

// checkFooter checks the footer rule on both parts.
func checkFooter(t *testing.T, m *list.Message, p *parsed) {
	t.Helper()
	for typ, body := range p.parts {
		if m.PostalAddress != "" && !strings.Contains(body, "1 Main Street") {
			t.Errorf("%s part lacks the postal address:\n%s", typ, body)
		}
		if m.UnsubscribeURL != "" && !strings.Contains(body, m.UnsubscribeURL) {
			t.Errorf("%s part lacks the unsubscribe link:\n%s", typ, body)
		}
		if m.Campaign != nil && m.Campaign.Advertisement && !strings.Contains(body, adNotice) {
			t.Errorf("%s part lacks the advertisement notice", typ)
		}
	}
}

func TestCampaignHeaders(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	raw, err := s.Preview(t.Context(), testMessage())
	if err != nil {
		t.Fatal(err)
	}
	p := parseMessage(t, raw)
	h := p.msg.Header
	want := map[string]string{
		"From":                  "The Weekly <news@news.example.com>",
		"To":                    "ann@example.org",
		"Subject":               "Issue 12: spring is here, Ann",
		"Date":                  "Sat, 14 Mar 2026 09:26:53 +0100",
		"List-Id":               "The Weekly <weekly.news.example.com>",
		"List-Unsubscribe":      "<https://news.example.com/unsubscribe/u7aaaaaaaaaaaaaaaaaaaaaaaa>, <mailto:unsubscribe+u7aaaaaaaaaaaaaaaaaaaaaaaa@news.example.com>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"List-Post":             "NO",
		"Precedence":            "bulk",
		"Feedback-ID":           "42:3:bulletin:news.example.com",
		"MIME-Version":          "1.0",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	text := p.parts["text/plain"]
	for _, s := range []string{"our story (https://example.org/story?a=1&b=2)", "- One", "Hello Ann from Lyon,"} {
		if !strings.Contains(text, s) {
			t.Errorf("text part lacks %q:\n%s", s, text)
		}
	}
}

func TestTestSend(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	m := testMessage()
	m.Test = true
	raw, err := s.Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMessage(t, raw)
	if got := p.msg.Header.Get("Subject"); got != "[Test] Issue 12: spring is here, Ann" {
		t.Errorf("Subject = %q", got)
	}
	// The footer says it is a test, not that the tester subscribed.
	for _, part := range []string{"text/plain", "text/html"} {
		if !strings.Contains(p.parts[part], "This is a test of the mail that subscribers of") || strings.Contains(p.parts[part], "because you subscribed") {
			t.Errorf("%s footer of a test:\n%s", part, p.parts[part])
		}
	}
}

func TestWelcomeHasUnsubscribe(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	m := testMessage()
	m.Kind, m.Campaign = list.MailWelcome, nil
	raw, err := s.Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMessage(t, raw)
	for _, k := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Auto-Submitted"} {
		if p.msg.Header.Get(k) == "" {
			t.Errorf("welcome mail has no %s", k)
		}
	}
	if p.msg.Header.Get("Precedence") != "" {
		t.Errorf("welcome mail is marked bulk")
	}
	checkFooter(t, m, p)
}

func TestSystemKinds(t *testing.T) {
	t.Parallel()
	for _, k := range systemKinds {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			s := newTestSender(t, nil)
			m := testMessage()
			m.Kind, m.Campaign, m.Action = k, nil, "erase"
			m.ConfirmURL = "https://news.example.com/confirm/x"
			raw, err := s.Preview(t.Context(), m)
			if err != nil {
				t.Fatal(err)
			}
			p := parseMessage(t, raw)
			if p.msg.Header.Get("Subject") == "" || !strings.Contains(p.parts["text/plain"], "Ann") {
				t.Errorf("%s: subject %q, text:\n%s", k, p.msg.Header.Get("Subject"), p.parts["text/plain"])
			}
		})
	}
}

// TestManageLinkWithoutUnsubscribe checks that a mail with a manage link
// and no unsubscribe link (the data-access mail) shows the manage link in
// both parts, as the text footer always did.
func TestManageLinkWithoutUnsubscribe(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	m := testMessage()
	m.Kind, m.Campaign, m.Action = list.MailDataAccess, nil, "export"
	m.ConfirmURL, m.UnsubscribeURL = "https://news.example.com/manage/x?data=y", ""
	raw, err := s.Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMessage(t, raw)
	if !strings.Contains(p.parts["text/html"], `<p><a href="`+m.ManageURL+`" style="color:#52525b;">Manage your subscription</a>`) {
		t.Errorf("HTML part has no manage link of its own:\n%s", p.parts["text/html"])
	}
	if !strings.Contains(p.parts["text/plain"], "Manage your subscription: "+m.ManageURL) {
		t.Errorf("text part has no manage link:\n%s", p.parts["text/plain"])
	}
}

func TestRefusesBulkWithout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*list.Message)
		want string
	}{
		{"postal address", func(m *list.Message) { m.PostalAddress = " " }, "postal address"},
		{"list", func(m *list.Message) { m.List = nil }, "List-Id"},
		{"unsubscribe", func(m *list.Message) { m.UnsubscribeURL = "" }, "List-Unsubscribe"},
		{"subject", func(m *list.Message) { m.Campaign.Subject = "  " }, "empty subject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newTestSender(t, nil)
			m := testMessage()
			tc.mod(m)
			_, err := s.Preview(t.Context(), m)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, list.ErrInvalid) {
				t.Errorf("Preview = %v, want an ErrInvalid naming %q", err, tc.want)
			}
		})
	}
}

// TestUnsendableRecipient: a recipient whose address or name cannot go
// into the envelope or header fails alone, as a relay's 553 would, so
// that the runner fails that recipient and not the whole campaign.
func TestUnsendableRecipient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ to, name, status string }{
		{"jörg@bücher.example", "", "5.6.7"},
		{"ann@example.org\r\nX-Evil: 1", "", "5.1.3"},
		{"ann@example.org", "Ann\nBcc: evil@example.net", "5.1.3"},
	} {
		s := newTestSender(t, nil)
		m := testMessage()
		m.To, m.ToName = tc.to, tc.name
		_, err := s.Send(t.Context(), m)
		var de *list.DeliveryError
		if !errors.As(err, &de) || !de.Unsendable || de.Code != 553 || de.Status != tc.status || !errors.Is(err, list.ErrInvalid) {
			t.Errorf("Send to %q (name %q) = %v, want an Unsendable 553 %s that is ErrInvalid", tc.to, tc.name, err, tc.status)
		}
	}
}

func TestHeaderInjection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*list.Message)
	}{
		{"subject", func(m *list.Message) { m.Campaign.Subject = "Hi\r\nBcc: evil@example.net" }},
		{"subject via name", func(m *list.Message) { m.Subscriber.Name = "Ann\nBcc: evil@example.net" }},
		{"to name", func(m *list.Message) { m.ToName = "Ann\r\nX-Evil: 1" }},
		{"to", func(m *list.Message) { m.To = "ann@example.org\r\nX-Evil: 1" }},
		{"from", func(m *list.Message) { m.From = "A <a@b.example>\nX-Evil: 1" }},
		{"list name", func(m *list.Message) { m.List.Name = "W\x00eekly" }},
		{"unsubscribe url", func(m *list.Message) { m.UnsubscribeURL = "https://x.example/u\r\nX-Evil: 1" }},
		{"mailto", func(m *list.Message) { m.UnsubscribeMailto = "u@x.example>\r\nX-Evil: <1" }},
		{"return path", func(m *list.Message) { m.ReturnPath = "b@x.example\nRCPT TO:<e@x>" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newTestSender(t, nil)
			m := testMessage()
			tc.mod(m)
			raw, err := s.Preview(t.Context(), m)
			if err == nil {
				t.Fatalf("Preview accepted it:\n%s", raw)
			}
			if !errors.Is(err, list.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
}

func TestFoldSubject(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	m := testMessage()
	m.Campaign.Subject = strings.Repeat("spring ", 40) + "ends"
	raw, err := s.Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		if len(line) > softLineLen && strings.Contains(line, " ") && !strings.HasPrefix(line, "List-Unsubscribe:") {
			t.Errorf("line of %d characters: %q", len(line), line)
		}
	}
	var dec mime.WordDecoder
	got, _ := dec.DecodeHeader(parseMessage(t, raw).msg.Header.Get("Subject"))
	if got != strings.Repeat("spring ", 40)+"ends" {
		t.Errorf("Subject = %q", got)
	}
}

func TestFooterInserted(t *testing.T) {
	t.Parallel()
	fsys := layoutFS(t, "<html><body>{{.Body}}</body></html>", "{{.Body}}")
	s := newTestSender(t, func(o *Options) { o.FS = fsys })
	m := testMessage()
	m.Campaign.Advertisement = true
	raw, err := s.Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	checkFooter(t, m, parseMessage(t, raw))
	findings := s.Lint(t.Context(), m)
	if !hasFinding(findings, "advertisement-notice", SeverityError) || !hasFinding(findings, "footer-inserted", SeverityWarning) {
		t.Errorf("Lint = %+v, want advertisement-notice error and footer-inserted warning", findings)
	}
}

// TestMessageIDsSortByTime: Message-IDs sort in the order they were made
// (the store's index of them stays append-only), and two made in the same
// millisecond still differ.
func TestMessageIDsSortByTime(t *testing.T) {
	t.Parallel()
	now := testNow
	s := newTestSender(t, func(o *Options) { o.Now = func() time.Time { return now } })
	var ids []string
	for _, step := range []time.Duration{0, 0, time.Millisecond, time.Second, 300 * 24 * time.Hour} {
		now = now.Add(step)
		id, _, err := s.newIDs()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] {
		t.Fatalf("two Message-IDs in one millisecond are equal: %s", ids[0])
	}
	for i := 2; i < len(ids); i++ {
		if ids[i] <= ids[i-1] || ids[i] <= ids[0] {
			t.Errorf("Message-ID %s (later) sorts before %s", ids[i], ids[i-1])
		}
	}
}

// TestMarkdownLinkActions: an action in a Markdown link target is the URL
// in the text part too, not the action escaped by the Markdown renderer
// ("%7B%7B.UnsubscribeURL%7D%7D").
func TestMarkdownLinkActions(t *testing.T) {
	t.Parallel()
	m := testMessage()
	m.Campaign.Format = list.FormatMarkdown
	m.Campaign.Body = "Hello,\n\n* [Leave]({{.UnsubscribeURL}})\n* [Site](https://example.org/a?c={{.Name}})\n"
	raw, err := newTestSender(t, nil).Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var text string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, _ := io.ReadAll(p) // multipart decodes quoted-printable
			text = string(b)
		}
	}
	for _, want := range []string{"Leave (" + m.UnsubscribeURL + ")", "Site (https://example.org/a?c=" + m.Subscriber.Name + ")"} {
		if !strings.Contains(strings.ReplaceAll(text, "\r\n", "\n"), want) {
			t.Errorf("the text part lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "%7B") {
		t.Errorf("the text part holds an escaped action:\n%s", text)
	}
}

// TestMarkdownAutolinkActions: an autolink around an action
// ("<{{.ManageURL}}>"), the way Markdown writes a bare link, becomes a link
// to the URL, as it would with the URL written out.
func TestMarkdownAutolinkActions(t *testing.T) {
	t.Parallel()
	m := testMessage()
	m.Campaign.Format = list.FormatMarkdown
	m.Campaign.Body = "Change your details: <{{.ManageURL}}>\n\nOr leave: <{{ .UnsubscribeURL }}>\n"
	raw, err := newTestSender(t, nil).Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMessage(t, raw)
	html, text := p.parts["text/html"], p.parts["text/plain"]
	if want := `<a href="` + m.ManageURL + `">` + m.ManageURL + `</a>`; !strings.Contains(html, want) {
		t.Errorf("the HTML part lacks %s:\n%s", want, html)
	}
	if strings.Contains(html, "&lt;") || strings.Contains(text, "<https") {
		t.Errorf("an autolink kept its angle brackets:\n%s\n%s", html, text)
	}
	if !strings.Contains(html, `<a href="`+m.UnsubscribeURL+`">`) {
		t.Errorf("the autolink with spaces in its action is no link:\n%s", html)
	}
	// A link field stays an autolink on a base URL that linkify does not
	// take, localhost or an IP address, as a test server's is.
	m = testMessage()
	m.Campaign.Format, m.Campaign.Body = list.FormatMarkdown, "Change your details: <{{.ManageURL}}>\n"
	m.ManageURL = "http://127.0.0.1:8080/manage/m7bbbbbbbbbbbbbbbbbbbbbbbb"
	if raw, err = newTestSender(t, nil).Preview(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	p = parseMessage(t, raw)
	if want := `<a href="` + m.ManageURL + `">`; !strings.Contains(p.parts["text/html"], want) || strings.Contains(p.parts["text/plain"], "<http") {
		t.Errorf("an autolink on an IP base URL:\n%s\n%s", p.parts["text/html"], p.parts["text/plain"])
	}
}

// TestHeaderErrorsHideValues: a refused address or URL is not quoted in
// the error, which the log shows: logs carry no addresses or tokens.
func TestHeaderErrorsHideValues(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		func() error { _, err := newAddress("To", "", "jörg.secret@example.org"); return err }(),
		func() error { _, err := newAddress("To", "", "secret person@example.org"); return err }(),
		func() error { _, err := parseMailbox("To", "secret@@example"); return err }(),
		checkURL("List-Unsubscribe", "https://news.example/unsubscribe/secret token"),
		checkURL("List-Unsubscribe", "https://news.example/unsubscribe/secrét"),
	} {
		if err == nil || strings.Contains(err.Error(), "secr") {
			t.Errorf("error = %v, want one that does not show the value", err)
		}
	}
}
