package smtp

import (
	"bytes"
	"crypto"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/bulletin/bulletin/list"
)

// FuzzQP checks that appendQP's output is strict quoted-printable that
// decodes to the input (line breaks as CRLF), and that no line of it starts
// with "From " or is only "." for a transport to rewrite.
func FuzzQP(f *testing.F) {
	for _, s := range []string{
		"From here\nFrom the top\r\n.\n..\r\n", strings.Repeat("x", 75) + "From me", strings.Repeat("é", 40) + ".",
		"trailing \t\r\n\r\r\n= \n", strings.Repeat("y", 73) + "=From ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := appendQP(nil, in)
		got, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(out)))
		if err != nil {
			t.Fatalf("decoding %q: %v", out, err)
		}
		if want := crlf(in); !bytes.Equal(got, want) {
			t.Fatalf("appendQP(%q) = %q, decodes to %q", in, out, got)
		}
		for _, line := range strings.Split(string(out), "\r\n") {
			if strings.HasPrefix(line, "From ") || line == "." {
				t.Fatalf("appendQP(%q) has the line %q", in, line)
			}
			if len(line) > 76 || strings.ContainsAny(line, "\r\n") || strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") {
				t.Fatalf("appendQP(%q) has the bad line %q", in, line)
			}
			for i := 0; i < len(line); i++ {
				if c := line[i]; c >= 0x7f || c < ' ' && c != '\t' {
					t.Fatalf("appendQP(%q) has the raw byte %#x in %q", in, c, line)
				}
			}
		}
	})
}

// crlf returns b with every line break, LF or CRLF, as CRLF; a lone CR is
// data.
func crlf(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// TestFromLinesSurviveMbox: a campaign whose paragraphs start with "From "
// still verifies after an mbox delivery agent has written its copy, which
// quotes every line starting with "From " as ">From ".
func TestFromLinesSurviveMbox(t *testing.T) {
	t.Parallel()
	keys := []crypto.Signer{testKey(t, "rsa")}
	s := newTestSender(t, func(o *Options) { o.DKIM = keys })
	m := testMessage()
	m.Campaign.Format = list.FormatMarkdown
	m.Campaign.Body = "From here on, spring.\n\n.\n\nFrom the start of a line, {{.Name}}."
	raw, err := s.Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	mbox := append(raw[:len(raw)-len(body):len(raw)-len(body)], bytes.ReplaceAll(body, []byte("\r\nFrom "), []byte("\r\n>From "))...)
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(mbox), &dkim.VerifyOptions{LookupTXT: lookupFor(t, keys)})
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("the mbox copy does not verify: %v %+v\n%s", err, vs, body)
	}
	p := parseMessage(t, raw)
	for _, part := range []string{"text/plain", "text/html"} {
		if !strings.Contains(p.parts[part], "From the start of a line, Ann.") {
			t.Errorf("%s part lacks the paragraph:\n%s", part, p.parts[part])
		}
	}
}
