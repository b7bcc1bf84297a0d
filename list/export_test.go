package list_test

import (
	"bytes"
	"encoding/csv"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// people are the subscribers of a fixture by address: name, attributes
// and the state of each subscription, to compare two stores.
func people(t *testing.T, f *fixture) map[string]string {
	t.Helper()
	vs, _, _, err := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, v := range vs {
		var b strings.Builder
		b.WriteString(v.Name + " |")
		for _, k := range slices.Sorted(maps.Keys(v.Attributes)) {
			b.WriteString(" " + k + "=" + v.Attributes[k])
		}
		for _, s := range v.Subscriptions {
			b.WriteString(" | " + s.Slug + ":" + string(s.State))
		}
		m[v.Email] = b.String()
	}
	return m
}

// TestExportImportRoundTrip: what Import reads, ExportCSV writes back in a
// form Import reads into a fresh store as the same subscribers, names,
// attributes and states. A blocklisted subscriber stays out of the new
// store. The export's first columns are as they always were.
func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	a := newFixture(t)
	in := "email,name,city,attributes\n" +
		"ann@example.com,\"Ann, \"\"the\"\" first\",Berlin,\"{\"\"plan\"\": \"\"pro\"\", \"\"seats\"\": 3}\"\n" +
		"bob@example.com,Bob,Paris,\n" +
		"cy@example.com,,,\n" +
		"dee@example.com,Dee,\"<b>&amp;\",\n" +
		"eve@example.com,Eve,Rome,\n"
	res := importCSV(t, a, in, list.ImportOptions{})
	if res.Imported != 5 {
		t.Fatalf("first import = %+v", res)
	}
	blocklist(t, a, "eve@example.com")
	var out bytes.Buffer
	if err := a.svc.ExportCSV(t.Context(), &out, "newsletter", ""); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(out.Bytes())).ReadAll()
	if err != nil || len(recs) != 6 {
		t.Fatalf("export: %d records, %v:\n%s", len(recs), err, out.String())
	}
	want := "email,name,list,state,created_at,confirmed_at,unsubscribed_at,blocklisted,attributes,consent_source,consent_reason,consent_at"
	if got := strings.Join(recs[0], ","); got != want {
		t.Errorf("header = %s, want %s", got, want)
	}
	for _, r := range recs[1:] {
		if r[0] == "ann@example.com" && (r[8] != `{"city":"Berlin","plan":"pro","seats":"3"}` ||
			r[9] != "import" || r[10] != "paper form at the fair" || r[11] == "") {
			t.Errorf("ann's row = %q", r)
		}
	}

	b := newFixture(t)
	res = importCSV(t, b, out.String(), list.ImportOptions{})
	if res.Imported != 4 || res.Skipped != 1 || !strings.Contains(res.Errors[0].Error, "blocklisted") {
		t.Fatalf("import of the export = %+v, want 4 imported and eve refused", res)
	}
	pa, pb := people(t, a), people(t, b)
	delete(pa, "eve@example.com")
	if !maps.Equal(pa, pb) {
		t.Fatalf("after the round trip:\n%q\nwant\n%q", pb, pa)
	}
}

// TestImportOwnColumnsOnlyInOwnExports: list and state are bookkeeping in
// a file Bulletin exported (it has a blocklisted column), and attributes
// anywhere else; an unsubscribed row of an export is not subscribed again.
func TestImportOwnColumnsOnlyInOwnExports(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := importCSV(t, f, "email,state,list\nann@example.com,Ohio,west\n", list.ImportOptions{})
	vs, _, _, err := f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: "ann@example.com"})
	if res.Imported != 1 || err != nil || len(vs) != 1 || vs[0].Attributes["state"] != "Ohio" || vs[0].Attributes["list"] != "west" {
		t.Fatalf("import = %+v; ann = %+v, %v", res, vs, err)
	}
	res = importCSV(t, f, "email,list,state,blocklisted\nbob@example.com,news,confirmed,false\ncy@example.com,news,unsubscribed,false\n", list.ImportOptions{})
	vs, _, _, err = f.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: "bob@example.com"})
	if res.Imported != 1 || res.Skipped != 1 || res.Errors[0].Line != 3 || err != nil || len(vs) != 1 || len(vs[0].Attributes) != 0 {
		t.Fatalf("import = %+v; bob = %+v, %v", res, vs, err)
	}
}
