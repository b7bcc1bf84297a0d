package list_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

func importCSV(t *testing.T, f *fixture, csv string, o list.ImportOptions) list.ImportResult {
	t.Helper()
	if o.List == "" {
		o.List = "newsletter"
	}
	if o.Mode == "" {
		o.Mode, o.Reason = list.ImportConfirmed, "paper form at the fair"
	}
	res, err := f.svc.Import(t.Context(), strings.NewReader(csv), o)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return res
}

func errLines(res list.ImportResult) map[int]string {
	m := map[int]string{}
	for _, e := range res.Errors {
		m[e.Line] = e.Error
	}
	return m
}

func TestImportBadRowsByLine(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	csv := "email,name,city\n" + // 1
		"ann@example.com,Ann,Berlin\n" + // 2
		"not-an-address,Bob,Paris\n" + // 3
		"\"cy@example.com\",\"Cy\nwith a second line\",Rome\n" + // 4-5: multiline name (refused: one line)
		"dee@example.com,\"Dee \"\"the\"\" Quoted\",Oslo\n" + // 6
		"\"eve@example.com,Eve,Lyon\n" // 7: unterminated quote
	res := importCSV(t, f, csv, list.ImportOptions{})
	// The record of lines 4-5 is valid CSV: it is refused once, and line 5
	// is not read again on its own.
	if res.Imported != 2 || res.Skipped != 3 || res.Updated != 0 {
		t.Fatalf("result = %+v, want 2 imported, 3 skipped", res)
	}
	lines := errLines(res)
	if len(lines) != 3 || lines[3] == "" || lines[4] == "" || lines[7] == "" {
		t.Errorf("errors = %v, want lines 3, 4 and 7", res.Errors)
	}
	if !strings.Contains(lines[3], "not a valid email address") {
		t.Errorf("line 3 error = %q", lines[3])
	}
	if want := "name contains a line break; it must be on one line (lines 4-5 are one record: a quoted field spans them)"; lines[4] != want {
		t.Errorf("line 4 error = %q, want %q", lines[4], want)
	}
	if got := f.state(t, "dee@example.com", "newsletter"); got != list.StateConfirmed {
		t.Errorf("dee state = %q, want confirmed", got)
	}
	vs, _, _, err := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: "ann@example.com"})
	if err != nil || len(vs) != 1 || vs[0].Name != "Ann" || vs[0].Attributes["city"] != "Berlin" {
		t.Fatalf("ann = %+v, %v", vs, err)
	}
	sub := vs[0].Subscriptions[0]
	if sub.Consent == nil || sub.Consent.Reason != "paper form at the fair" || sub.Consent.Source != "import" {
		t.Errorf("consent = %+v, want the reason kept as the source", sub.Consent)
	}
}

func TestImportMultilineCountsLines(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.svc.CreateList(t.Context(), list.List{Slug: "l", Name: "L", Attributes: []string{"note"}}, list.Origin{})
	csv := "email,note\n" + // 1
		"a@example.com,\"one\ntwo\nthree\"\n" + // 2-4 (attribute with line breaks is refused)
		"b@example.com,fine\n" + // 5
		"bad,\"x\ny\"\n" + // 6-7
		"c@example.com,ok\n" + // 8
		"d@\n" // 9
	res := importCSV(t, f, csv, list.ImportOptions{List: "l"})
	// A refused record that is valid CSV is reported once, at its first
	// line: its later lines (3, 4 and 7 here) are its own.
	want := map[int]bool{2: true, 6: true, 9: true}
	got := map[int]bool{}
	for _, e := range res.Errors {
		got[e.Line] = true
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("error lines = %v, want %v (%v)", got, want, res.Errors)
	}
	if res.Imported != 2 || res.Skipped != 3 {
		t.Fatalf("result = %+v", res)
	}
}

// TestImportMultilineValueRefusedOnce is the tester's report: a city in a
// quoted field over two lines is valid CSV. A value must be on one line,
// so the row is refused, once, saying so; its second line is not read
// again as a row of its own (which gave "bare \" in non-quoted-field"),
// and the lines after it keep their numbers.
func TestImportMultilineValueRefusedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	csv := "email,name,city\n" + // 1
		"ann@example.com,Ann,Berlin\n" + // 2
		"bob@example.com,Bob,\"multi\nline city\"\n" + // 3-4
		"cy@example.com,Cy,\"Rome\"\r\n" + // 5
		"bad,Dee,Oslo\n" + // 6
		"eve@example.com,\"Eve\r\nSmith\",Lyon\n" + // 7-8
		"\"fay@example.com,Fay,Nice\n" + // 9: an unclosed quote
		"gus@example.com,Gus,Metz\n" // 10
	res := importCSV(t, f, csv, list.ImportOptions{})
	want := map[int]string{
		3: "city contains a line break; it must be on one line (lines 3-4 are one record: a quoted field spans them)",
		6: "“bad” is not a valid email address",
		7: "name contains a line break; it must be on one line (lines 7-8 are one record: a quoted field spans them)",
		9: "not valid CSV: extraneous or missing \" in quoted-field (a record of lines 9-10: line 10 is read again as a row of its own)",
	}
	if got := errLines(res); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%v\nwant\n%v", got, want)
	}
	if res.Imported != 3 || res.Skipped != 4 || res.Updated != 0 {
		t.Errorf("result = %d imported, %d updated, %d skipped; want 3, 0, 4", res.Imported, res.Updated, res.Skipped)
	}
	for _, a := range []string{"ann@example.com", "cy@example.com", "gus@example.com"} {
		if st := f.state(t, a, "newsletter"); st != list.StateConfirmed {
			t.Errorf("%s: state %q, want confirmed", a, st)
		}
	}
}

// TestImportDuplicatesReported is the tester's report: a row that repeats
// the address of an earlier row (in any case) silently replaced its name
// and counted as updated. The first row of an address is imported and the
// later ones are refused by line, naming the line they repeat.
func TestImportDuplicatesReported(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	csv := "email,name,city\n" + // 1
		"Ann@Example.com,Ann,Paris\n" + // 2
		"bob@example.com,Bob,Rome\n" + // 3
		"ann@example.COM,Ann Smith,Oslo\n" + // 4
		"ANN@example.com,,Lyon\n" // 5
	res := importCSV(t, f, csv, list.ImportOptions{})
	want := map[int]string{
		4: "repeats the address of line 2; an import takes the first row of each address only",
		5: "repeats the address of line 2; an import takes the first row of each address only",
	}
	if got := errLines(res); res.Imported != 2 || res.Updated != 0 || res.Skipped != 2 || !reflect.DeepEqual(got, want) {
		t.Fatalf("result = %d imported, %d updated, %d skipped, errors %v; want 2, 0, 2, %v", res.Imported, res.Updated, res.Skipped, got, want)
	}
	vs, total, _, err := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Q: "ann"})
	if err != nil || len(vs) != 1 || total != 1 || vs[0].Name != "Ann" || vs[0].Email != "Ann@Example.com" || vs[0].Attributes["city"] != "Paris" {
		t.Fatalf("ann: %+v total %d err %v", vs, total, err)
	}
	// A second import of the same file updates the first rows and refuses
	// the repeats again.
	res = importCSV(t, f, csv, list.ImportOptions{})
	if res.Imported != 0 || res.Updated != 2 || res.Skipped != 2 {
		t.Fatalf("second import = %+v, want 2 updated, 2 skipped", res)
	}
	l, _ := f.svc.ListBySlug(t.Context(), "newsletter")
	if l.Counts.Confirmed != 2 {
		t.Fatalf("confirmed count = %d, want 2", l.Counts.Confirmed)
	}
}

func TestImportSmallBatchesAndProgress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var b strings.Builder
	b.WriteString("email\n")
	for i := range 25 {
		fmt.Fprintf(&b, "u%d@example.com\n", i%20) // 5 duplicates across batches
	}
	var calls, lastRows, lastBytes int
	res := importCSV(t, f, b.String(), list.ImportOptions{BatchSize: 7, Progress: func(rows, bytes int) {
		calls++
		lastRows, lastBytes = rows, bytes
	}})
	if res.Imported != 20 || res.Updated != 0 || res.Skipped != 5 {
		t.Fatalf("result = %+v", res)
	}
	if calls < 4 || lastRows != 25 || lastBytes != b.Len() {
		t.Fatalf("progress: %d calls, last %d rows %d bytes, want ≥4, 25, %d", calls, lastRows, lastBytes, b.Len())
	}
}

func TestImportSuppressionRespected(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	res := importCSV(t, f, "email\nann@example.com\nbob@example.com\n", list.ImportOptions{})
	if res.Imported != 2 {
		t.Fatal(res)
	}
	ann, bob := f.subscriberID(t, "ann@example.com"), f.subscriberID(t, "bob@example.com")
	on := true
	if _, err := f.svc.PatchSubscriber(ctx, ann, list.SubscriberPatch{Blocklisted: &on}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.EraseSubscriber(ctx, bob, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	f.svc.CreateList(ctx, list.List{Slug: "other", Name: "Other"}, list.Origin{})
	res = importCSV(t, f, "email\nann@example.com\nBob@example.com\ncy@example.com\n", list.ImportOptions{List: "other", Mode: list.ImportOptIn})
	if res.Imported != 1 || res.Skipped != 2 {
		t.Fatalf("result = %+v, want 1 imported, 2 skipped", res)
	}
	if lines := errLines(res); lines[2] != "suppressed" || lines[3] != "suppressed" {
		t.Fatalf("errors = %v, want lines 2 and 3 suppressed", res.Errors)
	}
	if _, _, _, err := f.svc.SearchSubscribers(ctx, list.SearchRequest{Email: "bob@example.com"}); err != nil {
		t.Fatal(err)
	}
	vs, _, _, _ := f.svc.SearchSubscribers(ctx, list.SearchRequest{Email: "bob@example.com"})
	if len(vs) != 0 {
		t.Fatal("an erased address came back through an import")
	}
	if st := f.state(t, "ann@example.com", "other"); st != "" {
		t.Fatalf("suppressed ann got a subscription: %q", st)
	}
	// Mode optin queued exactly one confirmation: to cy.
	f.drain(t)
	ms := f.mail.sent()
	if len(ms) != 1 || ms[0].To != "cy@example.com" || ms[0].Kind != list.MailConfirm {
		t.Fatalf("mails = %d, want one confirmation to cy", len(ms))
	}
	if st := f.state(t, "cy@example.com", "other"); st != list.StateUnconfirmed {
		t.Fatalf("cy = %q, want unconfirmed", st)
	}
}

func TestImportFormats(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, csv string
		email     string
		wantName  string
		wantAttrs map[string]string
	}{
		{"phpList tab-separated", "\ufeffEmail\tConfirmed\tBlacklisted\tEntered\tFirst Name\tCountry\n" +
			"ann@example.com\t1\t0\t2024-01-02 10:00:00\tAnn\tDE\n",
			"ann@example.com", "Ann", map[string]string{"country": "DE"}},
		{"phpList email address", "email address,Name,Unique ID\nann@example.com,Ann Lee,abc\n",
			"ann@example.com", "Ann Lee", map[string]string{}},
		{"listmonk", "uuid,email,name,attributes,status,created_at,updated_at\n" +
			"a1b2,ann@example.com,Ann,\"{\"\"city\"\": \"\"Berlin\"\", \"\"age\"\": 42}\",enabled,2024-01-01,2024-01-02\n",
			"ann@example.com", "Ann", map[string]string{"city": "Berlin", "age": "42"}},
		{"Mailchimp", "Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES\n" +
			"ann@example.com,Ann,Lee,2,2024-01-01 10:00:00,,2024-01-01 10:01:00,192.0.2.1,,,,,,,,2024-01-02,123,abc,\n",
			"ann@example.com", "Ann Lee", map[string]string{}},
		{"semicolons", "E-Mail;Vorname;Nachname;Stadt\nann@example.com;Ann;Lee;Köln\n",
			"ann@example.com", "", map[string]string{"vorname": "Ann", "nachname": "Lee", "stadt": "Köln"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			res := importCSV(t, f, c.csv, list.ImportOptions{})
			if res.Imported != 1 || res.Skipped != 0 {
				t.Fatalf("result = %+v", res)
			}
			vs, _, _, err := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: c.email})
			if err != nil || len(vs) != 1 {
				t.Fatalf("search: %v %d", err, len(vs))
			}
			attrs := vs[0].Attributes
			if attrs == nil {
				attrs = map[string]string{}
			}
			if vs[0].Name != c.wantName || !reflect.DeepEqual(attrs, c.wantAttrs) {
				t.Fatalf("got name %q attrs %v, want %q %v", vs[0].Name, attrs, c.wantName, c.wantAttrs)
			}
		})
	}
}

func TestImportRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for name, c := range map[string]struct {
		csv string
		o   list.ImportOptions
	}{
		"no email column":     {"name,city\nAnn,Berlin\n", list.ImportOptions{List: "newsletter", Mode: list.ImportOptIn}},
		"empty file":          {"", list.ImportOptions{List: "newsletter", Mode: list.ImportOptIn}},
		"confirmed no reason": {"email\na@example.com\n", list.ImportOptions{List: "newsletter", Mode: list.ImportConfirmed}},
		"bad mode":            {"email\na@example.com\n", list.ImportOptions{List: "newsletter", Mode: "yes"}},
		"no list":             {"email\na@example.com\n", list.ImportOptions{List: "nope", Mode: list.ImportOptIn}},
	} {
		_, err := f.svc.Import(t.Context(), strings.NewReader(c.csv), c.o)
		if !errors.Is(err, list.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if vs, _, _, _ := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{}); len(vs) != 0 {
		t.Fatalf("a refused import wrote %d subscribers", len(vs))
	}
}

func TestImportUnsubscribedStays(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	importCSV(t, f, "email\nann@example.com\n", list.ImportOptions{Mode: list.ImportOptIn})
	f.drain(t)
	ms := f.mail.sent()
	if len(ms) != 1 || ms[0].ConfirmURL == "" {
		t.Fatalf("mails = %d, want one confirmation", len(ms))
	}
	if _, err := f.svc.Confirm(ctx, tokenOf(t, ms[0].ConfirmURL, "/confirm/"), list.Origin{}); err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	ms = f.mail.sent()
	if len(ms) != 2 || ms[1].UnsubscribeURL == "" {
		t.Fatalf("mails = %d, want the welcome with an unsubscribe link", len(ms))
	}
	if err := f.svc.Unsubscribe(ctx, tokenOf(t, ms[1].UnsubscribeURL, "/unsubscribe/"), false, list.HowForm, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	res := importCSV(t, f, "email\nann@example.com\n", list.ImportOptions{})
	if res.Skipped != 1 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error, "unsubscribed") {
		t.Fatalf("re-import = %+v, want the unsubscribed address skipped", res)
	}
	if st := f.state(t, "ann@example.com", "newsletter"); st != list.StateUnsubscribed {
		t.Fatalf("state = %q, want unsubscribed", st)
	}
}

func TestImportErrorsCapped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var b strings.Builder
	b.WriteString("email\n")
	for range list.MaxImportErrors + 5 {
		b.WriteString("bad\n")
	}
	b.WriteString("ok@example.com\n")
	res := importCSV(t, f, b.String(), list.ImportOptions{})
	if len(res.Errors) != list.MaxImportErrors || !res.ErrorsTruncated || res.Skipped != list.MaxImportErrors+5 || res.Imported != 1 {
		t.Fatalf("errors %d truncated %v skipped %d imported %d", len(res.Errors), res.ErrorsTruncated, res.Skipped, res.Imported)
	}
}

func (f *fixture) subscriberID(t *testing.T, email string) list.SubscriberID {
	t.Helper()
	vs, _, _, err := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: email})
	if err != nil || len(vs) != 1 {
		t.Fatalf("subscriber %s: %v %d", email, err, len(vs))
	}
	return vs[0].ID
}

// TestImportSortedInRuns imports more rows than the sort budget and the
// batch size hold: rows sorted through several spilled runs, name entries
// added at the end, refusals reported in line order whatever the order they
// were found in.
func TestImportSortedInRuns(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	importCSV(t, f, "email,name\nkeep@example.com,Keep Old\nleft@example.com,Left\n", list.ImportOptions{})
	blocklist(t, f, "left@example.com")
	var b strings.Builder
	b.WriteString("email,name,city\n")
	want := map[int]string{}                 // line → refusal
	zeds, zed1, dupes := 0, 0, map[int]int{} // dupes: the first line of each
	const n = 300
	for i := range n {
		line := i + 2
		k := (i*7 + 3) % n // shuffled
		switch {
		case i%50 == 7:
			b.WriteString("not-an-address,X,Y\n")
			want[line] = "not a valid email address"
		case i == 9:
			b.WriteString("left@example.com,Left,Y\n")
			want[line] = "suppressed"
		case i%50 == 9:
			b.WriteString("left@example.com,Left,Y\n")
			want[line] = "repeats the address of line 11;"
		case i%50 == 11:
			// The first row of an address wins, and the later ones are
			// refused as repeats of its line, though they meet in other
			// runs of the sort and other batches.
			fmt.Fprintf(&b, "DUP%03d@example.com,Dup Later %d,Z\n", i/50%3, i)
			if first, ok := dupes[i/50%3]; ok {
				want[line] = fmt.Sprintf("repeats the address of line %d; an import takes the first row of each address only", first)
			} else {
				dupes[i/50%3] = line
			}
		default:
			fmt.Fprintf(&b, "zed%03d@example.com,Zed %03d,City%d\n", k, k, k%7)
			zeds++
			if k/100 == 1 {
				zed1++
			}
		}
	}
	b.WriteString("keep@example.com,Keep New,Q\n")
	var rows, bytes []int
	res := importCSV(t, f, b.String(), list.ImportOptions{BatchSize: 16, SortBudget: 300,
		Progress: func(r, by int) { rows, bytes = append(rows, r), append(bytes, by) }})
	if res.Skipped != len(want) || res.Imported != zeds+len(dupes) || res.Updated != 1 {
		t.Fatalf("result = %d imported, %d updated, %d skipped; errors %v", res.Imported, res.Updated, res.Skipped, res.Errors)
	}
	for i, e := range res.Errors {
		if i > 0 && res.Errors[i-1].Line >= e.Line {
			t.Errorf("errors not in line order: %v", res.Errors)
		}
		if !strings.Contains(e.Error, want[e.Line]) {
			t.Errorf("line %d: %q, want %q", e.Line, e.Error, want[e.Line])
		}
	}
	for i := 1; i < len(rows); i++ {
		if rows[i] < rows[i-1] || bytes[i] < bytes[i-1] {
			t.Fatalf("progress went back: rows %v bytes %v", rows, bytes)
		}
	}
	if last := len(rows) - 1; rows[last] != n+1 || bytes[last] != b.Len() {
		t.Errorf("last progress %d rows %d bytes, want %d, %d", rows[last], bytes[last], n+1, b.Len())
	}
	for q, hits := range map[string]int{"zed": zeds, "zed 1": zed1, "keep new": 1, "keep old": 0, "dup later": len(dupes), "dup later 1": 2, "dup later 6": 1, "dup later 2": 0} {
		if _, total, _, err := f.svc.SearchSubscribers(ctx, list.SearchRequest{Q: q}); err != nil || total != hits {
			t.Errorf("search %q: %d hits, %v; want %d", q, total, err, hits)
		}
	}
}

// TestImportErrorsCappedLowestLines keeps the refusals of the first lines
// when store refusals (found in address order) pass the cap.
func TestImportErrorsCappedLowestLines(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	importCSV(t, f, "email\nleft@example.com\n", list.ImportOptions{})
	blocklist(t, f, "left@example.com")
	var b strings.Builder
	b.WriteString("email\n")
	b.WriteString("left@example.com\n") // line 2: refused by the store, after every bad line was read
	for range list.MaxImportErrors + 10 {
		b.WriteString("bad\n")
	}
	b.WriteString("left@example.com\nok@example.com\n")
	res := importCSV(t, f, b.String(), list.ImportOptions{BatchSize: 100})
	if len(res.Errors) != list.MaxImportErrors || !res.ErrorsTruncated || res.Skipped != list.MaxImportErrors+12 || res.Imported != 1 {
		t.Fatalf("errors %d truncated %v skipped %d imported %d", len(res.Errors), res.ErrorsTruncated, res.Skipped, res.Imported)
	}
	if first, last := res.Errors[0], res.Errors[len(res.Errors)-1]; first.Line != 2 || first.Error != "suppressed" || last.Line != list.MaxImportErrors+1 {
		t.Errorf("errors from %+v to %+v, want from line 2 (suppressed) to line %d", first, last, list.MaxImportErrors+1)
	}
}

func blocklist(t *testing.T, f *fixture, email string) {
	t.Helper()
	on := true
	if _, err := f.svc.PatchSubscriber(t.Context(), f.subscriberID(t, email), list.SubscriberPatch{Blocklisted: &on}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
}

// TestImportCancelledKeepsNames stops an import between two batches: the
// subscribers written so far can be found by name all the same.
func TestImportCancelledKeepsNames(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var b strings.Builder
	b.WriteString("email,name\n")
	for i := range 100 {
		fmt.Fprintf(&b, "p%03d@example.com,Pat %03d\n", (i*37)%100, (i*37)%100)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var done int
	res, err := f.svc.Import(ctx, strings.NewReader(b.String()), list.ImportOptions{List: "newsletter", Mode: list.ImportConfirmed,
		Reason: "fair", BatchSize: 10, Progress: func(rows, _ int) {
			if rows >= 30 && done == 0 {
				done = rows
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) || res.Imported != done {
		t.Fatalf("Import = %d imported, %v; want %d, context canceled", res.Imported, err, done)
	}
	if _, total, _, err := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Q: "pat"}); err != nil || total != done {
		t.Fatalf("search by name: %d hits, %v; want %d", total, err, done)
	}
}

// TestImportRefusesOtherEncodings: a row in Windows-1252 (José Müller) is
// refused by line, saying to save the file as UTF-8, instead of stored
// with "�" for every accented letter; the UTF-8 rows are imported.
func TestImportRefusesOtherEncodings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	csv := "email,name,city\n" +
		"jose@example.com,Jos\xe9 M\xfcller,Madrid\n" + // 2
		"rene@example.com,Ren\xc3\xa9e,Lille\n" + // 3: UTF-8
		"ana@example.com,Ana,S\xe3o Paulo\n" // 4: the attribute
	res := importCSV(t, f, csv, list.ImportOptions{})
	lines := errLines(res)
	if res.Imported != 1 || !strings.Contains(lines[2], "save the file as UTF-8") || !strings.Contains(lines[4], "UTF-8") {
		t.Errorf("result = %+v, errors %v; want lines 2 and 4 refused for their encoding", res, lines)
	}
}

// TestImportLongAddressSaysWhy: the tester's address with a 400-character
// local part is refused with the limit it breaks, not a bare "is not a
// valid email address".
func TestImportLongAddressSaysWhy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := importCSV(t, f, "email\n"+strings.Repeat("x", 400)+"@example.com\nann@example.com\n", list.ImportOptions{})
	want := map[int]string{2: "the part before @ is 400 characters long; at most 64 are allowed"}
	if got := errLines(res); res.Imported != 1 || !reflect.DeepEqual(got, want) {
		t.Errorf("result = %d imported, errors %v; want 1, %v", res.Imported, got, want)
	}
}
