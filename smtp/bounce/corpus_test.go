package bounce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// expectation is what a corpus file must parse to.
type expectation struct {
	Type         string            `json:"type"`
	FeedbackType string            `json:"feedback_type"`
	Recipients   []expectedRcpt    `json:"recipients"`
	MessageIDs   []string          `json:"message_ids"` // compared when present
	Headers      map[string]string `json:"headers"`     // subset compared when present
	Error        bool              `json:"error"`
}

type expectedRcpt struct {
	Email  string `json:"email"`
	Action string `json:"action"`
	Kind   Kind   `json:"kind"`
	Status string `json:"status"`
	Code   int    `json:"code"`
	Counts bool   `json:"counts"`
}

func loadExpectations(t *testing.T) map[string]expectation {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "corpus", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]expectation
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&exp); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	return exp
}

// TestCorpus parses every message of testdata/corpus, compares the result
// with expected.json and prints the classification accuracy. The corpus is
// ours, so every expectation must hold.
func TestCorpus(t *testing.T) {
	t.Parallel()
	exp := loadExpectations(t)
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 || len(files) != len(exp) {
		t.Fatalf("%d .eml files, %d expectations", len(files), len(exp))
	}
	var ok, total, typesOK int
	for _, f := range files {
		name := filepath.Base(f)
		want, found := exp[name]
		if !found {
			t.Errorf("%s: no expectation", name)
			continue
		}
		rep := parseFile(t, f, want.Error)
		if rep.Type == want.Type {
			typesOK++
		}
		problems := compare(rep, want)
		total += max(len(want.Recipients), 1)
		ok += max(len(want.Recipients), 1) - min(len(problems), max(len(want.Recipients), 1))
		for _, p := range problems {
			t.Errorf("%s: %s", name, p)
		}
	}
	msg := fmt.Sprintf("corpus: %d messages, types %d/%d, classification accuracy %d/%d (%.1f%%)",
		len(files), typesOK, len(files), ok, total, 100*float64(ok)/float64(total))
	t.Log(msg)
	if testing.Verbose() {
		fmt.Println(msg)
	}
}

func parseFile(t *testing.T, path string, wantErr bool) *Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Parse(f)
	if (err != nil) != wantErr {
		t.Errorf("%s: Parse() error = %v, want error %v", filepath.Base(path), err, wantErr)
	}
	if rep == nil {
		t.Fatalf("%s: Parse() returned nil report", filepath.Base(path))
	}
	return rep
}

// compare lists the differences between rep and want.
func compare(rep *Report, want expectation) []string {
	var p []string
	if rep.Type != want.Type {
		p = append(p, fmt.Sprintf("Type = %q, want %q", rep.Type, want.Type))
	}
	if rep.FeedbackType != want.FeedbackType {
		p = append(p, fmt.Sprintf("FeedbackType = %q, want %q", rep.FeedbackType, want.FeedbackType))
	}
	if len(rep.Recipients) != len(want.Recipients) {
		p = append(p, fmt.Sprintf("%d recipients %+v, want %d", len(rep.Recipients), rep.Recipients, len(want.Recipients)))
	}
	for i := range min(len(rep.Recipients), len(want.Recipients)) {
		r := rep.Recipients[i]
		got := expectedRcpt{r.Email, r.Action, r.Kind, r.Status, r.Code, r.Counts}
		if got != want.Recipients[i] {
			p = append(p, fmt.Sprintf("recipient %d = %+v (diagnostic %q), want %+v", i, got, r.Diagnostic, want.Recipients[i]))
		}
	}
	if want.MessageIDs != nil && !slices.Equal(rep.MessageIDs, want.MessageIDs) && len(rep.MessageIDs)+len(want.MessageIDs) > 0 {
		p = append(p, fmt.Sprintf("MessageIDs = %q, want %q", rep.MessageIDs, want.MessageIDs))
	}
	for k, v := range want.Headers {
		if rep.OriginalHeaders[k] != v {
			p = append(p, fmt.Sprintf("OriginalHeaders[%q] = %q, want %q", k, rep.OriginalHeaders[k], v))
		}
	}
	return p
}

// TestCorpusInvariants checks what holds for every report.
func TestCorpusInvariants(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.eml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rep, _ := Parse(bytes.NewReader(b))
		checkInvariants(t, filepath.Base(f), rep)
	}
}

func checkInvariants(t *testing.T, name string, rep *Report) {
	t.Helper()
	if rep == nil {
		t.Fatalf("%s: nil report", name)
	}
	if !slices.Contains([]string{TypeDSN, TypeARF, TypeBounce, TypeAutoReply, TypeUnknown}, rep.Type) {
		t.Errorf("%s: Type = %q", name, rep.Type)
	}
	if len(rep.Recipients) > maxRecipients {
		t.Errorf("%s: %d recipients", name, len(rep.Recipients))
	}
	for _, r := range rep.Recipients {
		if len(r.Diagnostic) > maxDiagnostic {
			t.Errorf("%s: diagnostic of %d bytes", name, len(r.Diagnostic))
		}
		if !utf8.ValidString(r.Email) || !utf8.ValidString(r.Diagnostic) {
			t.Errorf("%s: recipient %q, diagnostic %q: not UTF-8", name, r.Email, r.Diagnostic)
		}
		if !slices.Contains([]Kind{KindHard, KindSoft, KindPolicy, KindComplaint}, r.Kind) {
			t.Errorf("%s: Kind = %q", name, r.Kind)
		}
		if r.Action == "delayed" && (r.Counts || r.Kind != KindSoft) {
			t.Errorf("%s: delayed recipient %+v", name, r)
		}
	}
	for _, id := range rep.MessageIDs {
		if strings.ContainsAny(id, "<> ") || id == "" {
			t.Errorf("%s: Message-ID %q", name, id)
		}
	}
}
