package smtp

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bulletin/bulletin/list"
)

func TestHTMLToText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"<p>Hello <b>World</b></p><p>Two</p>", "Hello World\n\nTwo\n"},
		{`<a href="https://x.example/a?b=1&amp;c=2">the story</a>`, "the story (https://x.example/a?b=1&c=2)\n"},
		{`<a href="https://x.example/">https://x.example/</a>`, "https://x.example/\n"},
		{`<a href="mailto:a@x.example">a@x.example</a>`, "a@x.example\n"},
		{`<a href="#top">Top</a>`, "Top\n"},
		{"<ul><li>One</li><li>Two<ul><li>Deep</li></ul></li></ul><p>After</p>", "- One\n- Two\n  - Deep\n\nAfter\n"},
		{"<ol><li>One</li><li>Two</li></ol>", "1. One\n2. Two\n"},
		{"a<br>b<br><br>c", "a\nb\n\nc\n"},
		{"<style>p{color:red}</style><script>x()</script><title>T</title>Text &amp; &lt;more&gt; &eacute;", "Text & <more> é\n"},
		{`<div style="display: none">preheader</div><p>Body</p>`, "Body\n"},
		{`<img src="x.png" alt="Logo"> <p>x</p>`, "Logo\n\nx\n"},
		{"<blockquote><p>quoted</p></blockquote>", "> quoted\n"},
		{"<pre>  a\n   b</pre>", "  a\n   b\n"},
		{"<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc\n"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := HTMLToText(tc.in); got != tc.want {
			t.Errorf("HTMLToText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHTMLToTextWraps(t *testing.T) {
	t.Parallel()
	in := "<p>" + strings.Repeat("word ", 100) + `<a href="https://example.org/a/very/long/path/that/does/not/fit/on/any/line/at/all/really">x</a></p>`
	got := HTMLToText(in)
	for _, line := range strings.Split(got, "\n") {
		if n := utf8.RuneCountInString(line); n > textWidth && strings.Contains(line, " ") {
			t.Errorf("line of %d characters: %q", n, line)
		}
	}
	if !strings.Contains(got, "(https://example.org/a/very/long/path/that/does/not/fit/on/any/line/at/all/really)") {
		t.Errorf("URL broken:\n%s", got)
	}
}

func TestQP(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"a=b\n", "a=3Db\r\n"},
		{"trailing \nx\t", "trailing=20\r\nx=09"},
		{"é", "=C3=A9"},
		{strings.Repeat("x", 80), strings.Repeat("x", 75) + "=\r\n" + strings.Repeat("x", 5)},
		{strings.Repeat("x", 76) + "\n", strings.Repeat("x", 76) + "\r\n"},
		{"a\r\nb\rc", "a\r\nb=0Dc"},
		{"From here\nFrom\nFrom the top\n", "=46rom here\r\nFrom\r\n=46rom the top\r\n"},
		{".\n.x\n..\na.\n.", "=2E\r\n.x\r\n..\r\na.\r\n=2E"},
		{"not From here", "not From here"},
		// A soft break just before "From " or "." must not start a line with it.
		{strings.Repeat("x", 75) + "From me", strings.Repeat("x", 75) + "=\r\n=46rom me"},
		{strings.Repeat("x", 75) + ".y.\n", strings.Repeat("x", 75) + "=\r\n.y.\r\n"},
		{strings.Repeat("x", 76) + ".\n", strings.Repeat("x", 75) + "=\r\nx.\r\n"},
	}
	for _, tc := range tests {
		if got := string(appendQP(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("appendQP(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestGeneratedText(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	tests := []struct {
		name, body string
		want       []string
	}{
		{"actions kept", `<p>Hi {{.Name}}, <a href="{{.ManageURL}}">manage</a></p>{{if .Attributes.vip}}<p>VIP</p>{{end}}<p>End</p>`,
			[]string{"Hi Ann, manage (https://news.example.com/manage/m7bbbbbbbbbbbbbbbbbbbbbbbb)\n\nEnd"}},
		{"entity braces stay text", `<p>&#123;&#123;.Name&#125;&#125; and {{.Name}}</p>`, []string{"{{.Name}} and Ann"}},
		{"quoted string across a wrap", `<p>` + strings.Repeat("filler ", 10) + `{{index .Attributes "city"}} is home</p>`, []string{"Lyon is home"}},
	}
	for _, tc := range tests {
		m := testMessage()
		m.Campaign.Body = tc.body
		m.Campaign.ID = 100 + list.CampaignID(len(tc.name))
		r, err := s.render(m)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(r.text), w) {
				t.Errorf("%s: text part lacks %q:\n%s", tc.name, w, r.text)
			}
		}
	}
}
