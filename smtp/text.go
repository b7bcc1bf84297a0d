package smtp

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// textWidth is where generated text lines wrap.
const textWidth = 76

// HTMLToText converts an HTML mail body to readable plain text: no tags,
// entities decoded, links kept as "text (url)", paragraphs separated by a
// blank line, list items on their own lines, lines wrapped at 76 characters.
func HTMLToText(src string) string {
	var b bytes.Buffer
	HTMLToTextTo(&b, []byte(src))
	return b.String()
}

// HTMLToTextTo is HTMLToText writing into dst.
func HTMLToTextTo(dst *bytes.Buffer, src []byte) {
	c := converter{out: dst, origin: dst.Len()}
	z := html.NewTokenizer(bytes.NewReader(src))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		switch tt {
		case html.TextToken:
			c.text(z.Text())
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			c.start(z, atom.Lookup(name), hasAttr, tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			name, _ := z.TagName()
			c.end(atom.Lookup(name))
		}
	}
	c.finish()
}

type listState struct {
	ordered bool
	n       int
}

// converter writes words and line breaks, wrapping lines.
type converter struct {
	out    *bytes.Buffer
	origin int // where this conversion began in out
	col    int // runes on the current line
	// breaks is the number of line breaks owed before the next word; space
	// a space owed between two words.
	breaks int
	space  bool
	// quote is the blockquote depth; indent the list indentation.
	quote  int
	indent int
	lists  []listState
	pre    int
	// skip is the tag stack depth at which hidden content started, 0 when
	// nothing is hidden; depth counts open non-void elements.
	skip  int
	depth int
	raw   atom.Atom // inside script, style, title or head
	links []link
	// bullet is a list marker waiting for the item's first word.
	bullet string
}

type link struct {
	href string
	// text is the link's text so far, kept up to maxLinkText bytes.
	text []byte
}

const maxLinkText = 2048

var voidElements = map[atom.Atom]bool{
	atom.Area: true, atom.Base: true, atom.Br: true, atom.Col: true, atom.Embed: true,
	atom.Hr: true, atom.Img: true, atom.Input: true, atom.Link: true, atom.Meta: true,
	atom.Source: true, atom.Track: true, atom.Wbr: true,
}

func (c *converter) start(z *html.Tokenizer, a atom.Atom, hasAttr, selfClosing bool) {
	var href, alt, style string
	for hasAttr {
		var k, v []byte
		k, v, hasAttr = z.TagAttr()
		switch string(k) {
		case "href":
			href = string(v)
		case "alt":
			alt = string(v)
		case "style":
			style = string(v)
		case "hidden":
			style = "display:none"
		}
	}
	void := voidElements[a] || selfClosing
	if !void {
		c.depth++
	}
	if c.skip > 0 || c.raw != 0 {
		return
	}
	switch a {
	case atom.Script, atom.Style, atom.Title, atom.Head, atom.Template, atom.Noscript:
		if !void {
			c.raw = a
		}
		return
	}
	if !void && isHidden(style) {
		c.skip = c.depth
		return
	}
	c.open(a, href, alt)
}

func isHidden(style string) bool {
	if style == "" {
		return false
	}
	s := strings.ToLower(strings.ReplaceAll(style, " ", ""))
	return strings.Contains(s, "display:none") || strings.Contains(s, "visibility:hidden")
}

func (c *converter) open(a atom.Atom, href, alt string) {
	switch a {
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Table, atom.Pre:
		c.lineBreak(2)
		if a == atom.Pre {
			c.pre++
		}
	case atom.Blockquote:
		c.lineBreak(2)
		c.quote++
	case atom.Div, atom.Tr, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Dd, atom.Dt:
		c.lineBreak(1)
	case atom.Ul, atom.Ol:
		c.lineBreak(1)
		if len(c.lists) == 0 {
			c.lineBreak(2)
		}
		c.lists = append(c.lists, listState{ordered: a == atom.Ol})
	case atom.Li:
		c.lineBreak(1)
		bullet := "- "
		if n := len(c.lists); n > 0 {
			l := &c.lists[n-1]
			l.n++
			if l.ordered {
				bullet = strconv.Itoa(l.n) + ". "
			}
			c.indent = 2 * (n - 1)
		}
		c.bullet = bullet
	case atom.Br:
		c.breaks++
		c.space = false
	case atom.Hr:
		c.lineBreak(2)
		c.word("----------")
		c.lineBreak(2)
	case atom.Td, atom.Th:
		c.space = true
	case atom.Img:
		if alt = strings.TrimSpace(alt); alt != "" {
			c.text([]byte(alt))
		}
	case atom.A:
		c.links = append(c.links, link{href: strings.TrimSpace(href)})
	}
}

func (c *converter) end(a atom.Atom) {
	if voidElements[a] {
		return
	}
	depth := c.depth
	if c.depth > 0 {
		c.depth--
	}
	if c.raw != 0 {
		if a == c.raw {
			c.raw = 0
		}
		return
	}
	if c.skip > 0 {
		if depth <= c.skip {
			c.skip = 0
		}
		return
	}
	switch a {
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Table:
		c.lineBreak(2)
	case atom.Pre:
		c.pre = max(0, c.pre-1)
		c.lineBreak(2)
	case atom.Blockquote:
		c.quote = max(0, c.quote-1)
		c.lineBreak(2)
	case atom.Div, atom.Tr, atom.Li, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Dd, atom.Dt:
		c.lineBreak(1)
	case atom.Ul, atom.Ol:
		if n := len(c.lists); n > 0 {
			c.lists = c.lists[:n-1]
		}
		c.indent = max(0, 2*(len(c.lists)-1))
		if len(c.lists) == 0 {
			c.indent = 0
			c.lineBreak(2)
		} else {
			c.lineBreak(1)
		}
	case atom.A:
		c.closeLink()
	}
}

// closeLink writes " (url)" after a link's text unless the text already
// says it.
func (c *converter) closeLink() {
	n := len(c.links)
	if n == 0 {
		return
	}
	l := &c.links[n-1]
	c.links = c.links[:n-1]
	href, text := l.href, strings.TrimSpace(string(l.text))
	if href == "" || strings.HasPrefix(href, "#") || strings.HasPrefix(strings.ToLower(href), "javascript:") {
		return
	}
	bare := strings.TrimPrefix(strings.TrimPrefix(href, "mailto:"), "tel:")
	if text == href || text == bare || strings.TrimSuffix(text, "/") == strings.TrimSuffix(bare, "/") {
		return
	}
	if text == "" {
		c.word(href)
		return
	}
	c.space = true
	c.word("(" + href + ")")
}

func (c *converter) text(t []byte) {
	if c.raw != 0 || c.skip > 0 || len(t) == 0 {
		return
	}
	for i := range c.links {
		if l := &c.links[i]; len(l.text) < maxLinkText {
			l.text = append(l.text, t...)
		}
	}
	if c.pre > 0 {
		c.preText(t)
		return
	}
	s := string(t)
	if isSpace(s[0]) {
		c.space = true
	}
	fields := strings.Fields(s)
	for i, w := range fields {
		if i > 0 {
			c.space = true
		}
		c.word(w)
	}
	if len(fields) > 0 && isSpace(s[len(s)-1]) {
		c.space = true
	}
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' }

// preText writes preformatted text as is, line by line.
func (c *converter) preText(t []byte) {
	for i, line := range strings.Split(strings.ReplaceAll(string(t), "\r\n", "\n"), "\n") {
		if i > 0 {
			c.breaks = max(c.breaks, 1)
			if c.col == 0 {
				c.breaks++
			}
		}
		if line != "" {
			c.space = false
			c.word(line)
		}
	}
}

func (c *converter) lineBreak(n int) {
	if c.breaks < n {
		c.breaks = n
	}
	c.space = false
}

// word writes w, wrapping before it when the line would grow too long.
func (c *converter) word(w string) {
	written := c.out.Len() > c.origin
	if c.breaks > 0 && written {
		for range min(c.breaks, 2) {
			c.newline()
		}
	}
	if c.breaks > 0 || !written || c.col == 0 {
		c.breaks = 0
		c.space = false
		c.beginLine(c.bullet)
		c.bullet = ""
	}
	n := utf8.RuneCountInString(w)
	if c.space {
		if c.pre == 0 && c.col+1+n > textWidth && c.col > c.margin() {
			c.newline()
			c.beginLine("")
		} else {
			c.out.WriteByte(' ')
			c.col++
		}
		c.space = false
	}
	c.out.WriteString(w)
	c.col += n
}

func (c *converter) margin() int { return c.indent + 2*c.quote }

func (c *converter) beginLine(bullet string) {
	for range c.quote {
		c.out.WriteString("> ")
	}
	pad := c.indent
	if bullet == "" && len(c.lists) > 0 {
		pad += 2 // continuation of a list item, under its text
	}
	for range pad {
		c.out.WriteByte(' ')
	}
	c.out.WriteString(bullet)
	c.col = 2*c.quote + pad + utf8.RuneCountInString(bullet)
}

func (c *converter) newline() {
	// No trailing blanks on a line.
	b := c.out.Bytes()
	i := len(b)
	for i > c.origin && b[i-1] == ' ' {
		i--
	}
	c.out.Truncate(i)
	c.col = 0
	// Never more than one blank line in a row.
	if i-c.origin >= 2 && b[i-1] == '\n' && b[i-2] == '\n' {
		return
	}
	c.out.WriteByte('\n')
}

func (c *converter) finish() {
	b := c.out.Bytes()
	i := len(b)
	for i > c.origin && (b[i-1] == ' ' || b[i-1] == '\n') {
		i--
	}
	c.out.Truncate(i)
	if i > c.origin {
		c.out.WriteByte('\n')
	}
}
