package smtp

// appendQP appends src encoded as quoted-printable (RFC 2045 section 6.7) to
// dst: line breaks (LF or CRLF) become CRLF, lines are soft-broken to at
// most 76 characters, "=", control and non-ASCII bytes and whitespace at the
// end of a line are encoded. It is the hot path of every message, hence
// hand-written rather than mime/quotedprintable.
func appendQP(dst, src []byte) []byte {
	const hex = "0123456789ABCDEF"
	const maxLine = 76
	col := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\n' || c == '\r' && i+1 < len(src) && src[i+1] == '\n' {
			if c == '\r' {
				i++
			}
			dst = append(dst, '\r', '\n')
			col = 0
			continue
		}
		literal := c >= '!' && c <= '~' && c != '='
		if c == ' ' || c == '\t' {
			// Whitespace is literal unless it ends a line or the text.
			next := i + 1
			literal = next < len(src) && src[next] != '\n' && src[next] != '\r'
		}
		n := 1
		if !literal {
			n = 3
		}
		// Keep room for the soft break "=" (RFC 2045: at most 76 characters).
		if col+n > maxLine-1 && !(col+n == maxLine && atLineEnd(src, i+1)) {
			dst = append(dst, '=', '\r', '\n')
			col = 0
		}
		if literal {
			dst = append(dst, c)
		} else {
			dst = append(dst, '=', hex[c>>4], hex[c&15])
		}
		col += n
	}
	return dst
}

// atLineEnd reports whether src[i:] starts with a line break or is empty.
func atLineEnd(src []byte, i int) bool {
	return i >= len(src) || src[i] == '\n' || src[i] == '\r' && i+1 < len(src) && src[i+1] == '\n'
}
