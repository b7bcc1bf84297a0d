package smtp

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// The DKIM-Signature field (RFC 6376 section 3.5), computed here rather
// than by go-msgauth's dkim.Signer: its relaxed body canonicalisation
// copies and inspects the body byte by byte, twice, in a goroutine fed
// through a pipe, and was the largest single cost of sending a campaign
// (Ed25519 signing took a third of the CPU of a 20 KB message in a profile
// of bench/campaign; BenchmarkStages: 618 µs against 132 here).
// The field has the tags go-msgauth v0.7.0 makes for the same message, key
// and time, b= aside, and go-msgauth's verifier checks it
// (TestSignMatchesGoMsgauth, FuzzSignMatchesGoMsgauth); only its folding
// differs (see format).

// sigFieldName is the field's name.
const sigFieldName = "DKIM-Signature"

// sigParams are the tags of one signature. b is left empty while the
// header hash is computed.
type sigParams struct {
	algo, bh, domain, selector, t, h, b string
}

// signOne returns the DKIM-Signature field, CRLF-terminated, of the
// message whose header fields are fields and whose relaxed body hash is
// bh, made with key k at now.
func signOne(fields []string, keys []string, bh, domain string, k dkimKey, now time.Time) (string, error) {
	p := sigParams{bh: bh, domain: domain, selector: k.selector, t: strconv.FormatInt(now.Unix(), 10), h: strings.Join(keys, ":")}
	hashOpt := crypto.SHA256
	switch k.key.Public().(type) {
	case ed25519.PublicKey:
		p.algo, hashOpt = "ed25519-sha256", crypto.Hash(0)
	default:
		p.algo = "rsa-sha256"
	}
	hh := sha256.New()
	var canon []byte
	pick := headerPicker{fields: fields}
	for _, k := range keys {
		if kv := pick.pick(k); kv != "" {
			canon = relaxedHeader(canon[:0], kv)
			hh.Write(canon)
		}
	}
	canon = relaxedHeader(canon[:0], p.format())
	hh.Write(bytes.TrimRight(canon, "\r\n"))
	// RFC 8463 section 3: Ed25519 signs the SHA-256 of the header data, as
	// RSA does, with PureEdDSA (no pre-hash option).
	sig, err := k.key.Sign(rand.Reader, hh.Sum(nil), hashOpt)
	if err != nil {
		return "", fmt.Errorf("smtp: dkim: %w", err)
	}
	p.b = base64.StdEncoding.EncodeToString(sig)
	return p.format(), nil
}

// format writes the field with no line over 78 characters (RFC 5322
// section 2.1.1): the tags but b in name order, each on the line where it
// fits, h= folded before a colon when the list does not fit (RFC 6376
// section 3.5 allows FWS there), then b on lines of its own, folded every 75
// characters. go-msgauth writes h= on one line of about 200 characters.
// The folding is part of what is signed: signOne hashes this very text with
// b empty, and relaxed canonicalisation keeps a space where a line was
// folded, so a verifier that unfolds (go-msgauth, as RFC 6376 section 3.4.2
// says) hashes the same bytes.
func (p sigParams) format() string {
	tags := [...][2]string{{"a", p.algo}, {"bh", p.bh}, {"c", "relaxed/relaxed"}, {"d", p.domain}, {"h", p.h}, {"s", p.selector}, {"t", p.t}, {"v", "1"}}
	var s strings.Builder
	// Room for the tags and a fold ("\r\n ") every 70 characters or so:
	// the field is written twice per key for every message, in one
	// allocation.
	s.Grow(100 + len(p.algo) + len(p.bh) + len(p.domain) + len(p.selector) + len(p.t) + (len(p.h)+len(p.b))*21/20)
	s.WriteString(sigFieldName + ":")
	col := len(sigFieldName) + 1
	empty := true // nothing but the name or the fold's space on the line
	for _, kv := range tags {
		n := 3 + len(kv[0]) + len(kv[1])
		if col+n > softLineLen && !empty {
			s.WriteString("\r\n")
			col = 0
		}
		if kv[0] == "h" && col+n > softLineLen {
			col = writeHeaderList(&s, kv[1], col)
		} else {
			s.WriteByte(' ')
			s.WriteString(kv[0])
			s.WriteByte('=')
			s.WriteString(kv[1])
			s.WriteByte(';')
			col += n
		}
		empty = false
	}
	// b on lines of 75 characters: " b=" and 72, then " " and 75.
	s.WriteString("\r\n b=")
	b, n := p.b, 72
	for len(b) > n {
		s.WriteString(b[:n])
		s.WriteString("\r\n ")
		b, n = b[n:], 75
	}
	s.WriteString(b)
	s.WriteString("\r\n")
	return s.String()
}

// writeHeaderList writes the tag " h=LIST;" from column col, breaking the
// line before a colon where the next name would pass 78 characters, and
// returns the column it ends at.
func writeHeaderList(s *strings.Builder, list string, col int) int {
	s.WriteString(" h=")
	col += 3
	for first := true; list != ""; first = false {
		name := list
		if i := strings.IndexByte(list, ':'); i >= 0 {
			name, list = list[:i], list[i+1:]
		} else {
			list = ""
		}
		n := len(name)
		if list == "" {
			n++ // the ";" that ends the tag
		}
		if !first {
			if col+1+n > softLineLen {
				s.WriteString("\r\n ")
				col = 1
			}
			s.WriteByte(':')
			col++
		}
		s.WriteString(name)
		col += len(name)
	}
	s.WriteByte(';')
	return col + 1
}

// splitMessage returns the header fields of raw, each with its
// continuation lines and CRLF, and the body after the empty line.
func splitMessage(raw []byte) (fields []string, body []byte) {
	rest := raw
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			i = len(rest) - 1
		}
		line := rest[:i+1]
		rest = rest[i+1:]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return fields, rest
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] += string(line)
			continue
		}
		fields = append(fields, string(line))
	}
	return fields, nil
}

// headerPicker picks header fields for h= from the bottom up, each field
// once (RFC 6376 section 5.4.2).
type headerPicker struct {
	fields []string
	picked map[string]int
}

func (p *headerPicker) pick(name string) string {
	if p.picked == nil {
		p.picked = make(map[string]int, 16)
	}
	key := strings.ToLower(name)
	skip := p.picked[key]
	for i := len(p.fields) - 1; i >= 0; i-- {
		k, _, _ := strings.Cut(p.fields[i], ":")
		if !strings.EqualFold(strings.TrimSpace(k), key) {
			continue
		}
		if skip == 0 {
			p.picked[key]++
			return p.fields[i]
		}
		skip--
	}
	return ""
}

// relaxedHeader appends the relaxed canonical form of the field kv (RFC
// 6376 section 3.4.2): the name in lower case, the value unfolded with
// runs of white space made one space and trimmed, then CRLF.
func relaxedHeader(dst []byte, kv string) []byte {
	k, v, ok := strings.Cut(kv, ":")
	dst = append(dst, strings.ToLower(strings.TrimSpace(k))...)
	if !ok {
		return append(dst, ":\r\n"...)
	}
	dst = append(dst, ':')
	space := false
	start := len(dst)
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case ' ', '\t', '\r', '\n':
			space = true
		default:
			if space && len(dst) > start {
				dst = append(dst, ' ')
			}
			space = false
			dst = append(dst, c)
		}
	}
	return append(dst, "\r\n"...)
}

// relaxedBodyHash returns the base64 SHA-256 of body in relaxed canonical
// form (RFC 6376 section 3.4.4): runs of white space made one space,
// white space at line ends removed, empty lines at the end removed, CRLF
// line ends, and an empty body left empty. The lines of a built message
// are already canonical but for the odd trailing space, so most are hashed
// where they lie; a lone CR, which only a foreign body has, sends the
// whole body through relaxedBodySlow.
func relaxedBodyHash(body []byte) string {
	h := sha256.New()
	if hasLoneCR(body) {
		relaxedBodySlow(h, body)
	} else {
		relaxedBodyLines(h, body)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// hasLoneCR says whether b has a CR not followed by LF.
func hasLoneCR(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '\r')
		if i < 0 {
			return false
		}
		if i+1 >= len(b) || b[i+1] != '\n' {
			return true
		}
		b = b[i+2:]
	}
}

// relaxedBodyLines canonicalises a body whose line ends are CRLF or LF.
func relaxedBodyLines(h hash.Hash, body []byte) {
	empty := 0 // empty lines not yet written: dropped if nothing follows
	var scratch []byte
	for len(body) > 0 {
		i := bytes.IndexByte(body, '\n')
		var line []byte
		if i < 0 {
			line, body = body, nil
		} else {
			line, body = body[:i], body[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		line = bytes.TrimRight(line, " \t")
		if len(line) == 0 {
			empty++
			continue
		}
		for ; empty > 0; empty-- {
			h.Write(crlfBytes)
		}
		if bytes.IndexByte(line, '\t') >= 0 || bytes.Contains(line, []byte("  ")) {
			scratch = collapseSpace(scratch[:0], line)
			line = scratch
		}
		h.Write(line)
		h.Write(crlfBytes)
	}
}

var crlfBytes = []byte("\r\n")

// collapseSpace appends line with each run of spaces and tabs made one
// space.
func collapseSpace(dst, line []byte) []byte {
	space := false
	for _, c := range line {
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}

// relaxedBodySlow is go-msgauth's relaxed body canonicaliser, byte by
// byte, for bodies with a lone CR: a CR or LF ends white space and is kept
// (a lone LF as CRLF), white space before one is dropped, and line breaks
// at the end are dropped.
func relaxedBodySlow(h hash.Hash, body []byte) {
	var out, pending []byte
	wsp, cr, written := false, false, false
	for _, c := range body {
		prevCR := cr
		cr = c == '\r'
		switch {
		case c == ' ' || c == '\t':
			wsp = true
		case c == '\r' || c == '\n':
			wsp = false
			if c == '\n' && !prevCR {
				pending = append(pending, '\r')
			}
			pending = append(pending, c)
		default:
			out = append(out, pending...)
			pending = pending[:0]
			if wsp {
				out = append(out, ' ')
				wsp = false
			}
			out = append(out, c)
			written = true
		}
	}
	h.Write(out)
	if written {
		h.Write(crlfBytes)
	}
}
