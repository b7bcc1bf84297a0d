package bounce

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    io.Reader
		want error
	}{
		{"empty", strings.NewReader(""), ErrMalformed},
		{"binary", strings.NewReader("\x00\x01\x02\xff"), ErrMalformed},
		{"no known field", strings.NewReader("Foo: bar\n\nbody"), ErrMalformed},
		{"read error", io.MultiReader(strings.NewReader("From: a@b.example\n"), errReader{}), errBoom},
	}
	for _, tt := range tests {
		rep, err := Parse(tt.r)
		if !errors.Is(err, tt.want) || rep == nil || rep.Type != TypeUnknown {
			t.Errorf("Parse(%s) = %+v, %v, want Type unknown and %v", tt.name, rep, err, tt.want)
		}
	}
}

var errBoom = errors.New("boom")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBoom }

// TestParseLimits feeds inputs built to be expensive and checks that Parse
// stays within its limits and finishes quickly.
func TestParseLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		check func(*Report) error
	}{
		{"deep nesting", deepMultipart(5000), nil},
		{"many recipients", manyRecipients(1000), func(r *Report) error {
			if len(r.Recipients) != maxRecipients {
				return fmt.Errorf("%d recipients, want %d", len(r.Recipients), maxRecipients)
			}
			return nil
		}},
		{"long folded diagnostic", longDiagnostic(100000), func(r *Report) error {
			if len(r.Recipients) != 1 || len(r.Recipients[0].Diagnostic) > maxDiagnostic {
				return fmt.Errorf("recipients %d", len(r.Recipients))
			}
			return nil
		}},
		{"many parts", manyParts(5000), nil},
		{"long header", "From: a@b.example\nX: " + strings.Repeat("y", 4<<20) + "\n\nbody", nil},
		{"long From", "From: " + strings.Repeat("a@b.example ", 1<<20) + "\nSubject: x\n\nbody", nil},
		{"long address lines", "From: MAILER-DAEMON@b.example\n\n" + strings.Repeat("<"+strings.Repeat("a", 1000)+"@b.example>:\n", 10000), nil},
		{"many continuation lines", "From: a@b.example\nSubject: x\n" + strings.Repeat(" y\n", 1<<20) + "\nbody", nil},
		{"text lines", "From: MAILER-DAEMON@b.example\n\n" + strings.Repeat("<a@b.example>:\n550 5.1.1 x\n\n", 100000), func(r *Report) error {
			if len(r.Recipients) != 1 {
				return fmt.Errorf("%d recipients, want 1 (merged)", len(r.Recipients))
			}
			return nil
		}},
	}
	for _, tt := range tests {
		start := time.Now()
		rep, err := Parse(strings.NewReader(tt.input))
		t.Logf("%s: %v", tt.name, time.Since(start))
		if errors.Is(err, errInternal) {
			t.Fatalf("%s: %v", tt.name, err)
		}
		checkInvariants(t, tt.name, rep)
		if tt.check != nil {
			if err := tt.check(rep); err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: took %v", tt.name, d)
		}
	}
}

// TestParseReadsAtMostMaxSize checks that Parse stops reading at MaxSize.
func TestParseReadsAtMostMaxSize(t *testing.T) {
	t.Parallel()
	r := &countingReader{}
	if _, err := Parse(r); err != nil {
		t.Fatal(err)
	}
	if r.n > MaxSize {
		t.Errorf("read %d bytes, want at most %d", r.n, MaxSize)
	}
}

// countingReader yields a header and then an endless body.
type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) {
	const head = "From: a@b.example\nSubject: x\n\n"
	n := 0
	if r.n < len(head) {
		n = copy(p, head[r.n:])
	}
	for n < len(p) {
		n += copy(p[n:], "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n")
	}
	r.n += n
	return n, nil
}

func deepMultipart(depth int) string {
	var b strings.Builder
	b.WriteString("From: a@b.example\n")
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\n\nhello\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\n", i)
	}
	return b.String()
}

func manyRecipients(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Final-Recipient: rfc822; u%d@example.com\nAction: failed\nStatus: 5.1.1\n\n", i)
	}
	return dsnWith(b.String())
}

func longDiagnostic(n int) string {
	return dsnWith("Final-Recipient: rfc822; u@example.com\nAction: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552" +
		strings.Repeat("\n mailbox full", n) + "\n")
}

func dsnWith(groups string) string {
	return "From: MAILER-DAEMON@example.net\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n" +
		"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; example.net\n\n" + groups + "--b--\n"
}

func manyParts(n int) string {
	var b strings.Builder
	b.WriteString("From: a@b.example\nContent-Type: multipart/mixed; boundary=b\n\n")
	for range n {
		b.WriteString("--b\nContent-Type: text/plain\n\nx\n")
	}
	b.WriteString("--b--\n")
	return b.String()
}

func TestIsAutoReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header mail.Header
		want   bool
	}{
		{mail.Header{"Auto-Submitted": {"auto-replied"}}, true},
		{mail.Header{"Auto-Submitted": {"auto-generated; owner-email=a@b.example"}}, true},
		{mail.Header{"Auto-Submitted": {"no"}}, false},
		{mail.Header{"Auto-Submitted": {"No (manual)"}}, false},
		{mail.Header{"X-Autoreply": {"yes"}}, true},
		{mail.Header{"X-Autorespond": {"Vacation"}}, true},
		{mail.Header{"X-Autogenerated": {"Reply"}}, true},
		{mail.Header{"Precedence": {"auto_reply"}}, true},
		{mail.Header{"Precedence": {"bulk"}}, false},
		{mail.Header{"Subject": {"Out of Office: Weekly news"}}, true},
		{mail.Header{"Subject": {"Automatic reply: Weekly news"}}, true},
		{mail.Header{"Subject": {"Auto: Weekly news"}}, true},
		{mail.Header{"Subject": {"AutoReply"}}, true},
		{mail.Header{"Subject": {"=?utf-8?q?Abwesenheitsnotiz=3A_News?="}}, true},
		{mail.Header{"Subject": {"=?utf-8?q?R=C3=A9ponse_automatique_=3A_News?="}}, true},
		{mail.Header{"Subject": {"I am on vacation"}}, true},
		{mail.Header{"Subject": {"Re: Weekly news"}}, false},
		{mail.Header{"Subject": {"Automobile news"}}, false},
		{mail.Header{}, false},
	}
	for _, tt := range tests {
		if got := IsAutoReply(tt.header); got != tt.want {
			t.Errorf("IsAutoReply(%v) = %v, want %v", tt.header, got, tt.want)
		}
	}
}
