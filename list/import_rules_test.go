package list_test

import (
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// TestImportAppliesAddressRules: a list's domain and role rules refuse rows
// of an import as they refuse the form and the API.
func TestImportAppliesAddressRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	block := true
	if _, err := f.svc.UpdateList(ctx, "newsletter", list.ListPatch{BlockFreeMail: &block}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	csv := "email,name\nann@company.example,Ann\nbob@gmail.com,Bob\npostmaster@company.example,PM\n"
	res, err := f.svc.Import(ctx, strings.NewReader(csv), list.ImportOptions{List: "newsletter", Mode: "confirmed", Reason: "fair"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 1 || res.Skipped != 2 || len(res.Errors) != 2 || res.Errors[0].Line != 3 || res.Errors[1].Line != 4 {
		t.Fatalf("import = %+v, want ann imported, lines 3 and 4 refused", res)
	}
}
