// Command searchbench measures subscriber search and the list pages of the
// admin UI over a store of N subscribers (1,000,000 by default): it seeds
// the store through the CSV import, then serves the real admin handler
// in-process and times each kind of request, printing p50 and p99.
//
//	go run ./bench/searchbench -n 1000000
//
// It never fails on timing.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/bulletin/bulletin/admin"
	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
	"github.com/bulletin/bulletin/templates"
)

// nopMailer sends nothing: the benchmark reads.
type nopMailer struct{}

func (nopMailer) Send(context.Context, *list.Message) (string, error)    { return "<x@bench>", nil }
func (nopMailer) Preview(context.Context, *list.Message) ([]byte, error) { return nil, nil }
func (nopMailer) Lint(context.Context, *list.Message) []list.Finding     { return nil }

// rows generates the CSV of the seed without holding it.
type rows struct {
	i, n int
	buf  []byte
}

func (g *rows) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if g.i > g.n {
			return 0, io.EOF
		}
		if g.i == 0 {
			g.buf = []byte("email,name,city\n")
		} else {
			k := (g.i*7919 + 13) % g.n
			g.buf = fmt.Appendf(g.buf[:0], "user%07d@example%d.com,User %d,City%d\n", k, k%97, k, k%50)
		}
		g.i++
	}
	c := copy(p, g.buf)
	g.buf = g.buf[c:]
	return c, nil
}

func main() {
	n := flag.Int("n", 1_000_000, "subscribers in the store")
	reqs := flag.Int("requests", 200, "requests per kind")
	flag.Parse()
	if err := run(*n, *reqs); err != nil {
		log.Fatal(err)
	}
}

func run(n, reqs int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "searchbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(filepath.Join(dir, "b.db"), store.Options{NoSync: true})
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := list.New(list.Options{Store: db, Mailer: nopMailer{}, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Config: list.Config{BaseURL: "https://news.example", Domain: "news.example"}})
	if err != nil {
		return err
	}
	if err := svc.Bootstrap(ctx); err != nil {
		return err
	}
	if _, err := svc.AddUser(ctx, "root", list.RoleAdmin, "root-password", list.Origin{}); err != nil {
		return err
	}
	start := time.Now()
	res, err := svc.Import(ctx, &rows{n: n}, list.ImportOptions{List: "newsletter", Mode: list.ImportConfirmed, Reason: "seed"})
	if err != nil {
		return err
	}
	fmt.Printf("seeded %d subscribers in %s; store %.0f MB\n\n", res.Imported, time.Since(start).Round(time.Second), float64(db.Size())/1e6)
	srv, err := admin.New(admin.Options{Service: svc, FS: templates.FS})
	if err != nil {
		return err
	}
	h := srv.Handler()
	cookies, err := login(h)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	kinds := []struct {
		name string
		path func() string
	}{
		{"search: address prefix (≤10 hits)", func() string { return fmt.Sprintf("/admin/subscribers?q=user%06d", r.IntN(n/10)) }},
		{"search: exact address", func() string {
			k := r.IntN(n)
			return fmt.Sprintf("/admin/subscribers?q=user%07d@example%d.com", k, k%97)
		}},
		{"search: name prefix (≤11 hits)", func() string { return "/admin/subscribers?q=" + url.QueryEscape(fmt.Sprintf("User %d", r.IntN(n/10))) }},
		{"search: prefix of 1,000 hits", func() string { return fmt.Sprintf("/admin/subscribers?q=user%04d", r.IntN(n/1000)) }},
		{"search: prefix, list and state", func() string {
			return fmt.Sprintf("/admin/subscribers?q=user%05d&list=newsletter&state=confirmed", r.IntN(n/100))
		}},
		{"page: list members at a cursor", func() string {
			return fmt.Sprintf("/admin/subscribers?list=newsletter&state=confirmed&after=%d", r.IntN(n))
		}},
		{"page: all subscribers at a cursor", func() string { return fmt.Sprintf("/admin/subscribers?after=%d", r.IntN(n)) }},
		{"page: subscriber", func() string { return fmt.Sprintf("/admin/subscribers/%d", 1+r.IntN(n)) }},
		{"page: lists", func() string { return "/admin/lists" }},
		{"page: dashboard", func() string { return "/admin/" }},
	}
	fmt.Printf("%-36s %9s %9s %9s\n", "request", "p50 ms", "p99 ms", "max ms")
	for _, k := range kinds {
		var ds []time.Duration
		for range reqs {
			req := httptest.NewRequest("GET", k.path(), nil)
			for _, c := range cookies {
				req.AddCookie(c)
			}
			rec := httptest.NewRecorder()
			t0 := time.Now()
			h.ServeHTTP(rec, req)
			ds = append(ds, time.Since(t0))
			if rec.Code != 200 {
				return fmt.Errorf("%s: %s = %d", k.name, req.URL, rec.Code)
			}
		}
		slices.Sort(ds)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		fmt.Printf("%-36s %9.2f %9.2f %9.2f\n", k.name, ms(ds[len(ds)/2]), ms(ds[len(ds)*99/100]), ms(ds[len(ds)-1]))
	}
	return nil
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login signs in through the form and returns the session cookies.
func login(h http.Handler) ([]*http.Cookie, error) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/", nil))
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if m == nil {
		return nil, fmt.Errorf("no login form")
	}
	v := url.Values{"csrf": {m[1]}, "username": {"root"}, "password": {"root-password"}}
	req := httptest.NewRequest("POST", "/admin/login", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		return nil, fmt.Errorf("login = %d", rec.Code)
	}
	return rec.Result().Cookies(), nil
}
