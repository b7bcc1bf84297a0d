package smtp

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	"sync"
	"text/template/parse"

	texttemplate "text/template"
)

// A Markdown body's values (a subscriber's name, email and attributes, and
// whatever else an action prints) are data, not Markdown: a name written
// as "[Win](https://x)" must not become a link. Escaping them for Markdown
// cannot be right everywhere (backslashes show in code spans and HTML
// blocks, a backtick still ends a code span), so they are kept out of the
// Markdown altogether:
//
//  1. the body runs as a text/template whose printing actions end in
//     holdFunc, which wraps each value in markers;
//  2. each marked value is replaced by a token of letters and digits,
//     which Markdown leaves alone wherever it stands;
//  3. goldmark converts the tokenized source;
//  4. each token becomes an action of a second template, run by
//     html/template over the HTML, so that each value is escaped for the
//     place it ended up in: text, a link's href, an attribute, a script.
//
// The converted second template depends only on the tokenized source,
// which is the same for every recipient who takes the same branches of the
// template, so it is kept per campaign version.

// Markers and tokens share holdPrefix. Its letters are none of the hex
// digits, nor u or x next to one, so no escape sequence can complete it;
// and holdFunc removes it from values, so a value can forge neither.
const (
	holdPrefix = "zqvjwkglz"
	holdOpen   = holdPrefix + "o" // a value to escape follows
	holdOpenH  = holdPrefix + "h" // trusted HTML (the lines function) follows
	holdClose  = holdPrefix + "c"
	holdToken  = holdPrefix + "t" // + the value's index + "z"
	holdFunc   = "_bulletin_hold"
)

// linkFields stay in the Markdown as they are: a bare one becomes a link,
// and they are Bulletin's own URLs, not anyone's input.
var linkFields = map[string]bool{"UnsubscribeURL": true, "ManageURL": true, "ConfirmURL": true, "PrivacyURL": true}

// hold wraps a printed value in markers, keeping the type of the trusted
// HTML that lines returns.
func hold(v any) string {
	open := holdOpen
	var s string
	switch v := v.(type) {
	case htmltemplate.HTML:
		open, s = holdOpenH, string(v)
	case string:
		s = v
	default:
		s = fmt.Sprint(v)
	}
	for strings.Contains(s, holdPrefix) {
		s = strings.ReplaceAll(s, holdPrefix, "")
	}
	return open + s + holdClose
}

// markdownFuncs are the functions of a Markdown body template.
var markdownFuncs = map[string]any{"lines": lines, holdFunc: hold}

// parseMarkdownBody parses a Markdown body as a text/template whose
// printing actions hold their values.
func parseMarkdownBody(body string) (*texttemplate.Template, error) {
	t, err := texttemplate.New("body").Funcs(markdownFuncs).Option("missingkey=zero").Parse(body)
	if err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			holdActions(tt.Tree.Root)
		}
	}
	return t, nil
}

// holdActions appends holdFunc to every action of n that prints.
func holdActions(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			holdActions(c)
		}
	case *parse.ActionNode:
		if len(n.Pipe.Decl) > 0 || isLinkField(n.Pipe) {
			return
		}
		cmds := n.Pipe.Cmds
		// The second pass escapes for the context; an escaper written
		// here would escape twice.
		for len(cmds) > 1 && isIdent(cmds[len(cmds)-1], "html", "urlquery") {
			cmds = cmds[:len(cmds)-1]
		}
		ident := parse.NewIdentifier(holdFunc).SetPos(n.Pos)
		n.Pipe.Cmds = append(cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pos, Args: []parse.Node{ident}})
	case *parse.IfNode:
		holdActions(n.List)
		holdActions(n.ElseList)
	case *parse.RangeNode:
		holdActions(n.List)
		holdActions(n.ElseList)
	case *parse.WithNode:
		holdActions(n.List)
		holdActions(n.ElseList)
	}
}

func isLinkField(p *parse.PipeNode) bool {
	if len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	f, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
	return ok && len(f.Ident) == 1 && linkFields[f.Ident[0]]
}

func isIdent(c *parse.CommandNode, names ...string) bool {
	if len(c.Args) != 1 {
		return false
	}
	id, ok := c.Args[0].(*parse.IdentifierNode)
	if !ok {
		return false
	}
	for _, name := range names {
		if id.Ident == name {
			return true
		}
	}
	return false
}

// tokenize replaces each held value of src with a token, returning the
// tokenized source and the values in order.
func tokenize(src []byte) ([]byte, []any) {
	var (
		out  = make([]byte, 0, len(src))
		vals []any
	)
	for {
		i := bytes.Index(src, []byte(holdPrefix))
		if i < 0 {
			return append(out, src...), vals
		}
		out = append(out, src[:i]...)
		rest := src[i+len(holdPrefix):]
		j := bytes.Index(rest, []byte(holdClose))
		if len(rest) == 0 || (rest[0] != 'o' && rest[0] != 'h') || j < 0 {
			// Not a value of holdFunc: the editor's own text.
			out = append(out, src[i:i+len(holdPrefix)]...)
			src = rest
			continue
		}
		var v any = string(rest[1:j])
		if rest[0] == 'h' {
			v = htmltemplate.HTML(rest[1:j])
		}
		out = append(out, holdToken...)
		out = strconv.AppendInt(out, int64(len(vals)), 10)
		out = append(out, 'z')
		vals = append(vals, v)
		src = rest[j+len(holdClose):]
	}
}

// Delimiters of the second template: goldmark never outputs NUL (CommonMark
// replaces it), and untokenize replaces any that would be left.
const (
	valueLeft  = "\x00["
	valueRight = "]\x00"
)

// untokenize makes the second template's source of converted HTML: each
// token becomes an action printing its value.
func untokenize(html []byte, n int) string {
	html = bytes.ReplaceAll(html, []byte{0}, []byte("\uFFFD"))
	var b strings.Builder
	b.Grow(len(html) + 16*n)
	for {
		i := bytes.Index(html, []byte(holdToken))
		if i < 0 {
			b.Write(html)
			return b.String()
		}
		b.Write(html[:i])
		rest := html[i+len(holdToken):]
		k := 0
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			k++
		}
		idx, err := strconv.Atoi(string(rest[:k]))
		if k == 0 || k >= len(rest) || rest[k] != 'z' || err != nil || idx >= n {
			b.WriteString(holdToken)
			html = rest
			continue
		}
		fmt.Fprintf(&b, "%sindex . %d%s", valueLeft, idx, valueRight)
		html = rest[k+1:]
	}
}

// maxShapes bounds the second templates kept per campaign version; a
// template whose branches give more shapes converts the rest each time.
const maxShapes = 64

// shapes keeps a campaign version's second templates by tokenized source.
type shapes struct {
	mu sync.Mutex
	m  map[string]*htmltemplate.Template
}

// renderMarkdown runs a Markdown body template for d into dst.
func (t *campaignTemplates) renderMarkdown(dst *bytes.Buffer, d *Data) error {
	src := getBuf()
	defer putBuf(src)
	if err := t.mdBody.Execute(src, d); err != nil {
		return &TemplateError{"body", err}
	}
	tok, vals := tokenize(src.Bytes())
	key := string(tok)
	t.shapes.mu.Lock()
	ht := t.shapes.m[key]
	t.shapes.mu.Unlock()
	if ht == nil {
		html := getBuf()
		defer putBuf(html)
		if err := markdown.Convert(tok, html); err != nil {
			return &TemplateError{"body", err}
		}
		var err error
		ht, err = htmltemplate.New("body").Delims(valueLeft, valueRight).Parse(untokenize(html.Bytes(), len(vals)))
		if err != nil {
			return &TemplateError{"body", err}
		}
		t.shapes.mu.Lock()
		if t.shapes.m == nil {
			t.shapes.m = map[string]*htmltemplate.Template{}
		}
		if len(t.shapes.m) < maxShapes {
			t.shapes.m[key] = ht
		}
		t.shapes.mu.Unlock()
	}
	if vals == nil {
		vals = []any{}
	}
	if err := ht.Execute(dst, vals); err != nil {
		return &TemplateError{"body", err}
	}
	return nil
}
