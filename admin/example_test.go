package admin_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/bulletin/bulletin/admin"
	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
	"github.com/bulletin/bulletin/templates"
)

// discardMailer accepts every mail and sends nothing.
type discardMailer struct{}

func (discardMailer) Send(context.Context, *list.Message) (string, error)    { return "<1@example>", nil }
func (discardMailer) Preview(context.Context, *list.Message) ([]byte, error) { return nil, nil }
func (discardMailer) Lint(context.Context, *list.Message) []list.Finding     { return nil }

// Example wires a Server over a store and a service, and signs an address
// up through the public form.
func Example() {
	dir, _ := os.MkdirTemp("", "bulletin-example")
	defer os.RemoveAll(dir)
	db, err := store.Open(filepath.Join(dir, "b.db"), store.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	svc, _ := list.New(list.Options{Store: db, Mailer: discardMailer{}, Secret: []byte("an instance secret of 32 bytes!!")})
	svc.Bootstrap(context.Background()) // the "newsletter" list

	srv, err := admin.New(admin.Options{Service: svc, FS: templates.FS, Outbox: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	res, _ := ts.Client().PostForm(ts.URL+"/subscribe/newsletter", url.Values{"email": {"ann@example.com"}})
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, strings.Contains(string(body), "Check your inbox"))

	res, _ = ts.Client().Get(ts.URL + "/api/v1/lists")
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("WWW-Authenticate"))
	// Output:
	// 200 true
	// 401 Basic realm="bulletin", charset="UTF-8"
}
