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

// TestParseMalformed checks reports whose structure is broken: what they
// say is found where it can be, and one that says nothing has no
// recipients (recorded as unknown, acting on no one) rather than a failure
// with no address.
func TestParseMalformed(t *testing.T) {
	t.Parallel()
	const dsnParts = "--B1\nContent-Type: text/plain\n\nDelivery failed.\n\n" +
		"--B1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n" +
		"Final-Recipient: rfc822; gone@example.net\nAction: failed\nStatus: 5.1.1\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 User unknown\n\n" +
		"--B1\nContent-Type: text/rfc822-headers\n\nMessage-ID: <orig@news.example.com>\n\n--B1--\n"
	const head = "From: MAILER-DAEMON@example.net\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
	tests := []struct {
		name, input string
		typ         string
		email, kind string // of the one recipient; "" for none
		msgID       string
	}{
		{"no boundary parameter", head + "Content-Type: multipart/report; report-type=delivery-status\n\n" + dsnParts,
			TypeDSN, "gone@example.net", "hard", "orig@news.example.com"},
		{"no boundary parameter, dashes in the preamble", head + "Content-Type: multipart/report; report-type=delivery-status\n\n" +
			"---------- report below ----------\n\n" + dsnParts,
			TypeDSN, "gone@example.net", "hard", "orig@news.example.com"},
		{"boundary not in the body", head + "Content-Type: multipart/report; report-type=delivery-status; boundary=NOPE\n\n" + dsnParts,
			TypeDSN, "gone@example.net", "hard", "orig@news.example.com"},
		{"no parts, DSN fields as text", head + "Content-Type: multipart/report; report-type=delivery-status; boundary=NOPE\n\n" +
			"Original-Recipient: rfc822;Gone@Example.net\nFinal-Recipient: rfc822; gone@example.net\nAction: failed\nStatus: 5.2.2\n",
			TypeDSN, "Gone@Example.net", "soft", ""},
		{"header only", head + "Content-Type: multipart/report; report-type=delivery-status; boundary=X\n",
			TypeUnknown, "", "", ""},
		{"empty delivery-status", head + "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n" +
			"--B\nContent-Type: message/delivery-status\n\n\n--B--\n",
			TypeUnknown, "", "", ""},
		{"bounce saying nothing", head + "\nHello, this is the mail system.\n",
			TypeUnknown, "", "", ""},
		{"Latin-1 DSN recipient", head + "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n" +
			"--B\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; ren\xe9@example.net\nAction: failed\nStatus: 5.1.1\n\n--B--\n",
			TypeDSN, "ren\u00e9@example.net", "hard", ""},
		{"UTF-8 text bounce", head + "Content-Type: text/plain; charset=utf-8\n\nNicht zustellbar an:\n\n  j\u00fcrgen@b\u00fccher.example\n    550 5.1.1 Benutzer unbekannt\n",
			TypeBounce, "j\u00fcrgen@b\u00fccher.example", "hard", ""},
		{"Latin-1 text bounce", head + "\nImpossible de remettre \xe0 <r\xe0oul@example.net>: 550 5.1.1 utilisateur inconnu\n",
			TypeBounce, "r\u00e0oul@example.net", "hard", ""},
		{"contact address is no recipient", head + "\nYour message was refused (550 5.7.1). Write to postmaster@example.net for help.\n",
			TypeBounce, "", "policy", ""},
	}
	for _, tt := range tests {
		rep, err := Parse(strings.NewReader(tt.input))
		if err != nil {
			t.Errorf("Parse(%s) error %v", tt.name, err)
			continue
		}
		var got []string
		for _, r := range rep.Recipients {
			got = append(got, r.Email+" "+string(r.Kind))
		}
		want := []string{tt.email + " " + tt.kind}
		if tt.kind == "" {
			want = nil
		}
		if rep.Type != tt.typ || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Parse(%s) = %s %q, want %s %q", tt.name, rep.Type, got, tt.typ, want)
		}
		if tt.msgID != "" && (len(rep.MessageIDs) != 1 || rep.MessageIDs[0] != tt.msgID) {
			t.Errorf("Parse(%s).MessageIDs = %q, want [%s]", tt.name, rep.MessageIDs, tt.msgID)
		}
	}
}

func TestGuessBoundary(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, want string }{
		{"--X\nContent-Type: text/plain\n\nhi\n--X--\n", "X"},
		{"preamble\n----------\n\n--=_abc 1\na\n--=_abc 1\nb\n--=_abc 1--\n", "=_abc 1"},
		{"--X\nonly one delimiter\n", ""},
		{"no delimiters at all\n", ""},
		{"--\n--\n", ""},
		{"--" + strings.Repeat("a", 71) + "\n--" + strings.Repeat("a", 71) + "\n", ""},
	}
	for _, tt := range tests {
		if got := guessBoundary([]byte(tt.body)); got != tt.want {
			t.Errorf("guessBoundary(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// TestComplaintAction checks that a complaint's action is its feedback
// type, and that a type outside RFC 5965's registry is not copied.
func TestComplaintAction(t *testing.T) {
	for in, want := range map[string]string{"": "abuse", "abuse": "abuse", "fraud": "fraud", "virus": "virus",
		"other": "other", "opt-out": "other", "abuse<script>": "other"} {
		if got := complaintAction(in); got != want {
			t.Errorf("complaintAction(%q) = %q, want %q", in, got, want)
		}
	}
}
