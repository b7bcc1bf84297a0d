package smtp

// Byte classes for quoted-printable (RFC 2045 section 6.7).
const (
	qpPlain  = iota // printable ASCII but "=" and space: always literal
	qpSpace         // space or TAB: literal unless at the end of a line
	qpEncode        // "=", controls, non-ASCII: =XX
	qpLF
	qpCR
)

var qpClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c == ' ' || c == '\t':
			t[c] = qpSpace
		case c == '\n':
			t[c] = qpLF
		case c == '\r':
			t[c] = qpCR
		case c >= '!' && c <= '~' && c != '=':
			t[c] = qpPlain
		default:
			t[c] = qpEncode
		}
	}
	return t
}()

// appendQP appends src encoded as quoted-printable (RFC 2045 section 6.7) to
// dst: line breaks (LF or CRLF) become CRLF, lines are soft-broken to at
// most 76 characters, "=", control and non-ASCII bytes and whitespace at the
// end of a line are encoded, and so is the first byte of an encoded line
// that would start with "From " or be only "." (see unsafeAtLineStart). It
// is the hot path of every message, hence hand-written rather than
// mime/quotedprintable: runs of literal bytes are found by a table and
// copied at once. Each place that starts a line looks at its first byte:
// the same test at the top of the loop, run for every run and escape,
// made BenchmarkQP take 50% longer (31 µs against 21).
func appendQP(dst, src []byte) []byte {
	const hex = "0123456789ABCDEF"
	const maxLine = 76
	out := dst
	col, i := 0, 0
	if len(src) > 0 && unsafeAtLineStart(src, 0) {
		out = append(out, '=', hex[src[0]>>4], hex[src[0]&15])
		col, i = 3, 1
	}
	for i < len(src) {
		// A run of literal bytes that fits the line before its soft break.
		start, limit := i, min(len(src), i+maxLine-1-col)
		for i < limit {
			k := qpClass[src[i]]
			if k == qpPlain || k == qpSpace && i+1 < len(src) && qpClass[src[i+1]] < qpLF {
				i++
				continue
			}
			break
		}
		out = append(out, src[start:i]...)
		col += i - start
		if i == len(src) {
			break
		}
		// One byte the run could not take.
		c := src[i]
		k := qpClass[c]
		if k == qpLF || k == qpCR && i+1 < len(src) && src[i+1] == '\n' {
			if k == qpCR {
				i++
			}
			out = append(out, '\r', '\n')
			col = 0
			i++
			if i < len(src) && unsafeAtLineStart(src, i) {
				out = append(out, '=', hex[src[i]>>4], hex[src[i]&15])
				col = 3
				i++
			}
			continue
		}
		literal := k == qpPlain || k == qpSpace && i+1 < len(src) && qpClass[src[i+1]] < qpLF
		n := 1
		if !literal {
			n = 3
		}
		// Keep room for the soft break "=", unless this ends the line.
		if col+n > maxLine-1 && (col+n != maxLine || !atLineEnd(src, i+1)) {
			out = append(out, '=', '\r', '\n')
			col = 0
			if unsafeAtLineStart(src, i) {
				literal, n = false, 3
			}
		}
		if literal {
			out = append(out, c)
		} else {
			out = append(out, '=', hex[c>>4], hex[c&15])
		}
		col += n
		i++
	}
	return out
}

// unsafeAtLineStart reports whether src[i], put at the start of an encoded
// line, must be encoded, as RFC 2049 section 3 (item 8) advises: an mbox
// delivery agent writes a line starting with "From " as ">From ", which
// breaks the DKIM body hash of the stored copy, and a transport that fails
// to dot-stuff ends the message at a line holding only ".". Encoded as =46
// or =2E, the decoded text is the same. Other lines starting with "." are
// left to SMTP's dot-stuffing (RFC 5321 section 4.5.2), which the sender
// does and every relay undoes.
func unsafeAtLineStart(src []byte, i int) bool {
	switch src[i] {
	case '.':
		return atLineEnd(src, i+1)
	case 'F':
		return len(src)-i >= 5 && string(src[i+1:i+5]) == "rom "
	}
	return false
}

// atLineEnd reports whether src[i:] starts with a line break or is empty.
func atLineEnd(src []byte, i int) bool {
	return i >= len(src) || src[i] == '\n' || src[i] == '\r' && i+1 < len(src) && src[i+1] == '\n'
}
