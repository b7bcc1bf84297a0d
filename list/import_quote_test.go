package list_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// TestImportUnclosedQuoteLosesNothing is the tester's report at small
// scale: an unclosed quote on line 22 used to swallow the rest of the file
// (encoding/csv reads it all as one field). Now line 22 is reported and
// every other row imported, whether the later lines hold quotes (which end
// the runaway record early) or none at all (the record is cut at 100
// lines).
func TestImportUnclosedQuoteLosesNothing(t *testing.T) {
	t.Parallel()
	const rows, bad = 500, 22
	for name, quoted := range map[string]bool{"plain rows after": false, "quoted fields after": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			var b strings.Builder
			if quoted {
				b.WriteString("name,email,city\n")
			} else {
				b.WriteString("email,name,city\n")
			}
			for i := range rows {
				switch line := i + 2; {
				case line == bad && quoted:
					b.WriteString("\"Unterminated,unterminated@example.com,Y\n")
				case line == bad:
					b.WriteString("\"unterminated@example.com,X,Y\n")
				case quoted && i%10 == 0:
					fmt.Fprintf(&b, "\"Bob, Jr. %d\",bob%d@example.com,\"Paris\"\n", i, i)
				case quoted && i%10 == 5:
					fmt.Fprintf(&b, "Cy %d,\"cy%d@example.com\",Rome\n", i, i)
				case quoted:
					fmt.Fprintf(&b, "Ann %d,ann%d@example.com,Berlin\n", i, i)
				default:
					fmt.Fprintf(&b, "ann%d@example.com,Ann %d,Berlin\n", i, i)
				}
			}
			handled := 0
			res := importCSV(t, f, b.String(), list.ImportOptions{Progress: func(n, _ int) { handled = n }})
			if res.Imported != rows-1 || res.Skipped != 1 || len(res.Errors) != 1 || handled != rows {
				t.Fatalf("result = %d imported, %d skipped, %d handled, errors %v; want %d imported, line %d refused",
					res.Imported, res.Skipped, handled, res.Errors, rows-1, bad)
			}
			if e := res.Errors[0]; e.Line != bad || !strings.Contains(e.Error, "not valid CSV") {
				t.Errorf("error = %+v, want line %d not valid CSV", e, bad)
			}
			if st := f.state(t, fmt.Sprintf("ann%d@example.com", rows-1), "newsletter"); st != list.StateConfirmed {
				t.Errorf("last row: state %q, want confirmed", st)
			}
			if quoted {
				vs, _, _, err := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: "bob30@example.com"})
				if err != nil || len(vs) != 1 || vs[0].Name != "Bob, Jr. 30" || vs[0].Attributes["city"] != "Paris" {
					t.Errorf("bob30 = %+v, %v", vs, err)
				}
			}
		})
	}
}

// TestImportMultilineFieldsImport: a quoted field may hold line breaks
// where the value allows them (a notes column the import ignores, a
// listmonk attributes object written over several lines), and the lines
// after such a record keep their numbers.
func TestImportMultilineFieldsImport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	csv := "email,name,notes,attributes\n" + // 1
		"ann@example.com,\"Ann, \"\"the\"\" first\",\"met at the fair\r\nsecond line\",\"{\n  \"\"city\"\": \"\"Berlin\"\"\n}\"\r\n" + // 2-5
		"bad,Bob,,\n" + // 6
		"\n" + // 7: blank, skipped
		"cy@example.com,Cy,\"one\n\ntwo\",{}\n" + // 8-10
		"d@\n" // 11
	res := importCSV(t, f, csv, list.ImportOptions{})
	if res.Imported != 2 || res.Skipped != 2 {
		t.Fatalf("result = %+v, want 2 imported, lines 6 and 11 refused", res)
	}
	if lines := errLines(res); len(lines) != 2 || lines[6] == "" || lines[11] == "" {
		t.Fatalf("errors = %v, want lines 6 and 11", res.Errors)
	}
	vs, _, _, err := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: "ann@example.com"})
	if err != nil || len(vs) != 1 || vs[0].Name != `Ann, "the" first` || len(vs[0].Attributes) != 1 || vs[0].Attributes["city"] != "Berlin" {
		t.Fatalf("ann = %+v, %v", vs, err)
	}
}
