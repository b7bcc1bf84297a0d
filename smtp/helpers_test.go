package smtp

import (
	"bytes"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

var testNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.FixedZone("CET", 3600))

const testDomain = "news.example.com"

// newTestSender makes a Sender with a fixed clock and random stream,
// writing to an outbox unless opts says otherwise.
func newTestSender(t testing.TB, mod func(*Options)) *Sender {
	t.Helper()
	opts := Options{
		FS:        os.DirFS("../templates"),
		Domain:    testDomain,
		OutboxDir: t.TempDir(),
		Now:       func() time.Time { return testNow },
		Rand:      rand.NewChaCha8([32]byte{'b', 'u', 'l', 'l', 'e', 't', 'i', 'n'}),
		BaseURL:   "https://news.example.com",
	}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testList() *list.List {
	return &list.List{ID: 3, Slug: "weekly", Name: "The Weekly", ConfirmText: "Thanks for signing up at the fair."}
}

func testCampaign() *list.Campaign {
	return &list.Campaign{
		ID:        42,
		Name:      "Issue 12",
		Subject:   "Issue 12: spring is here, {{.Name}}",
		Format:    list.FormatHTML,
		Body:      `<h1>Spring issue</h1><p>Hello {{.Name}} from {{index .Attributes "city"}},</p><p>Read <a href="https://example.org/story?a=1&b=2">our story</a> &amp; more.</p><ul><li>One</li><li>Two</li></ul>`,
		UpdatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
	}
}

// testMessage is a campaign message to Ann.
func testMessage() *list.Message {
	return &list.Message{
		From:              "The Weekly <news@news.example.com>",
		To:                "ann@example.org",
		Subscriber:        &list.Subscriber{ID: 7, Email: "ann@example.org", Name: "Ann", Attributes: map[string]string{"city": "Lyon"}},
		List:              testList(),
		Campaign:          testCampaign(),
		UnsubscribeURL:    "https://news.example.com/unsubscribe/u7aaaaaaaaaaaaaaaaaaaaaaaa",
		UnsubscribeMailto: "unsubscribe+u7aaaaaaaaaaaaaaaaaaaaaaaa@news.example.com",
		ManageURL:         "https://news.example.com/manage/m7bbbbbbbbbbbbbbbbbbbbbbbb",
		ReturnPath:        "bounces+v7cccccccccccccccccccc@news.example.com",
		PostalAddress:     "Example Press Ltd\n1 Main Street\n75001 Paris, France",
		PrivacyURL:        "https://news.example.com/privacy",
	}
}

// parsed is a message read back with net/mail and mime/multipart.
type parsed struct {
	msg   *mail.Message
	parts map[string]string // media type → decoded body
}

func parseMessage(t testing.TB, raw []byte) *parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q, %v; want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	p := &parsed{msg: m, parts: map[string]string{}}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var order []string
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("NextPart: %v", err)
		}
		if cte := part.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("part Content-Transfer-Encoding = %q", cte)
		}
		pt, pp, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if pp["charset"] != "utf-8" {
			t.Errorf("part %s charset = %q", pt, pp["charset"])
		}
		b, err := io.ReadAll(quotedprintable.NewReader(part))
		if err != nil {
			t.Fatalf("part %s: %v", pt, err)
		}
		p.parts[pt] = string(b)
		order = append(order, pt)
	}
	if strings.Join(order, ",") != "text/plain,text/html" {
		t.Errorf("parts = %v, want text/plain then text/html", order)
	}
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > hardLineLen {
			t.Errorf("line %d has %d characters", i+1, len(line))
		}
	}
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("bare LF in message")
	}
	return p
}
