package smtp

import (
	"bytes"
	"crypto"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/bulletin/bulletin/list"
)

// encodedWord matches an RFC 2047 encoded word.
var encodedWord = regexp.MustCompile(`=\?[^?\s]+\?[qQbB]\?[^?\s]*\?=`)

// checkHeaderLines checks the header block of raw against RFC 5322 section
// 2.1.1 and RFC 2047 section 2: no line over 998 characters, none over 78
// unless it holds a single word too long for a line of its own, and no
// encoded word over 75 characters.
func checkHeaderLines(t testing.TB, raw []byte) {
	t.Helper()
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		if len(line) > hardLineLen {
			t.Fatalf("header line of %d characters: %q", len(line), line)
		}
		if len(line) > softLineLen {
			rest := line
			if line[0] != ' ' && line[0] != '\t' {
				_, rest, _ = strings.Cut(line, ":")
			}
			if w := strings.Fields(rest); len(w) > 1 || 1+len(w[0]) <= softLineLen {
				t.Fatalf("header line of %d characters could be folded: %q", len(line), line)
			}
		}
		for _, w := range encodedWord.FindAllString(line, -1) {
			if len(w) > 75 {
				t.Fatalf("encoded word of %d characters: %q", len(w), w)
			}
		}
	}
}

// TestHeaderLines: the values the deliverability test found on lines over
// 78 characters are folded to at most 78, but for words no fold can break;
// both signatures verify on the exact bytes, and net/mail reads every value
// back as given.
func TestHeaderLines(t *testing.T) {
	t.Parallel()
	longName := "Maximilian Alexander Friedrich Wilhelm von und zu Großherzogtum-Mecklenburg-Schwerin der Dritte"
	tests := []struct {
		name, subject, toName, listName, unsub string
	}{
		{name: "emoji", subject: strings.Repeat("Spring 🌸 is here, Zoë! ", 6) + "🌷"},
		{name: "cjk", subject: strings.Repeat("春が来ました。", 12), toName: "李雷"},
		{name: "long ascii", subject: strings.TrimSpace(strings.Repeat("spring is here ", 26)) + " ok"},
		{name: "unbroken ascii", subject: strings.Repeat("A", 400)},
		{name: "url-ish word", subject: "Read https://example.org/" + strings.Repeat("path/", 40) + " today"},
		{name: "long encoded name", subject: "Hi", toName: longName, listName: "Café \"Ünïcode\", News; <x> (weekly) — a very long list name"},
		{name: "unbroken name", subject: "Hi", toName: strings.Repeat("N", 190)},
		{name: "quoted name", subject: "Hi", toName: "Smith, John Jacob Jingleheimer Schmidt of the Very Long Family Name Society", listName: strings.Repeat("Long list name ", 6) + "(ASCII)"},
		{name: "long token", subject: "Hi", unsub: "https://news.example.com/unsubscribe/aaaqcaaaad6rftjks737riedyiuw2"},
	}
	keys := []crypto.Signer{testKey(t, "rsa"), testKey(t, "ed25519")}
	s := newTestSender(t, func(o *Options) { o.DKIM = keys })
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := testMessage()
			m.Campaign.ID += list.CampaignID(i) // a campaign of its own: the sender caches by campaign
			m.Campaign.Subject = tc.subject
			if tc.toName != "" {
				m.ToName = tc.toName
			}
			if tc.listName != "" {
				m.List.Name = tc.listName
			}
			if tc.unsub != "" {
				m.UnsubscribeURL = tc.unsub
			}
			raw, err := s.Preview(t.Context(), m)
			if err != nil {
				t.Fatal(err)
			}
			checkHeaderLines(t, raw)
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookupFor(t, keys)})
			if err != nil || len(vs) != 2 {
				t.Fatalf("Verify: %v, %d signatures", err, len(vs))
			}
			for _, v := range vs {
				if v.Err != nil {
					t.Errorf("signature does not verify: %v", v.Err)
				}
			}
			h := parseMessage(t, raw).msg.Header
			var dec mime.WordDecoder
			if got, err := dec.DecodeHeader(h.Get("Subject")); err != nil || got != tc.subject {
				t.Errorf("Subject = %q, %v; want %q", got, err, tc.subject)
			}
			if to, err := mail.ParseAddress(h.Get("To")); err != nil || to.Name != m.ToName || to.Address != m.To {
				t.Errorf("To = %+v, %v; want %q <%s>", to, err, m.ToName, m.To)
			}
			// A List-Id is a phrase and an id in angle brackets, as a mailbox
			// is: read it as one with an address in place of the id.
			id := h.Get("List-Id")
			phrase, _ := strings.CutSuffix(id, " <weekly."+testDomain+">")
			if l, err := mail.ParseAddress(phrase + " <x@" + testDomain + ">"); err != nil || l.Name != m.List.Name {
				t.Errorf("List-Id = %q (%v), want the phrase %q", id, err, m.List.Name)
			}
			if got, want := h.Get("List-Unsubscribe"), "<"+m.UnsubscribeURL+">, <mailto:"+m.UnsubscribeMailto+">"; got != want {
				t.Errorf("List-Unsubscribe = %q, want %q", got, want)
			}
		})
	}
}
