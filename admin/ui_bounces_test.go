package admin

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// TestBounceRecordsReadable: a report the parser could not read is kept
// as an unknown record, and its text can be read, from the API and from
// the Bounces pages, escaped and sandboxed, as deliverability.md says.
func TestBounceRecordsReadable(t *testing.T) {
	t.Parallel()
	u := newUIEnv(t)
	raw := "From: mailer-daemon@example.net\r\nSubject: Undeliverable <script>alert(1)</script>\r\n\r\nYour message to someone could not be <b>delivered</b>.\r\n"
	if err := u.svc.HandleInbound(t.Context(), list.InboundReport{Rcpt: list.RcptBounce, Raw: []byte(raw)}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, h: u.h}
	var b bounceJSON
	e.call("GET", "/api/v1/bounces/1", "root", nil, 200, &b)
	if b.ID != 1 || b.Kind != list.BounceUnknown || b.Counted {
		t.Errorf("GET /api/v1/bounces/1 = %+v, want the unknown record", b)
	}
	res, text := e.do(apiReq("GET", "/api/v1/bounces/1/raw", "root", nil))
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "message/rfc822" || text != raw {
		t.Errorf("GET /api/v1/bounces/1/raw = %d %s\n%q", res.StatusCode, res.Header.Get("Content-Type"), text)
	}
	for _, p := range []string{"/api/v1/bounces/2", "/api/v1/bounces/2/raw", "/api/v1/bounces/0"} {
		if res, _ := e.do(apiReq("GET", p, "root", nil)); res.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", p, res.StatusCode)
		}
	}

	s := u.login("ed")
	res, body := s.get("/admin/bounces")
	if res.StatusCode != 200 || !strings.Contains(body, `href="/admin/bounces/1"`) || !strings.Contains(body, "<td>unknown</td>") ||
		!strings.Contains(body, `href="/admin/bounces" aria-current="page"`) {
		t.Errorf("bounces page = %d\n%s", res.StatusCode, body)
	}
	res, body = s.get("/admin/bounces/1")
	if res.StatusCode != 200 || !strings.Contains(body, "could not be &lt;b&gt;delivered&lt;/b&gt;") || strings.Contains(body, "<script>alert") ||
		!strings.Contains(body, `href="/admin/bounces/1/raw"`) || !strings.Contains(body, "none recognised") {
		t.Errorf("bounce page = %d\n%s", res.StatusCode, body)
	}
	res, text = s.get("/admin/bounces/1/raw")
	if res.StatusCode != 200 || text != raw || res.Header.Get("Content-Security-Policy") != "sandbox" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("raw report = %d %v", res.StatusCode, res.Header)
	}
	// Paging: the link to the later records leads to them.
	if err := u.svc.HandleInbound(t.Context(), list.InboundReport{Rcpt: list.RcptBounce, Raw: []byte("second")}); err != nil {
		t.Fatal(err)
	}
	_, body = s.get("/admin/bounces?limit=1")
	next := regexp.MustCompile(`href="(/admin/bounces\?[^"]+)">Later records`).FindStringSubmatch(body)
	if next == nil || strings.Contains(body, `href="/admin/bounces/2"`) {
		t.Fatalf("first page of one record:\n%s", body)
	}
	if _, body = s.get(html.UnescapeString(next[1])); !strings.Contains(body, `href="/admin/bounces/2"`) || strings.Contains(body, `href="/admin/bounces/1"`) {
		t.Errorf("the later records' page (%s) does not show record 2 alone:\n%s", next[1], body)
	}
	if _, body := s.get("/admin/bounces?kind=hard"); !strings.Contains(body, "No record matches these filters") {
		t.Errorf("a filter that matches nothing:\n%s", body)
	}
	if res, body := s.get("/admin/bounces?campaign=first"); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "campaign number") {
		t.Errorf("a campaign that is no number = %d\n%s", res.StatusCode, body)
	}
	if res, _ := s.get("/admin/bounces?kind=bogus"); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("an unknown kind = %d, want 422", res.StatusCode)
	}
}
