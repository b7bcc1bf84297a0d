package smtp

import (
	"bytes"
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// A campaign body written as a whole HTML document, as mail builders
// export them, goes into the layout like any other body: its <body>
// content takes the layout's {{.Body}}, and of its <head> only what shapes
// the mail is kept, moved into the layout's <head>: <style> elements and
// conditional comments (Outlook's <!--[if mso]> settings, which the
// template keeps: conditional.go). The body's
// style attribute is kept on a <div> around its content. The rest (the
// title, which the subject replaces, meta, link and script elements, other
// body attributes) is dropped, and the lint says so where it matters.

// documentStart finds a body that opens as a document: after space,
// comments and a doctype, an <html>, <head> or <body> tag.
var documentStart = regexp.MustCompile(`(?is)^(?:\s+|<!--.*?-->|<!doctype[^>]*>)*<(?:html|head|body)[\s>/]`)

// isDocument reports whether a campaign body is a whole HTML document.
func isDocument(body string) bool { return documentStart.MatchString(body) }

// document is a whole-document body taken apart.
type document struct {
	content []byte   // the <body> content, in a <div> with the body's style
	head    []byte   // <style> elements and conditional comments of <head>
	dropped []string // what was left out that shaped the mail: "<link>", "<body bgcolor>"
}

// splitDocument takes a rendered whole-document body apart.
func splitDocument(b []byte) *document {
	d := &document{}
	z := html.NewTokenizer(bytes.NewReader(b))
	var (
		off, start, end = 0, -1, len(b)
		inHead          bool
		rawIn           atom.Atom // inside a <style>, <title> or <script> of the head
		keepRaw         bool      // and keeping it (a <style>)
		style           string
	)
	for start < 0 || end == len(b) {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		raw := z.Raw()
		pos := off
		off += len(raw)
		name, hasAttr := z.TagName()
		a := atom.Lookup(name)
		switch {
		case start >= 0:
			if tt == html.EndTagToken && (a == atom.Body || a == atom.Html) {
				end = pos
			}
		case rawIn != 0:
			if keepRaw {
				d.head = append(d.head, raw...)
			}
			if tt == html.EndTagToken && a == rawIn {
				rawIn, keepRaw = 0, false
			}
		case tt == html.DoctypeToken, tt == html.TextToken && len(bytes.TrimSpace(raw)) == 0, a == atom.Html:
		case tt == html.CommentToken:
			if bytes.HasPrefix(raw, []byte("<!--[if")) || string(raw) == "<!--<![endif]-->" {
				d.head = append(d.head, raw...)
			}
		case a == atom.Head:
			inHead = tt == html.StartTagToken
		case a == atom.Body:
			start = off
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				if string(k) == "style" {
					style = string(v)
				} else {
					d.dropped = append(d.dropped, "<body "+string(k)+">")
				}
			}
		case isHeadElement(a) || inHead && tt != html.TextToken:
			if tt == html.StartTagToken && (a == atom.Style || a == atom.Title || a == atom.Script) {
				rawIn, keepRaw = a, a == atom.Style
			}
			if a == atom.Style {
				d.head = append(d.head, raw...)
			}
			if (a == atom.Link || a == atom.Script || a == atom.Base) && tt != html.EndTagToken {
				d.dropped = append(d.dropped, "<"+a.String()+">")
			}
		default:
			// Content without a <body> tag: the body starts here.
			start = pos
		}
	}
	if start < 0 || start > end {
		start = end
	}
	content := bytes.TrimSpace(b[start:end])
	if strings.TrimSpace(style) != "" {
		d.content = append(d.content, `<div style="`...)
		d.content = append(d.content, html.EscapeString(style)...)
		d.content = append(d.content, `">`...)
		d.content = append(d.content, content...)
		d.content = append(d.content, "</div>"...)
	} else {
		d.content = content
	}
	return d
}

// isHeadElement reports the elements that belong in <head>, where a
// document without a <head> tag may still put them.
func isHeadElement(a atom.Atom) bool {
	switch a {
	case atom.Title, atom.Meta, atom.Link, atom.Style, atom.Script, atom.Base:
		return true
	}
	return false
}

// headEnd finds the end of a layout's <head>.
var headEnd = regexp.MustCompile(`(?i)</head\s*>`)

// addHead puts extra into the <head> of a layout's output, or before its
// start when it has none.
func addHead(page, extra []byte) []byte {
	if len(extra) == 0 {
		return page
	}
	i := 0
	if loc := headEnd.FindIndex(page); loc != nil {
		i = loc[0]
	}
	out := make([]byte, 0, len(page)+len(extra)+1)
	out = append(out, page[:i]...)
	out = append(out, extra...)
	out = append(out, '\n')
	return append(out, page[i:]...)
}
