package list

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// Limits of one logical record. A stray opening quote makes encoding/csv
// read the rest of the file as one field; the splitter stops a record that
// is still inside a quoted field after maxRecordLines lines or
// maxRecordBytes bytes, so that the import refuses it and reads its lines
// again on their own. A legitimate row is below both: 50 attributes of at
// most 500 characters, 4 bytes each in UTF-8, stay under 100 KiB, and
// under 160 KiB JSON-escaped and CSV-quoted (only JSON that escapes every
// character outside the BMP as a surrogate pair could pass the cap).
const (
	maxRecordLines = 100
	maxRecordBytes = 256 << 10
)

// splitRecord is one logical CSV record as the splitter cut it.
type splitRecord struct {
	data  []byte // its physical lines, line endings included; valid until consume
	line  int    // the 1-based number of its first physical line
	lines int    // how many physical lines it spans
	// tooLong, when set, says why the record was cut short: still inside
	// a quoted field at maxRecordLines lines, or longer than
	// maxRecordBytes. Its data is then not to be parsed.
	tooLong string
}

// pendingLine is a physical line read but not yet consumed.
type pendingLine struct {
	end  int  // offset in recordSplitter.buf just past the line
	long bool // longer than maxRecordBytes: its bytes were skipped, not kept
}

// recordSplitter cuts a CSV input into logical records by physical lines,
// without parsing them: it only follows whether a line ends inside a quoted
// field, as encoding/csv does. The caller consumes each valid record
// whole and only the first line of one that is not valid CSV, so that the
// lines a stray quote swallowed are read again as records of their own. Memory is the
// pending lines: one record, at most maxRecordLines lines and
// maxRecordBytes bytes, whatever the size of the input.
type recordSplitter struct {
	br    *bufio.Reader
	comma byte
	buf   []byte        // bytes of lines[head:] (and of consumed lines before them)
	lines []pendingLine // lines read; lines[head] is the first not consumed
	head  int
	line  int // number of lines[head]
	eof   bool
	err   error // a read error of the input
	// maxLines and maxBytes are maxRecordLines and maxRecordBytes, smaller
	// in tests.
	maxLines, maxBytes int
}

func newRecordSplitter(br *bufio.Reader, comma rune) *recordSplitter {
	return &recordSplitter{br: br, comma: byte(comma), line: 1, maxLines: maxRecordLines, maxBytes: maxRecordBytes}
}

// next returns the record that starts at the first line not consumed,
// skipping blank lines as encoding/csv does; io.EOF at the end of the
// input. The record stays pending until consume.
func (s *recordSplitter) next() (splitRecord, error) {
	for {
		if s.head == len(s.lines) && !s.readLine() {
			if s.err != nil {
				return splitRecord{}, s.err
			}
			return splitRecord{}, io.EOF
		}
		if l := s.lines[s.head]; l.long || len(s.content(s.head)) > 0 {
			break
		}
		s.consume(1)
	}
	start, inQuote := s.begin(s.head), false
	for i := s.head; ; i++ {
		if i == len(s.lines) && !s.readLine() {
			if s.err != nil {
				return splitRecord{}, s.err
			}
			// The input ends inside a quoted field: encoding/csv refuses
			// the record.
			return s.record(start, i), nil
		}
		rec := s.record(start, i+1)
		switch {
		case rec.lines == 1 && s.lines[i].long:
			rec.tooLong = fmt.Sprintf("the line is longer than %d KiB", s.maxBytes>>10)
			return rec, nil
		case s.lines[i].long || s.lines[i].end-start > s.maxBytes:
			rec.tooLong = fmt.Sprintf("a quoted field opened on this line runs past %d KiB (a missing closing quote?)", s.maxBytes>>10)
			return rec, nil
		}
		if inQuote = quoteOpen(s.content(i), s.comma, inQuote); !inQuote {
			return rec, nil
		}
		if rec.lines == s.maxLines {
			rec.tooLong = fmt.Sprintf("a quoted field opened on this line is still open after %d lines (a missing closing quote?)", rec.lines)
			return rec, nil
		}
	}
}

// record is the pending lines from s.head up to (not including) line end.
func (s *recordSplitter) record(start, end int) splitRecord {
	return splitRecord{data: s.buf[start:s.lines[end-1].end], line: s.line, lines: end - s.head}
}

// consume drops the first n pending lines.
func (s *recordSplitter) consume(n int) {
	s.head += n
	s.line += n
	switch {
	case s.head == len(s.lines):
		s.buf, s.lines, s.head = s.buf[:0], s.lines[:0], 0
	case s.begin(s.head) > s.maxBytes:
		// Lines stay pending after a refused record; move them down once
		// the consumed bytes before them are many.
		off := s.begin(s.head)
		s.buf = s.buf[:copy(s.buf, s.buf[off:])]
		s.lines = s.lines[:copy(s.lines, s.lines[s.head:])]
		for i := range s.lines {
			s.lines[i].end -= off
		}
		s.head = 0
	}
}

// begin is the offset in buf of pending line i.
func (s *recordSplitter) begin(i int) int {
	if i == 0 {
		return 0
	}
	return s.lines[i-1].end
}

// content is line i without its line ending, as encoding/csv sees it: it
// reads "\r\n" as "\n" and drops a "\r" that ends the input.
func (s *recordSplitter) content(i int) []byte {
	b := s.buf[s.begin(i):s.lines[i].end]
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// readLine appends the next physical line to the pending ones, and reports
// false at the end of the input or on a read error. A line longer than
// maxBytes is skipped to its end rather than kept.
func (s *recordSplitter) readLine() bool {
	if s.eof {
		return false
	}
	start, got, long := len(s.buf), 0, false
	for {
		b, err := s.br.ReadSlice('\n')
		got += len(b)
		if got > s.maxBytes {
			long, s.buf = true, s.buf[:start]
		} else {
			s.buf = append(s.buf, b...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.err = err
				return false
			}
			if got == 0 {
				return false
			}
		}
		break
	}
	s.lines = append(s.lines, pendingLine{end: len(s.buf), long: long})
	return true
}

// quoteOpen follows the quotes of one line (without its line ending) of a
// record, as encoding/csv reads them, and reports whether the line ends
// inside a quoted field (the record goes on). inQuote says whether it
// starts inside one. A quote opens a quoted field only at the start of a
// field; inside one, "" is a literal quote, and a quote before the
// delimiter or the end of the line closes it. Any other quote is one that
// encoding/csv refuses (a bare quote in an unquoted field, or a quote
// followed by other text in a quoted one); the latter ends the record on
// this line, so that a refusal swallows as few lines as it can.
func quoteOpen(s []byte, comma byte, inQuote bool) bool {
	i := 0
	for {
		if inQuote {
			j := bytes.IndexByte(s[i:], '"')
			if j < 0 {
				return true
			}
			i += j + 1
			switch {
			case i < len(s) && s[i] == '"':
				i++
				continue
			case i < len(s) && s[i] == comma:
				i++
				inQuote = false
			default:
				return false
			}
		}
		// At the start of a field.
		if i < len(s) && s[i] == '"' {
			inQuote = true
			i++
			continue
		}
		j := bytes.IndexByte(s[i:], comma)
		if j < 0 {
			return false
		}
		i += j + 1
	}
}

// recordParser parses one logical record at a time with encoding/csv,
// configured as for a whole file, through one reader fed record by record.
type recordParser struct {
	feed recordFeed
	br   *bufio.Reader
	cr   *csv.Reader
}

// errSplit is a record that encoding/csv read as more than one: the
// splitter and encoding/csv disagree about it, so it is refused.
var errSplit = errors.New("the record's quotes do not match up")

func newRecordParser(comma rune) *recordParser {
	p := &recordParser{}
	// csv.NewReader keeps a *bufio.Reader it is given, so that what it has
	// not read of a record can be seen and thrown away.
	p.br = bufio.NewReaderSize(&p.feed, 4096)
	p.cr = csv.NewReader(p.br)
	p.cr.Comma = comma
	p.cr.FieldsPerRecord = -1
	p.cr.ReuseRecord = true
	return p
}

// parse reads rec as one CSV record. The fields are valid until the next
// call.
func (p *recordParser) parse(rec []byte) ([]string, error) {
	p.feed.b = rec
	fields, err := p.cr.Read()
	if err == nil && (len(p.feed.b) > 0 || p.br.Buffered() > 0) {
		err = errSplit
	}
	if err != nil {
		p.feed.b = nil
		p.br.Reset(&p.feed)
	}
	return fields, err
}

// recordFeed serves one record, then io.EOF until the next.
type recordFeed struct{ b []byte }

func (f *recordFeed) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}
