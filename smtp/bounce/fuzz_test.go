package bounce

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, always returns a well-formed
// report and stays within its limits, whatever the input.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.eml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Parse(bytes.NewReader(data))
		if errors.Is(err, errInternal) {
			t.Fatalf("Parse() panicked: %v", err)
		}
		if err != nil && rep.Type != TypeUnknown {
			t.Fatalf("Parse() error %v with Type %q", err, rep.Type)
		}
		checkInvariants(t, "fuzz", rep)
	})
}

// FuzzDSNRoundTrip builds a DSN from a recipient, status and diagnostic and
// checks that Parse gives them back.
func FuzzDSNRoundTrip(f *testing.F) {
	f.Add("nobody", uint8(1), uint8(1), "550 5.1.1 User unknown")
	f.Add("full.box", uint8(2), uint8(2), "552 5.2.2 Mailbox full")
	f.Add("x", uint8(7), uint8(1), "")
	f.Fuzz(func(t *testing.T, local string, subject, detail uint8, diag string) {
		local = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' {
				return r
			}
			return -1
		}, local)
		if local == "" {
			local = "a"
		}
		diag = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, diag)
		email := local + "@example.com"
		status := fmt.Sprintf("5.%d.%d", subject, detail)
		rep, err := Parse(strings.NewReader(dsnMessage(email, status, diag)))
		if err != nil || rep.Type != TypeDSN || len(rep.Recipients) != 1 {
			t.Fatalf("Parse() = %+v, %v", rep, err)
		}
		r := rep.Recipients[0]
		if r.Email != email || r.Status != status || r.Action != "failed" {
			t.Errorf("recipient %+v, want %s %s failed", r, email, status)
		}
		if want := cleanDiagnostic(stripType("smtp; " + diag)); r.Diagnostic != want {
			t.Errorf("Diagnostic = %q, want %q", r.Diagnostic, want)
		}
		if !slices.Contains([]Kind{KindHard, KindSoft, KindPolicy}, r.Kind) {
			t.Errorf("Kind = %q", r.Kind)
		}
	})
}

// dsnMessage is a minimal RFC 3464 report for one failed recipient.
func dsnMessage(email, status, diag string) string {
	return "From: MAILER-DAEMON@example.net\r\n" +
		"To: bounces@news.example.com\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n" +
		"--b1\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; example.net\r\n\r\n" +
		"Final-Recipient: rfc822; " + email + "\r\n" +
		"Action: failed\r\n" +
		"Status: " + status + "\r\n" +
		"Diagnostic-Code: smtp; " + diag + "\r\n" +
		"\r\n--b1--\r\n"
}

// FuzzClassify checks that Classify returns one of its three kinds.
func FuzzClassify(f *testing.F) {
	f.Add("5.1.1", 550, "User unknown")
	f.Add("", 0, "")
	f.Add("4.7.1", 451, "greylisted")
	f.Fuzz(func(t *testing.T, status string, code int, diag string) {
		if k := Classify(status, code, diag); !slices.Contains([]Kind{KindHard, KindSoft, KindPolicy}, k) {
			t.Errorf("Classify(%q,%d,%q) = %v", status, code, diag, k)
		}
	})
}
