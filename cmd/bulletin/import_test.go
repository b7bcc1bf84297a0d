package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportCommand(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	newStore(t, data)
	file := filepath.Join(t.TempDir(), "subs.csv")
	csv := "Email Address,First Name,Last Name\nann@example.org,Ann,Lee\nbroken\nbob@example.org,Bob,\nANN@example.org,Ann,Lee\n"
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(string) string { return "" }
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"import", "--data", data, "--list", "newsletter", "--mode", "confirmed", "--reason", "fair", file}, getenv, &out, &errb)
	if err != nil {
		t.Fatalf("import: %v\n%s%s", err, out.String(), errb.String())
	}
	// Line 5 repeats the address of line 2: the first row of an address
	// is the one imported.
	if !strings.Contains(out.String(), "4 rows") || !strings.Contains(out.String(), "2 imported, 0 updated, 2 skipped") || !strings.Contains(out.String(), "line 3: ") ||
		!strings.Contains(out.String(), "line 5: repeats the address of line 2") {
		t.Fatalf("import output:\n%s", out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"export", "--data", data, "--list", "newsletter"}, getenv, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "ann@example.org,Ann Lee,newsletter,confirmed") || !strings.Contains(got, "bob@example.org,Bob,newsletter,confirmed") {
		t.Fatalf("export:\n%s", got)
	}
	for name, args := range map[string][]string{
		"no list":   {"import", "--data", data, file},
		"no reason": {"import", "--data", data, "--list", "newsletter", "--mode", "confirmed", file},
		"bad mode":  {"import", "--data", data, "--list", "newsletter", "--mode", "maybe", file},
		"no file":   {"import", "--data", data, "--list", "newsletter"},
	} {
		if err := run(t.Context(), args, getenv, &out, &errb); exitCode(err, &errb) != 2 {
			t.Errorf("%s: err = %v, want a usage error", name, err)
		}
	}
}

func TestImportCommandRemote(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	file := filepath.Join(t.TempDir(), "subs.csv")
	if err := os.WriteFile(file, []byte("email,name\ncy@example.org,Cy\nnope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "BULLETIN_TOKEN" {
			return "admin:" + testPassword
		}
		return ""
	}
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"import", "--server", s.base, "--list", "newsletter", "--mode", "confirmed", "--reason", "remote", file}, getenv, &out, &errb)
	if err != nil {
		t.Fatalf("remote import: %v\n%s%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "1 imported, 0 updated, 1 skipped") || !strings.Contains(out.String(), "line 3: ") {
		t.Fatalf("remote import output:\n%s", out.String())
	}
}

// TestImportInterrupted: an offline import stopped by Ctrl-C says how many
// rows it committed and that importing the file again is safe (exit 130).
func TestImportInterrupted(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	newStore(t, data)
	file := filepath.Join(t.TempDir(), "subs.csv")
	if err := os.WriteFile(file, []byte("email\nann@example.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"import", "--data", data, "--list", "newsletter", file}, envOf(), &out, &out)
	if code := exitCode(err, &out); code != 130 || !strings.Contains(out.String(), "0 rows were committed") || !strings.Contains(out.String(), "again is safe") {
		t.Errorf("interrupted import = exit %d:\n%s", code, out.String())
	}
}
