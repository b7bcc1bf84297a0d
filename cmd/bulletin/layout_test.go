package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/bulletin/bulletin"

// allowedImports are the project packages each package may import
// (DESIGN.md "Layout"); cmd may import everything.
var allowedImports = map[string][]string{
	"list":         nil,
	"templates":    nil,
	"store":        {"list"},
	"smtp":         {"list", "smtp/bounce"},
	"smtp/bounce":  nil,
	"smtp/dnstest": nil,
	"admin":        {"list"},
}

// ownedLibraries are the libraries only one package may use.
var ownedLibraries = map[string]string{
	"github.com/gorilla/mux":      "admin",
	"go.etcd.io/bbolt":            "store",
	"github.com/emersion/go-smtp": "smtp",
}

// TestPackageLayout fails on an import that the design forbids: the domain
// hub imports no project package, the spokes import only list, and each
// core library stays in its package. Test files are exempt.
func TestPackageLayout(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	for pkg, allowed := range allowedImports {
		for _, imp := range packageImports(t, filepath.Join(root, pkg)) {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok && !contains(allowed, rel) {
				t.Errorf("%s imports %s: forbidden by the layout", pkg, rel)
			}
			for lib, owner := range ownedLibraries {
				if strings.HasPrefix(imp, lib) && !strings.HasPrefix(pkg, owner) {
					t.Errorf("%s imports %s, which only %s may use", pkg, lib, owner)
				}
			}
		}
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// packageImports lists the imports of a folder's non-test Go files.
func packageImports(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			out = append(out, p)
		}
	}
	if len(out) == 0 && !strings.HasSuffix(dir, "templates") {
		t.Fatalf("no imports found in %s: is the path right?", dir)
	}
	return out
}
