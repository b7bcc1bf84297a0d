package list

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// importColumns maps the header of an import file to what each column
// holds. It understands the exports of phpList ("Email", "email address",
// tab-separated), listmonk (email, name, attributes as a JSON object) and
// Mailchimp ("Email Address", "First Name", "Last Name"), and any file with
// an email column: other columns become attributes.
type importColumns struct {
	n     int
	email int
	name  int
	first int
	last  int
	json  int // listmonk's attributes column
	// state and blocked are the state and blocklisted columns of a file
	// Bulletin exported, or -1.
	state, blocked int
	attrs          []int // column index of each attribute
	anames         []string
}

// normHeader folds a header cell for matching: lower case, no BOM, spaces
// and dashes as underscores.
func normHeader(h string) string {
	h = strings.TrimPrefix(h, "\ufeff")
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.Trim(h, `"'`)
	return strings.NewReplacer(" ", "_", "-", "_", ".", "_").Replace(h)
}

var (
	emailHeaders = map[string]bool{"email": true, "e_mail": true, "email_address": true, "emailaddress": true,
		"e_mail_address": true, "mail": true, "subscriber_email": true}
	nameHeaders  = map[string]bool{"name": true, "full_name": true, "fullname": true, "display_name": true, "subscriber_name": true}
	firstHeaders = map[string]bool{"first_name": true, "firstname": true, "fname": true, "given_name": true, "first": true}
	lastHeaders  = map[string]bool{"last_name": true, "lastname": true, "lname": true, "surname": true, "family_name": true, "last": true}
	// metaHeaders are bookkeeping columns of the known exports, never
	// attributes: their meaning is the other tool's, not the subscriber's.
	metaHeaders = map[string]bool{
		// phpList
		"id": true, "confirmed": true, "blacklisted": true, "entered": true, "modified": true, "uniqid": true,
		"unique_id": true, "htmlemail": true, "html_email": true, "send_this_user_html_emails": true,
		"list_membership": true, "listmembership": true, "bouncecount": true, "foreignkey": true,
		"subscribepage": true, "rssfrequency": true, "password": true, "passwordchanged": true, "disabled": true,
		"extradata": true, "optedin": true, "uuid": true,
		// listmonk
		"status": true, "created_at": true, "updated_at": true, "lists": true, "subscriber_uuid": true,
		// Mailchimp
		"member_rating": true, "optin_time": true, "optin_ip": true, "confirm_time": true, "confirm_ip": true,
		"latitude": true, "longitude": true, "gmtoff": true, "dstoff": true, "timezone": true, "cc": true,
		"region": true, "last_changed": true, "leid": true, "euid": true, "notes": true, "tags": true,
		"email_type": true, "unsub_time": true, "unsub_campaign_title": true, "unsub_campaign_id": true,
		"unsub_reason": true, "unsub_reason_other": true, "clean_time": true, "clean_campaign_title": true,
		"clean_campaign_id": true,
	}
	// bulletinHeaders are the bookkeeping columns of Bulletin's own exports
	// (ExportCSV, the admin UI's search export). They are taken as such only
	// in a file with a blocklisted column, which only those exports write:
	// elsewhere a "state" or "list" column is as likely the subscriber's.
	bulletinHeaders = map[string]bool{"list": true, "state": true, "confirmed_at": true, "unsubscribed_at": true,
		"blocklisted": true, "consent_source": true, "consent_reason": true, "consent_at": true}
)

// parseHeader reads the header row.
func parseHeader(rec []string) (importColumns, error) {
	c := importColumns{n: len(rec), email: -1, name: -1, first: -1, last: -1, json: -1, state: -1, blocked: -1}
	ours := slices.ContainsFunc(rec, func(h string) bool { return normHeader(h) == "blocklisted" })
	seen := map[string]bool{}
	for i, raw := range rec {
		h := normHeader(raw)
		switch {
		case ours && h == "state" && c.state < 0:
			c.state = i
		case ours && h == "blocklisted" && c.blocked < 0:
			c.blocked = i
		case ours && bulletinHeaders[h]:
		case emailHeaders[h] && c.email < 0:
			c.email = i
		case nameHeaders[h] && c.name < 0:
			c.name = i
		case firstHeaders[h] && c.first < 0:
			c.first = i
		case lastHeaders[h] && c.last < 0:
			c.last = i
		case (h == "attributes" || h == "attribs") && c.json < 0:
			c.json = i
		case metaHeaders[h] || h == "" || seen[h] || emailHeaders[h]:
		case attrRE.MatchString(h) && len(c.attrs) < 50:
			c.attrs, c.anames = append(c.attrs, i), append(c.anames, h)
		}
		seen[h] = true
	}
	if c.email < 0 {
		shown := make([]string, 0, min(len(rec), 10))
		for _, h := range rec[:min(len(rec), 10)] {
			shown = append(shown, strconv.Quote(truncateText(h, 40)))
		}
		return c, fmt.Errorf("%w: the header row has no email column (found %s); name it \"email\"", ErrInvalid, strings.Join(shown, ", "))
	}
	return c, nil
}

// importReader turns CSV records into rows. It cuts the input into
// records itself (recordSplitter) and parses each with encoding/csv, so
// that an unclosed quote costs the record it opens, not the rest of the
// file: encoding/csv alone reads everything after it as one field.
type importReader struct {
	sp   *recordSplitter
	ps   *recordParser
	cols importColumns
}

func newImportReader(r io.Reader) (*importReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	comma := sniffDelimiter(br)
	ir := &importReader{sp: newRecordSplitter(br, comma), ps: newRecordParser(comma)}
	rec, err := ir.sp.next()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the file is empty: the first line must be a header row with an email column", ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	if rec.tooLong != "" {
		return nil, fmt.Errorf("%w: the header row is not valid CSV: %s", ErrInvalid, rec.tooLong)
	}
	fields, err := ir.ps.parse(rec.data)
	if err != nil {
		return nil, fmt.Errorf("%w: the header row is not valid CSV: %s", ErrInvalid, csvErrorText(err))
	}
	if ir.cols, err = parseHeader(fields); err != nil {
		return nil, err
	}
	ir.sp.consume(rec.lines)
	return ir, nil
}

// line is the line the reader is on, for an error in the input itself.
func (ir *importReader) line() int {
	return ir.sp.line
}

// next reads one data row: a parsed row, or a refusal of it, or io.EOF, or
// a read error of the input. Every line of the file is either imported or
// reported. A record that is not valid CSV is reported at its first line
// and reading goes on at its second: the lines a stray quote joined to it
// are read again as rows of their own. A valid record refused for what it
// holds (a line break in a name, say) is reported once, at its first line
// with the lines it spans: they are its own, and read again they would
// only be refused for the half of a quoted field they hold.
func (ir *importReader) next() (importRow, *ImportError, error) {
	rec, err := ir.sp.next()
	if err != nil {
		return importRow{}, nil, err
	}
	row, msg, valid := ir.parse(rec)
	switch last := rec.line + rec.lines - 1; {
	case msg == "":
		row.line = rec.line
		ir.sp.consume(rec.lines)
		return row, nil, nil
	case valid:
		ir.sp.consume(rec.lines)
		if rec.lines > 1 {
			msg += fmt.Sprintf(" (lines %d-%d are one record: a quoted field spans them)", rec.line, last)
		}
	default:
		ir.sp.consume(1)
		if rec.lines == 2 {
			msg += fmt.Sprintf(" (a record of lines %d-%d: line %d is read again as a row of its own)", rec.line, last, last)
		} else if rec.lines > 2 {
			msg += fmt.Sprintf(" (a record of lines %d-%d: lines %d-%d are read again as rows of their own)", rec.line, last, rec.line+1, last)
		}
	}
	return importRow{}, &ImportError{Line: rec.line, Error: msg}, nil
}

// parse reads one record: its row, or why it is refused; valid says
// whether the record is valid CSV.
func (ir *importReader) parse(rec splitRecord) (row importRow, msg string, valid bool) {
	if rec.tooLong != "" {
		return importRow{}, "not valid CSV: " + rec.tooLong, false
	}
	fields, err := ir.ps.parse(rec.data)
	if err != nil {
		return importRow{}, "not valid CSV: " + csvErrorText(err), false
	}
	row, msg = ir.cols.row(fields)
	return row, msg, true
}

// csvErrorText is encoding/csv's complaint without its position: the
// import reports the record's first line itself.
func csvErrorText(err error) string {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// row maps one record to a row, or says why it is refused.
func (c *importColumns) row(rec []string) (importRow, string) {
	if len(rec) > c.n && strings.TrimSpace(strings.Join(rec[c.n:], "")) != "" {
		return importRow{}, fmt.Sprintf("%d fields, but the header has %d", len(rec), c.n)
	}
	cell := func(i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	// What an export says of unsubscribing and complaints holds in the
	// store it is imported into, as the store's own records would.
	switch {
	case cell(c.state) == string(StateUnsubscribed):
		return importRow{}, "unsubscribed in the exported file; an import does not subscribe them again"
	case cell(c.blocked) == "true":
		return importRow{}, "blocklisted in the exported file; an import does not subscribe them"
	}
	a, err := ParseAddress(cell(c.email))
	if err != nil {
		return importRow{}, importErrorText(err)
	}
	row := importRow{display: a.Display, identity: a.Identity, name: cell(c.name)}
	if row.name == "" {
		row.name = strings.TrimSpace(cell(c.first) + " " + cell(c.last))
	}
	if err := checkText("name", row.name, 200); err != nil {
		return importRow{}, importErrorText(err)
	}
	for j, i := range c.attrs {
		if v := cell(i); v != "" {
			if row.attrs == nil {
				row.attrs = make(map[string]string, len(c.attrs))
			}
			row.attrs[c.anames[j]] = v
		}
	}
	if v := cell(c.json); v != "" && v != "{}" {
		if err := jsonAttributes(v, &row.attrs); err != nil {
			return importRow{}, err.Error()
		}
	}
	if err := checkAttributes(row.attrs); err != nil {
		return importRow{}, importErrorText(err)
	}
	return row, ""
}

// jsonAttributes merges listmonk's attributes column, a JSON object, into
// attrs: strings as they are, other values as their JSON text.
func jsonAttributes(v string, attrs *map[string]string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return errors.New("attributes: not a JSON object")
	}
	if *attrs == nil && len(m) > 0 {
		*attrs = make(map[string]string, len(m))
	}
	for k, raw := range m {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		if s == "null" {
			continue
		}
		(*attrs)[k] = s
	}
	return nil
}

// truncateText cuts s to at most n bytes on a rune boundary.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Truncate(s, n) + "…"
}
