package smtp

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// markdownValuesBody puts values in the places of a Markdown body where
// Markdown would read them: line starts, emphasis, a code span, a heading,
// a table cell, a link target, raw HTML, and the editor's own conditions.
const markdownValuesBody = "{{.Name}}\n\n" +
	"Hello {{.Name}}, *{{.Name}}* and `{{.Name}}`.\n\n" +
	"# {{.Name}}\n\n" +
	"| who |\n|-----|\n| {{.Name}} |\n\n" +
	"{{index .Attributes \"note\"}}\n\n" +
	"<{{.Email}}>\n\n" +
	"<p title=\"{{.Name}}\">{{.Name}}</p>\n\n" +
	"[site](https://example.org/?n={{.Name}}) [x]\n\n" +
	"{{if .Name}}Dear reader{{end}}{{if eq .Name \"Ann\"}}, Ann{{end}}. [Manage]({{.ManageURL}})\n"

// hostileValues are values that Markdown would make into elements.
var hostileValues = []string{
	"[Claim prize](https://evil.example/x) **now** ![i](https://evil.example/p.gif)",
	"<https://evil.example/auto>",
	"https://evil.example/bare www.evil.example evil@evil.example",
	`<b>bold</b><img src="https://evil.example/p.gif"> &amp; &lt;`,
	"*em* _em_ ~~gone~~ __strong__",
	"# Heading",
	"- item",
	"1. item",
	"> quote",
	"---",
	"`code` ``x` ``",
	`\*not em\* \\ \`,
	"line one\n\n# two\n\n    code\n\n- three\n===",
	"| a | b |\n|---|---|\n| c | d |",
	"[x]: https://evil.example/ref",
	"{{.Email}}",
	holdOpen + "x" + holdClose + holdToken + "0z",
	"\x00 \u2028 zé",
}

// tagShape is the tags and attribute names of an HTML part, without the
// text and attribute values, where the values belong.
var tagPattern = regexp.MustCompile(`<(/?[a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z:-]+(?:="[^"]*")?)*)\s*/?>`)
var attrName = regexp.MustCompile(`\s([a-zA-Z:-]+)(?:="[^"]*")?`)

func tagShape(html string) string {
	var b strings.Builder
	for _, m := range tagPattern.FindAllStringSubmatch(html, -1) {
		b.WriteString("<" + strings.ToLower(m[1]))
		for _, a := range attrName.FindAllStringSubmatch(m[2], -1) {
			b.WriteString(" " + a[1])
		}
		b.WriteString(">")
	}
	return b.String()
}

// squash is s with its white space collapsed, as HTML shows it.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestMarkdownValuesAreText: a subscriber's name or attribute in a Markdown
// campaign is shown as written in both parts; it makes no link, image,
// heading or emphasis, whatever Markdown or HTML it holds, and the editor's
// own conditions on it still work.
func TestMarkdownValuesAreText(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	render := func(name, note string) (htmlPart, textPart string) {
		t.Helper()
		m := testMessage()
		m.Campaign.Format = list.FormatMarkdown
		m.Campaign.Body, m.Campaign.Subject = markdownValuesBody, "Issue 12"
		m.Subscriber.Name = name
		m.Subscriber.Attributes = map[string]string{"note": note}
		raw, err := s.Preview(t.Context(), m)
		if err != nil {
			t.Fatalf("name %q: %v", name, err)
		}
		p := parseMessage(t, raw)
		return p.parts["text/html"], p.parts["text/plain"]
	}
	plainHTML, _ := render("Ann", "a note")
	if !strings.Contains(plainHTML, "Dear reader, Ann.") {
		t.Errorf("the editor's conditions on .Name did not run:\n%s", plainHTML)
	}
	if !strings.Contains(plainHTML, `<a href="https://example.org/?n=Ann">site</a>`) || !strings.Contains(plainHTML, `<a href="https://news.example.com/manage/`) {
		t.Errorf("the links of the body are lost:\n%s", plainHTML)
	}
	want := tagShape(plainHTML)
	for _, v := range hostileValues {
		htmlPart, textPart := render(v, v)
		if got := tagShape(htmlPart); got != want {
			t.Errorf("name %q: the HTML part's tags changed:\n got %s\nwant %s\n%s", v, got, want, htmlPart)
		}
		shown := squash(html.UnescapeString(tagPattern.ReplaceAllString(htmlPart, " ")))
		// NUL is no character to show (U+FFFD stands in), and the
		// renderer's marker is taken out of values.
		lit := squash(strings.ReplaceAll(strings.ReplaceAll(v, "\x00", "\uFFFD"), holdPrefix, ""))
		if !strings.Contains(shown, lit) {
			t.Errorf("name %q: the HTML part does not show it as written:\n%s", v, htmlPart)
		}
		if !strings.Contains(squash(textPart), lit) {
			t.Errorf("name %q: the text part does not show it as written:\n%s", v, textPart)
		}
		if strings.Contains(htmlPart, "Dear reader,") {
			t.Errorf("name %q: {{if eq .Name \"Ann\"}} held", v)
		}
	}
}

// FuzzMarkdownValues checks that no name or attribute creates an element
// or attribute in a Markdown body: the HTML has the same tags as with a
// plain value, and no marker of the renderer is left in it.
func FuzzMarkdownValues(f *testing.F) {
	for _, v := range hostileValues {
		f.Add(v, v)
	}
	c := testCampaign()
	c.Format, c.Body = list.FormatMarkdown, markdownValuesBody
	tmpl, err := parseCampaign(c)
	if err != nil {
		f.Fatal(err)
	}
	render := func(t *testing.T, name, note string) string {
		m := testMessage()
		m.Subscriber.Name, m.Subscriber.Attributes = name, map[string]string{"note": note}
		var b bytes.Buffer
		if err := tmpl.renderMarkdown(&b, data(m)); err != nil {
			t.Fatalf("name %q, note %q: %v", name, note, err)
		}
		return b.String()
	}
	plain := func(v string) string {
		if v == "" {
			return ""
		}
		return "Ann"
	}
	f.Fuzz(func(t *testing.T, name, note string) {
		got := render(t, name, note)
		if want := render(t, plain(name), plain(note)); tagShape(got) != tagShape(want) {
			t.Fatalf("name %q, note %q: tags\n%s\nwant\n%s", name, note, got, want)
		}
		if strings.Contains(got, holdPrefix) {
			t.Fatalf("name %q, note %q: a marker is left:\n%s", name, note, got)
		}
	})
}
