package smtp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/bulletin/bulletin/list"
)

// Finding severities.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Lint checks a campaign before its first message goes, rendering it for
// sample's recipient, and returns every finding at once. Errors block
// sending: no postal address, no unsubscribe link in a part, an empty
// subject or control characters in it, a broken template, an advertisement
// whose layout drops the notice, headers that cannot be built. Warnings: no
// DKIM key, a DKIM domain not aligned with From, a From at another domain
// than the one whose DKIM record is shown, a base URL not on HTTPS,
// footer pieces the layout lacks and the builder adds, parts of a body
// written as a whole HTML document that are left out.
func (s *Sender) Lint(ctx context.Context, sample *list.Message) []list.Finding {
	var l linter
	if sample == nil || sample.Campaign == nil {
		l.err("campaign", "There is no campaign to check.", "Lint a campaign message.")
		return l.out
	}
	m := *sample
	m.Kind = ""
	s.lintSettings(&l, &m)
	s.lintSubject(&l, m.Campaign.Subject)
	s.lintDKIM(&l, &m)
	if ctx.Err() != nil {
		return l.out
	}
	if _, err := parseCampaign(m.Campaign); err != nil {
		l.err("template", findingText("does not parse", err), "Fix the template at the line named; text/template syntax is {{.Name}}, {{if …}}…{{end}}.")
		return l.out
	}
	r, err := s.render(&m)
	if err != nil {
		l.err("template", findingText("fails for the sample recipient", err), "Fix the template: it fails when run for the sample recipient.")
		return l.out
	}
	s.lintParts(&l, &m, r)
	lintActiveContent(&l, r.html)
	if len(r.dropped) > 0 {
		l.warn("html-document", "The body is a whole HTML document: its <body> content and <head> styles go into the layout, but "+strings.Join(r.dropped, ", ")+" are left out.",
			"Move what those did into a <style> element or style attributes, or build the look into the campaign layout (Layout, {{.Body}} where the content goes).")
	}
	for _, part := range r.noBody {
		l.err("layout-body", "The "+part+" part of the layout leaves out the campaign's text: every campaign would go out empty.",
			"Keep {{.Body}} in both parts of the layout: the campaign's text goes there.")
	}
	// The rendered subject can be empty, or break a line, only through the
	// template: a finding already made of the subject as written is enough.
	if strings.TrimSpace(r.subject) == "" {
		if !l.has("subject-empty") {
			l.err("subject-empty", "The subject is empty for the sample recipient.", "Write a subject.")
		}
	} else if err := checkValue("subject", r.subject); err != nil && !l.has("subject-control") {
		l.err("subject-control", "The subject contains control characters for the sample recipient.", "Remove line breaks and control characters from the subject and the fields it uses.")
	}
	if l.errors() == 0 {
		if _, err := s.build(&m, r); err != nil {
			l.err("headers", findingText("", err), "Fix the sender, list or links named in the error.")
		}
	}
	return l.out
}

type linter struct{ out []list.Finding }

// has reports whether a finding with code was made.
func (l *linter) has(code string) bool {
	for _, f := range l.out {
		if f.Code == code {
			return true
		}
	}
	return false
}

func (l *linter) err(code, msg, fix string) {
	l.out = append(l.out, list.Finding{Severity: SeverityError, Code: code, Message: msg, Fix: fix})
}

func (l *linter) warn(code, msg, fix string) {
	l.out = append(l.out, list.Finding{Severity: SeverityWarning, Code: code, Message: msg, Fix: fix})
}

func (l *linter) errors() int {
	n := 0
	for _, f := range l.out {
		if f.Severity == SeverityError {
			n++
		}
	}
	return n
}

func (s *Sender) lintSettings(l *linter, m *list.Message) {
	if strings.TrimSpace(m.PostalAddress) == "" {
		l.err("postal-address", "No postal address is set: bulk mail must carry the sender's postal address.",
			"Set the postal address in Settings (or --postal-address).")
	}
	if m.List == nil {
		l.err("list-id", "The campaign has no list, so the message would have no List-Id.", "Choose at least one list.")
	}
	if m.UnsubscribeURL == "" {
		l.err("unsubscribe", "The message has no unsubscribe URL (List-Unsubscribe).", "Set the base URL so that unsubscribe links can be made.")
	}
	base := s.opts.BaseURL
	if base == "" {
		base = m.UnsubscribeURL
	}
	if u, err := url.Parse(base); base != "" && (err != nil || u.Scheme != "https") {
		l.warn("base-url-https", fmt.Sprintf("The base URL %q is not HTTPS: one-click unsubscribe (RFC 8058) needs an https link, and mailbox providers distrust plain http.", base),
			"Serve Bulletin behind HTTPS and set --base-url to its https:// address.")
	}
}

func (s *Sender) lintSubject(l *linter, subject string) {
	if strings.TrimSpace(subject) == "" {
		l.err("subject-empty", "The subject is empty.", "Write a subject.")
		return
	}
	if strings.ContainsFunc(subject, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
		l.err("subject-control", "The subject contains a line break or control character.", "Write the subject on one line, without control characters.")
	}
}

func (s *Sender) lintDKIM(l *linter, m *list.Message) {
	if len(s.signer.keys) == 0 {
		l.warn("dkim-none", "No DKIM key is configured: mailbox providers reject or junk unsigned bulk mail.",
			"Generate a key (bulletin dkim keygen) and publish the record that bulletin dkim dns prints.")
		return
	}
	from, err := parseMailbox("From", m.From)
	if err != nil {
		l.err("from", err.Error(), "Set the campaign's sender as Name <address@your-domain>.")
		return
	}
	if d := s.signer.domain; d != "" && !aligned(d, from.Domain()) {
		l.warn("dkim-alignment", fmt.Sprintf("The DKIM signing domain %s is not aligned with the From domain %s, so DMARC will not pass on DKIM.", d, from.Domain()),
			"Send from an address at "+d+", or sign with a key of "+from.Domain()+".")
	}
	if s.signer.domain == "" {
		s.lintDKIMDomain(l, m, normDomain(from.Domain()))
	}
}

// lintDKIMDomain warns about a sender at another domain than the one whose
// DKIM record the settings page and bulletin dkim dns print: its mail is
// signed with d= its own domain (RFC 6376 section 3.5), where no record
// was asked for, and the envelope sender is at the bounce domain, so
// neither DKIM nor SPF can make DMARC pass.
func (s *Sender) lintDKIMDomain(l *linter, m *list.Message, domain string) {
	published := s.domain
	if a, err := parseMailbox("From", m.DefaultFrom); err == nil {
		published = a.Domain()
	}
	published = normDomain(published)
	if domain == published {
		return
	}
	whose := "The sender"
	switch {
	case m.Campaign.From != "":
		whose = "The campaign's sender"
	case m.List != nil && m.List.From != "":
		whose = fmt.Sprintf("The sender of the list %q", m.List.Name)
	}
	var recs []string
	for i, sel := range Selectors(s.opts.DKIMSelector, s.opts.DKIM) {
		if rec, err := dkimRecord(s.opts.DKIM[i]); err == nil {
			recs = append(recs, fmt.Sprintf("%s._domainkey.%s TXT %q", sel, domain, rec))
		}
	}
	l.warn("dkim-domain", fmt.Sprintf("%s is at %s, but the DKIM record Bulletin shows (settings page, bulletin dkim dns) is for %s only: mail from %s is signed with d=%s, which fails at receivers until %s publishes the key, and SPF (checked at the bounce domain) does not align with %s either, so DMARC fails.",
		whose, domain, published, domain, domain, domain, domain),
		"Send from an address at "+published+", or publish in the DNS of "+domain+": "+strings.Join(recs, "; ")+
			"; and a DMARC record _dmarc."+domain+` TXT "v=DMARC1; p=none".`)
}

// aligned reports DMARC relaxed alignment (RFC 7489 section 3.1.1) by a
// suffix check: one domain is the other or a subdomain of it.
func aligned(a, b string) bool {
	a, b = normDomain(a), normDomain(b)
	return a == b || strings.HasSuffix(a, "."+b) || strings.HasSuffix(b, "."+a)
}

// lintParts checks what the layouts produced and what the builder had to add.
func (s *Sender) lintParts(l *linter, m *list.Message, r *rendered) {
	d := data(m)
	parts := []struct {
		name   string
		body   []byte
		escape func(string) string
	}{{"text", r.text, identity}, {"HTML", r.html, htmlEscape}}
	for _, p := range parts {
		for _, piece := range missing(p.body, d, p.escape) {
			switch piece {
			case pieceUnsubscribe:
				l.err("unsubscribe-link", "The "+p.name+" part has no visible unsubscribe link.", "Keep {{.UnsubscribeURL}} in the footer of mail/layout.html and mail/layout.txt.")
			case piecePostal:
				l.err("postal-address-footer", "The "+p.name+" part does not show the postal address.", "Keep {{.PostalAddress}} in the footer of the layouts.")
			}
		}
	}
	for _, piece := range r.inserted {
		switch piece {
		case pieceAd:
			l.err("advertisement-notice", "The campaign is an advertisement but the layout does not say so.", "Keep the {{if .Advertisement}} notice in the layouts' footer.")
		case pieceUnsubscribe, piecePostal, piecePrivacy:
			l.warn("footer-inserted", "The layout lacks the "+piece+"; a default footer line is appended.", "Put it in the footer of mail/layout.html and mail/layout.txt.")
		}
	}
}

// activeTag finds the HTML elements mail clients strip or refuse to run:
// scripts, frames, embedded objects and forms.
var activeTag = regexp.MustCompile(`(?i)<\s*(script|iframe|frame|object|embed|applet|form)\b`)

// lintActiveContent warns about elements no mail client runs, which spam
// filters score against the sender: the campaign's HTML is sent as it is
// written (Markdown passes raw HTML through).
func lintActiveContent(l *linter, html []byte) {
	var tags []string
	for _, m := range activeTag.FindAllSubmatch(html, -1) {
		if t := "<" + strings.ToLower(string(m[1])) + ">"; !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	if len(tags) > 0 {
		l.warn("html-active", "The HTML part contains "+strings.Join(tags, ", ")+": mail clients do not run it, and spam filters count it against the sender.",
			"Remove scripts, frames, forms and embedded objects from the campaign; link to a web page for anything interactive.")
	}
}

// findingText words an error as a finding's message: a sentence for the
// editor, without the package's "smtp:" prefix. A template's error names
// the template and says what went wrong (what), then text/template's own
// words ("body:1: unclosed action").
func findingText(what string, err error) string {
	var te *TemplateError
	if errors.As(err, &te) {
		return list.Sentence("The " + te.Part + " template " + what + ": " + strings.TrimPrefix(te.Err.Error(), "template: "))
	}
	return list.Sentence(strings.TrimPrefix(err.Error(), "smtp: "))
}
