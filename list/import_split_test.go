package list

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// splitAll runs the splitter over data as the import does, accepting what
// encoding/csv parses: it returns the accepted records, the line each
// starts on, and how many times each physical line was covered, by an
// accepted record or by a refusal.
func splitAll(t *testing.T, data []byte, comma rune, maxLines, maxBytes int) (recs [][]string, starts []int, cover map[int]int, refused int) {
	t.Helper()
	sp := newRecordSplitter(bufio.NewReaderSize(bytes.NewReader(data), 16), comma)
	sp.maxLines, sp.maxBytes = maxLines, maxBytes
	ps := newRecordParser(comma)
	cover = map[int]int{}
	for {
		rec, err := sp.next()
		if errors.Is(err, io.EOF) {
			return recs, starts, cover, refused
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.line != sp.line || rec.lines < 1 || rec.lines > maxLines {
			t.Fatalf("record at line %d of %d lines, splitter on line %d", rec.line, rec.lines, sp.line)
		}
		fields, err := ps.parse(rec.data)
		if rec.tooLong != "" || err != nil {
			cover[rec.line]++
			refused++
			sp.consume(1)
			continue
		}
		recs, starts = append(recs, slices.Clone(fields)), append(starts, rec.line)
		for l := rec.line; l < rec.line+rec.lines; l++ {
			cover[l]++
		}
		sp.consume(rec.lines)
	}
}

// physicalLines are data's lines as encoding/csv counts them, and whether
// each is blank (encoding/csv skips those between records).
func physicalLines(data []byte) (blank []bool) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		blank = append(blank, len(bytes.TrimSuffix(line, []byte("\r"))) == 0)
	}
	return blank
}

// csvRecords are the records and their first lines as encoding/csv reads
// data whole, configured as the import configures it.
func csvRecords(data []byte, comma rune) (recs [][]string, starts []int, err error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma, cr.FieldsPerRecord = comma, -1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return recs, starts, nil
		}
		if err != nil {
			return nil, nil, err
		}
		line, _ := cr.FieldPos(0)
		recs, starts = append(recs, rec), append(starts, line)
	}
}

// FuzzRecordSplitter holds the splitter to its two promises: every
// physical line is covered exactly once, by an accepted record or by a
// refusal (blank lines at most once: encoding/csv skips them), with the
// record caps as the import has them and much smaller; and where
// encoding/csv reads the whole input without error, the records and their
// first lines are encoding/csv's.
func FuzzRecordSplitter(f *testing.F) {
	for _, s := range []string{
		"email,name\na@example.com,Ann\n",
		"email,name\n\"unterminated@example.com,X,Y\nb@example.com,B\n\"Bob, Jr.\",bob@example.com\n",
		"a,\"one\ntwo\nthree\"\nb,\"x\"\"y\"\n\n\r\nc\r\n\"d\"\r\n",
		"a,\"b\"c,d\n\"e\nf\",g\"\nh",
		"x;\"y;z\";\"\"\n\"\n\"\r",
		"\"a\"\"\"\n\"\"\"\n\"\n",
		"a\tb\"\tc\n\"\t\"\n",
		"\"\r\n\"\r\n\"\r",
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, d uint8) {
		comma := rune(",\t;"[d%3])
		blank := physicalLines(data)
		for _, caps := range [][2]int{{maxRecordLines, maxRecordBytes}, {3, 24}} {
			recs, starts, cover, refused := splitAll(t, data, comma, caps[0], caps[1])
			for l := range cover {
				if l < 1 || l > len(blank) {
					t.Fatalf("caps %v: line %d covered, the input has %d", caps, l, len(blank))
				}
			}
			for i, b := range blank {
				if n := cover[i+1]; n > 1 || n == 0 && !b {
					t.Fatalf("caps %v: line %d covered %d times (blank %v)", caps, i+1, n, b)
				}
			}
			if caps[0] != maxRecordLines {
				continue
			}
			want, wantStarts, err := csvRecords(data, comma)
			if err != nil {
				continue
			}
			if refused > 0 || !reflect.DeepEqual(recs, want) || !slices.Equal(starts, wantStarts) {
				t.Fatalf("records %q at lines %v, encoding/csv reads %q at lines %v", recs, starts, want, wantStarts)
			}
		}
	})
}

// TestSplitterLongLines: a line longer than the byte cap is refused on its
// own without being kept in memory, and a runaway quoted field is cut at
// the caps and its lines read again.
func TestSplitterLongLines(t *testing.T) {
	t.Parallel()
	data := []byte("a,b\n" + strings.Repeat("x", 100) + "\n\"open,\nc,d\ne,f\ng,h\n")
	sp := newRecordSplitter(bufio.NewReaderSize(bytes.NewReader(data), 16), ',')
	sp.maxLines, sp.maxBytes = 3, 64
	ps := newRecordParser(',')
	var got []string
	for {
		rec, err := sp.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(sp.buf) > 2*sp.maxBytes {
			t.Fatalf("%d bytes pending", len(sp.buf))
		}
		fields, err := ps.parse(rec.data)
		switch {
		case rec.tooLong != "":
			got = append(got, "refused: "+rec.tooLong)
			sp.consume(1)
		case err != nil:
			got = append(got, "refused: "+err.Error())
			sp.consume(1)
		default:
			got = append(got, strings.Join(fields, "|"))
			sp.consume(rec.lines)
		}
	}
	want := []string{"a|b", "refused: the line is longer than 0 KiB",
		"refused: a quoted field opened on this line is still open after 3 lines (a missing closing quote?)",
		"c|d", "e|f", "g|h"}
	if !slices.Equal(got, want) {
		t.Fatalf("records:\n%q\nwant\n%q", got, want)
	}
}

// FuzzImportReader holds the import's reading of rows to its promise:
// every line after the header is imported or reported once. Each row or
// refusal starts at the first line not yet read, past blank lines only,
// and the reader goes on past it; where encoding/csv reads the input
// without error, no refusal says "not valid CSV" and a refusal of a record
// over several lines names them, as the rows' lines are encoding/csv's.
func FuzzImportReader(f *testing.F) {
	for _, s := range []string{
		"a@example.com,Ann,Berlin\n",
		"bob@example.com,Bob,\"multi\nline city\"\ncy@example.com,Cy,Rome\n",
		"\"unterminated@example.com,X,Y\nb@example.com,B,\"C\"\n",
		"bad,\"x\ny\",z\r\n\r\nc@example.com,,\"\"\"q\"\"\"\n",
		"d@example.com,\"D\",\"{\"\"a\"\": 1}\"\n\"e@example.com\",E,\"\n\n\"\n",
	} {
		f.Add([]byte(s))
	}
	const header = "email,name,city\n"
	f.Fuzz(func(t *testing.T, data []byte) {
		in := append([]byte(header), data...)
		ir, err := newImportReader(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("header refused: %v", err)
		}
		blank := physicalLines(in)
		_, wantStarts, csvErr := csvRecords(in, ',')
		var starts []int
		for {
			from := ir.line()
			row, perr, err := ir.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			line := row.line
			if perr != nil {
				line = perr.Line
			}
			if line < from || ir.line() <= line {
				t.Fatalf("a record at line %d, read from line %d to line %d", line, from, ir.line())
			}
			for l := from; l < line; l++ {
				if !blank[l-1] {
					t.Fatalf("line %d skipped before the record at line %d", l, line)
				}
			}
			starts = append(starts, line)
			if perr == nil || csvErr != nil {
				continue
			}
			if strings.Contains(perr.Error, "not valid CSV") {
				t.Fatalf("line %d: %s; encoding/csv reads the input", line, perr.Error)
			}
			if last := ir.line() - 1; last > line && !strings.HasSuffix(perr.Error, fmt.Sprintf("(lines %d-%d are one record: a quoted field spans them)", line, last)) {
				t.Fatalf("line %d: %q does not name lines %d-%d", line, perr.Error, line, last)
			}
		}
		for l := ir.line(); l <= len(blank); l++ {
			if !blank[l-1] {
				t.Fatalf("line %d of %d never read", l, len(blank))
			}
		}
		if csvErr == nil && !slices.Equal(starts, wantStarts[1:]) {
			t.Fatalf("records at lines %v, encoding/csv reads them at %v", starts, wantStarts[1:])
		}
	})
}
