package smtp

import (
	"crypto"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
	"unicode/utf8"

	"github.com/bulletin/bulletin/list"
)

// layoutFS is the shipped templates with other layouts.
func layoutFS(t *testing.T, html, text string) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	ents, err := os.ReadDir("../templates/mail")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile("../templates/mail/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		m["mail/"+e.Name()] = &fstest.MapFile{Data: b}
	}
	m["mail/layout.html"] = &fstest.MapFile{Data: []byte(html)}
	m["mail/layout.txt"] = &fstest.MapFile{Data: []byte(text)}
	return m
}

func hasFinding(fs []list.Finding, code, severity string) bool {
	for _, f := range fs {
		if f.Code == code && f.Severity == severity {
			return true
		}
	}
	return false
}

func TestLintClean(t *testing.T) {
	t.Parallel()
	key := testKey(t, "ed25519")
	s := newTestSender(t, func(o *Options) { o.DKIM = []crypto.Signer{key} })
	if got := s.Lint(t.Context(), testMessage()); len(got) != 0 {
		t.Errorf("Lint = %+v, want nothing", got)
	}
}

func TestLint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     func(*Options)
		mod      func(*list.Message)
		code     string
		severity string
		// text the message must contain
		text string
	}{
		{name: "postal", mod: func(m *list.Message) { m.PostalAddress = "" }, code: "postal-address", severity: SeverityError},
		{name: "empty subject", mod: func(m *list.Message) { m.Campaign.Subject = "" }, code: "subject-empty", severity: SeverityError},
		{name: "control subject", mod: func(m *list.Message) { m.Campaign.Subject = "a\tb\x07" }, code: "subject-control", severity: SeverityError},
		{name: "broken body", mod: func(m *list.Message) { m.Campaign.Body = "<p>one</p>\n<p>two</p>\n{{end}}\n" }, code: "template", severity: SeverityError, text: "The body template does not parse: body:3"},
		{name: "broken text", mod: func(m *list.Message) { m.Campaign.Text = "a\n\nb {{.Name" }, code: "template", severity: SeverityError, text: "text:3"},
		{name: "unknown field", mod: func(m *list.Message) { m.Campaign.Body = "{{.Nope}}" }, code: "template", severity: SeverityError, text: "Nope"},
		{name: "no unsubscribe", mod: func(m *list.Message) { m.UnsubscribeURL = "" }, code: "unsubscribe", severity: SeverityError},
		{name: "http base", opts: func(o *Options) { o.BaseURL = "http://localhost:8080" }, code: "base-url-https", severity: SeverityWarning},
		{name: "no dkim", code: "dkim-none", severity: SeverityWarning},
		{
			name: "script", mod: func(m *list.Message) {
				m.Campaign.Body = "<p>Hi</p><SCRIPT>alert(1)</script><iframe src=x></iframe><script>b()</script>"
			},
			code: "html-active", severity: SeverityWarning, text: "<script>, <iframe>:",
		},
		{
			name: "not aligned",
			opts: func(o *Options) { o.DKIM, o.DKIMDomain = []crypto.Signer{testKey(t, "ed25519")}, "other.example" },
			code: "dkim-alignment", severity: SeverityWarning,
		},
		{
			name: "campaign from another domain",
			opts: func(o *Options) { o.DKIM = []crypto.Signer{testKey(t, "ed25519")} },
			mod: func(m *list.Message) {
				m.DefaultFrom = m.From
				m.Campaign.From, m.From = "Other <x@Other.example>", "Other <x@Other.example>"
			},
			code: "dkim-domain", severity: SeverityWarning, text: "The campaign's sender is at other.example, but the DKIM record Bulletin shows (settings page, bulletin dkim dns) is for news.example.com only",
		},
		{
			name: "list from another domain",
			opts: func(o *Options) { o.DKIM = []crypto.Signer{testKey(t, "ed25519")} },
			mod: func(m *list.Message) {
				m.DefaultFrom = "Bulletin <newsletter@mail.example.org>"
				m.List.From, m.From = "List <l@news.example.com>", "List <l@news.example.com>"
			},
			code: "dkim-domain", severity: SeverityWarning, text: `The sender of the list "The Weekly" is at news.example.com, but the DKIM record Bulletin shows (settings page, bulletin dkim dns) is for mail.example.org only`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newTestSender(t, tc.opts)
			m := testMessage()
			if tc.mod != nil {
				tc.mod(m)
			}
			got := s.Lint(t.Context(), m)
			found := false
			seen := map[string]bool{}
			for _, f := range got {
				if f.Code == tc.code && f.Severity == tc.severity && strings.Contains(f.Message, tc.text) {
					found = true
				}
				if seen[f.Code] {
					t.Errorf("finding %s given twice: %+v", f.Code, got)
				}
				seen[f.Code] = true
				if f.Fix == "" {
					t.Errorf("finding %s has no fix", f.Code)
				}
				// Each message is a sentence for the editor, whichever
				// layer found the problem.
				if strings.Contains(f.Message, "smtp:") || !strings.HasSuffix(f.Message, ".") || !startsUpper(f.Message) {
					t.Errorf("finding %s is not a sentence for the editor: %q", f.Code, f.Message)
				}
			}
			if !found {
				t.Errorf("Lint = %+v, want %s %s containing %q", got, tc.severity, tc.code, tc.text)
			}
		})
	}
}

// TestLintDKIMDomainRecords: the warning about a sender at another domain
// gives the records to publish there, one per signing key, and none is
// given for a sender at the instance's domain or while d= is fixed.
func TestLintDKIMDomainRecords(t *testing.T) {
	t.Parallel()
	keys := []crypto.Signer{testKey(t, "rsa"), testKey(t, "ed25519")}
	s := newTestSender(t, func(o *Options) { o.DKIM = keys })
	m := testMessage()
	m.DefaultFrom = "Bulletin <newsletter@news.example.com>"
	m.Campaign.From, m.From = "Other <x@other.example>", "Other <x@other.example>"
	var fix string
	for _, f := range s.Lint(t.Context(), m) {
		if f.Code == "dkim-domain" {
			fix = f.Fix
		}
	}
	for i, sel := range []string{"bulletin", "bulletin-ed25519"} {
		rec, _ := dkimRecord(keys[i])
		if want := sel + "._domainkey.other.example TXT \"" + rec + "\""; !strings.Contains(fix, want) {
			t.Errorf("fix = %q, lacks %s", fix, want)
		}
	}
	if !strings.Contains(fix, "_dmarc.other.example") || !strings.Contains(fix, "Send from an address at news.example.com") {
		t.Errorf("fix = %q, lacks DMARC or the instance's domain", fix)
	}
	for name, mod := range map[string]func(*Options, *list.Message){
		"instance domain": func(_ *Options, m *list.Message) { m.Campaign.From, m.From = "", m.DefaultFrom },
		"default from elsewhere": func(_ *Options, m *list.Message) {
			m.DefaultFrom = "B <b@other.example>"
		},
		"fixed d=": func(o *Options, _ *list.Message) { o.DKIMDomain = "other.example" },
	} {
		var o Options
		m := testMessage()
		m.DefaultFrom = "Bulletin <newsletter@news.example.com>"
		m.Campaign.From, m.From = "Other <x@other.example>", "Other <x@other.example>"
		mod(&o, m)
		s := newTestSender(t, func(opts *Options) { opts.DKIM, opts.DKIMDomain = keys, o.DKIMDomain })
		if hasFinding(s.Lint(t.Context(), m), "dkim-domain", SeverityWarning) {
			t.Errorf("%s: dkim-domain warning, want none", name)
		}
	}
}

func TestLintAllAtOnce(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, func(o *Options) { o.BaseURL = "http://x.example" })
	m := testMessage()
	m.PostalAddress, m.Campaign.Subject = "", ""
	got := s.Lint(t.Context(), m)
	for _, code := range []string{"postal-address", "subject-empty", "base-url-https", "dkim-none"} {
		if !hasFinding(got, code, SeverityError) && !hasFinding(got, code, SeverityWarning) {
			t.Errorf("Lint = %+v, lacks %s", got, code)
		}
	}
}

func startsUpper(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsUpper(r) || r == '"' || r == '“'
}
