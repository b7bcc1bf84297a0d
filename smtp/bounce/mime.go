package bounce

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits for header parsing.
const (
	maxFields     = 1000     // fields in one header block
	maxFieldValue = 16 << 10 // bytes of one unfolded field value
)

// field is one header field: canonical name, unfolded value.
type field struct{ name, value string }

// fields is a header block in order. Lookups are case-insensitive.
type fields []field

// Get returns the value of the first field called name, or "".
func (fs fields) Get(name string) string {
	for _, f := range fs {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

// getter is what the MIME walker needs of a header.
type getter interface{ Get(key string) string }

// cutLine splits b after the first line, dropping the line ending.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.TrimSuffix(b, []byte("\r")), nil
	}
	return bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:]
}

// readFields reads a header block leniently: it stops at an empty line (which
// it consumes) or at a line that is neither a field nor a continuation (which
// it leaves in rest). Continuation lines are joined with one space.
func readFields(b []byte) (fs fields, rest []byte) {
	for len(b) > 0 {
		line, next := cutLine(b)
		if len(bytes.TrimSpace(line)) == 0 {
			return fs, next
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fs) == 0 {
				return fs, b
			}
			f := &fs[len(fs)-1]
			if len(f.value) < maxFieldValue {
				f.value = strings.TrimSpace(f.value + " " + string(bytes.TrimSpace(line)))
			}
			b = next
			continue
		}
		name, value, ok := splitField(line)
		if !ok {
			return fs, b
		}
		if len(fs) >= maxFields {
			return fs, skipBlock(b)
		}
		fs = append(fs, field{name, value})
		b = next
	}
	return fs, nil
}

// skipBlock returns what follows the next empty line of b.
func skipBlock(b []byte) []byte {
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		return b[i+2:]
	}
	return nil
}

// splitField splits "Name: value". The name is printable ASCII without
// spaces (trailing blanks before the colon are tolerated); the value is cut
// to maxFieldValue bytes.
func splitField(line []byte) (name, value string, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 || i > 100 {
		return "", "", false
	}
	n := bytes.TrimRight(line[:i], " \t")
	if len(n) == 0 {
		return "", "", false
	}
	for _, c := range n {
		if c <= ' ' || c > '~' {
			return "", "", false
		}
	}
	v := bytes.TrimSpace(line[i+1:])
	if len(v) > maxFieldValue {
		v = v[:maxFieldValue]
	}
	return textproto.CanonicalMIMEHeaderKey(string(n)), string(v), true
}

// part is one leaf of the MIME tree, transfer-decoded.
type part struct {
	mediaType string // lower case, "text/plain" if absent
	params    map[string]string
	body      []byte
}

// walker flattens a MIME tree into leaves within a byte budget.
type walker struct {
	parts      []part
	reportType string // report-type of the first multipart/report seen
	budget     int
}

// walk adds the entity with header h and raw body to w. Multiparts are
// descended up to maxDepth; message/* parts are leaves.
func (w *walker) walk(h getter, body []byte, depth int) {
	if len(w.parts) >= maxParts {
		return
	}
	mt, params := contentType(h.Get("Content-Type"))
	body = decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
	w.budget -= len(body)
	if strings.HasPrefix(mt, "multipart/") && depth < maxDepth {
		if mt == "multipart/report" && w.reportType == "" {
			w.reportType = strings.ToLower(params["report-type"])
		}
		if w.walkMultipart(params["boundary"], body, depth) {
			return
		}
		if b := guessBoundary(body); b != "" && b != params["boundary"] && w.walkMultipart(b, body, depth) {
			return
		}
		mt = "text/plain" // unparseable multipart: let the text heuristics see it
	}
	w.parts = append(w.parts, part{mediaType: mt, params: params, body: body})
}

// walkMultipart walks the parts of a multipart body and reports whether it
// found any. A truncated last part is kept as far as it goes.
func (w *walker) walkMultipart(boundary string, body []byte, depth int) bool {
	if boundary == "" {
		return false
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	found := false
	for len(w.parts) < maxParts && w.budget > 0 {
		p, err := mr.NextRawPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(io.LimitReader(p, int64(w.budget)))
		w.budget -= len(b)
		found = true
		w.walk(p.Header, b, depth+1)
	}
	return found
}

// guessBoundary returns the boundary that a multipart body uses when its
// header gives none, or one the body does not use: the first of the body's
// first few "--" lines that recurs as a delimiter or close-delimiter line
// (RFC 2046 section 5.1.1: boundaries are at most 70 characters), else "".
func guessBoundary(body []byte) string {
	const maxCandidates = 4
	var cands []string
	var counts [maxCandidates]int
	for b := body; len(b) > 0; {
		var line []byte
		line, b = cutLine(b)
		line = bytes.TrimRight(line, " \t")
		if len(line) <= 2 || len(line) > 74 || line[0] != '-' || line[1] != '-' {
			continue
		}
		c := string(line[2:])
		i := slices.IndexFunc(cands, func(x string) bool { return c == x || c == x+"--" })
		switch {
		case i >= 0:
			counts[i]++
		case len(cands) < maxCandidates && len(c) <= 70:
			counts[len(cands)] = 1
			cands = append(cands, c)
		}
	}
	for i, c := range cands {
		if counts[i] >= 2 {
			return c
		}
	}
	return ""
}

var reLooseParam = regexp.MustCompile(`(?i)\b(boundary|report-type|charset)\s*=\s*(?:"([^"]*)"|([^;\s]+))`)

// contentType parses a Content-Type value leniently.
func contentType(v string) (string, map[string]string) {
	if strings.TrimSpace(v) == "" {
		return "text/plain", nil
	}
	mt, params, err := mime.ParseMediaType(v)
	if mt == "" {
		mt, _, _ = strings.Cut(v, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	if err != nil {
		params = map[string]string{}
		for _, m := range reLooseParam.FindAllStringSubmatch(v, 8) {
			params[strings.ToLower(m[1])] = m[2] + m[3]
		}
	}
	return mt, params
}

// decodeTransfer undoes a Content-Transfer-Encoding, keeping whatever decodes
// of a damaged body.
func decodeTransfer(cte string, b []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return decodeBase64(b)
	case "quoted-printable":
		out, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
		return out
	}
	return b
}

// decodeBase64 decodes base64 ignoring characters outside the alphabet.
func decodeBase64(b []byte) []byte {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
			clean = append(clean, c)
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

// decodeHeader decodes RFC 2047 encoded words in a header value; words in
// charsets other than UTF-8 and ISO-8859-1 pass through undecoded.
func decodeHeader(v string) string {
	d := &mime.WordDecoder{
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
	}
	if s, err := d.DecodeHeader(v); err == nil {
		return s
	}
	return v
}

// toUTF8 returns s as valid UTF-8, reading each byte that is not part of a
// UTF-8 sequence as ISO-8859-1: raw 8-bit text that does not say its charset
// is most often Latin-1.
func toUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			r = rune(s[i])
		}
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// mailHeader converts h to a mail.Header (first value per name is enough).
func (fs fields) mailHeader() mail.Header {
	h := mail.Header{}
	for _, f := range fs {
		h[f.name] = append(h[f.name], f.value)
	}
	return h
}
