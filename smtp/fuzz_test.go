package smtp

import (
	"bytes"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzHeader checks that no input to the header builder yields an extra
// header line: every accepted value, parsed back, gives exactly the
// expected header fields, and the subject survives; and that the lines are
// folded as checkHeaderLines wants.
func FuzzHeader(f *testing.F) {
	f.Add("Hello", "Ann", "The Weekly", "https://x.example/u/abc", "The Weekly <news@x.example>")
	f.Add("Hi\r\nBcc: x@y", "A\nB: c", "L\x00", "https://x/\r\nX: y", "A <a@b>\nX: y")
	f.Add("Grüße =?utf-8?q?x?= "+strings.Repeat("long ", 30), "Jürgen \"Q\" Müller", "Café, Zeitung", "https://x.example/"+strings.Repeat("a", 200), "=?utf-8?q?x?= <a@b.example>")
	f.Add(strings.Repeat("x", 2000), strings.Repeat("y", 100), "a:b;c", "https://x.example/u", "\"A, B\" <a@b.example>")
	s := newTestSender(f, nil)
	f.Fuzz(func(t *testing.T, subject, name, listName, unsub, from string) {
		m := testMessage()
		m.From, m.ToName, m.List.Name, m.UnsubscribeURL = from, name, listName, unsub
		b, err := s.build(m, &rendered{subject: subject, text: []byte("t"), html: []byte("h")})
		if err != nil {
			return
		}
		raw := b.raw
		if i := bytes.IndexAny(bytes.ReplaceAll(raw, []byte("\r\n"), nil), "\r\n\x00"); i >= 0 {
			t.Fatalf("bare CR, LF or NUL in message:\n%q", raw)
		}
		checkHeaderLines(t, raw)
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("ReadMessage: %v\n%q", err, raw)
		}
		var keys []string
		for k, v := range msg.Header {
			for range v {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		want := []string{"Content-Type", "Date", "Feedback-Id", "From", "List-Id", "List-Post", "List-Unsubscribe",
			"List-Unsubscribe-Post", "Message-Id", "Mime-Version", "Precedence", "Subject", "To"}
		if !slices.Equal(keys, want) {
			t.Fatalf("header fields %v, want %v\n%q", keys, want, raw)
		}
		var dec mime.WordDecoder
		got, err := dec.DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			t.Fatalf("subject %q: %v", msg.Header.Get("Subject"), err)
		}
		if utf8.ValidString(subject) && strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(subject), " ") {
			t.Fatalf("subject %q came back as %q", subject, got)
		}
		if u := msg.Header.Get("List-Unsubscribe"); !strings.HasPrefix(u, "<"+unsub+">") {
			t.Fatalf("List-Unsubscribe %q, want %q first", u, unsub)
		}
		if a, err := mail.ParseAddress(msg.Header.Get("To")); err == nil && a.Address != m.To {
			t.Fatalf("To = %q", a.Address)
		}
	})
}

// FuzzHTMLToText checks that the converter never panics and keeps its
// promises on any input.
func FuzzHTMLToText(f *testing.F) {
	for _, s := range []string{
		"<p>Hello <b>World</b></p>", `<a href="https://x">x</a>`, "<ul><li>a<ol><li>b</ol></ul>",
		"<pre>\n\n x</pre>", "<blockquote><blockquote>q", "</a></ul></li></blockquote></pre>",
		`<div hidden><p>x</div>`, "<script>", "&amp;&#0;&#x110000;", "<br><br><br><br>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := HTMLToText(in)
		if strings.Contains(out, "\n\n\n") {
			t.Fatalf("three line breaks in %q", out)
		}
		var b bytes.Buffer
		b.WriteString("prefix")
		HTMLToTextTo(&b, []byte(in))
		if !strings.HasPrefix(b.String(), "prefix") || b.String()[len("prefix"):] != out {
			t.Fatalf("HTMLToTextTo disagrees with HTMLToText")
		}
	})
}
