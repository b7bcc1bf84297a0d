package smtp

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	htmltemplate "html/template"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Mail builders write for Outlook inside conditional comments: settings in
// the head (<!--[if mso]><xml>…<![endif]-->), ghost tables and VML buttons
// in the body, and content for every other client between
// <!--[if !mso]><!--> and <!--<![endif]-->. html/template drops every
// comment, which would leave Outlook without them. So before a campaign
// body or a custom layout is parsed, each comment delimiter is swapped for
// a marker, which the template passes through as text; what the comment
// holds is then parsed as the HTML it is, its actions run and escaped as
// anywhere else (a VML button's href is a URL), and the delimiters are put
// back after each run. An escaped value cannot close the comment: ">"
// prints as "&gt;".

// conditionalDelim matches a conditional comment's delimiters: the
// downlevel-revealed opener first, which also ends in "]>", then the
// hidden one, then the two closers.
var conditionalDelim = regexp.MustCompile(`(?i)<!--\[if [^\]>\n]{1,100}\]>(?:<!-->)?|(?:<!--)?<!\[endif\]-->`)

// A marker is "\ue000", the template's nonce, "." and the delimiter's
// index, then "\ue001": private-use characters, which no template escaping
// changes, around a random nonce, which a value printed in the mail cannot
// know, so that no value is taken for a marker.
const (
	markOpen  = "\ue000"
	markClose = "\ue001"
)

// held is a source whose conditional comments' delimiters are markers.
type held struct {
	prefix string   // markOpen, the nonce and "."
	delims []string // by marker index
}

// holdConditionals returns src with the delimiters of its conditional
// comments swapped for markers; h.delims is nil when it has none.
func holdConditionals(src string) (string, held) {
	var h held
	if !strings.Contains(src, "<!") {
		return src, h
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	h.prefix = markOpen + hex.EncodeToString(nonce[:]) + "."
	out := conditionalDelim.ReplaceAllStringFunc(src, func(d string) string {
		h.delims = append(h.delims, d)
		return h.prefix + strconv.Itoa(len(h.delims)-1) + markClose
	})
	return out, h
}

// restore puts the delimiters back in a template's output, appending the
// result to dst.
func (h held) restore(dst, out []byte) []byte {
	for len(h.delims) > 0 {
		i := bytes.Index(out, []byte(h.prefix))
		if i < 0 {
			break
		}
		rest := out[i+len(h.prefix):]
		j := bytes.Index(rest, []byte(markClose))
		n, err := strconv.Atoi(string(rest[:max(j, 0)]))
		if j < 0 || err != nil || n < 0 || n >= len(h.delims) {
			// Not one of ours, though it starts like one: left as it is.
			dst = append(dst, out[:i+len(h.prefix)]...)
			out = rest
			continue
		}
		dst = append(dst, out[:i]...)
		dst = append(dst, h.delims[n]...)
		out = rest[j+len(markClose):]
	}
	return append(dst, out...)
}

// conditionalTemplate is an html/template parsed from a source whose
// conditional comments were held: it puts them back as it runs.
type conditionalTemplate struct {
	t *htmltemplate.Template
	held
}

// parseConditional parses src as an html/template named name, keeping its
// conditional comments.
func parseConditional(name, src string) (*conditionalTemplate, error) {
	src, h := holdConditionals(src)
	t, err := htmltemplate.New(name).Funcs(funcs).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, err
	}
	return &conditionalTemplate{t: t, held: h}, nil
}

// Execute runs the template into w, with the conditional comments back.
func (c *conditionalTemplate) Execute(w io.Writer, data any) error {
	if len(c.delims) == 0 {
		return c.t.Execute(w, data)
	}
	buf := getBuf()
	defer putBuf(buf)
	if err := c.t.Execute(buf, data); err != nil {
		return err
	}
	out := getBuf()
	defer putBuf(out)
	out.Write(c.restore(out.AvailableBuffer(), buf.Bytes()))
	_, err := w.Write(out.Bytes())
	return err
}
