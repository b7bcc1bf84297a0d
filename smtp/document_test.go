package smtp

import (
	"bytes"
	"strings"
	"testing"
)

// TestDocumentBody: a body written as a whole HTML document is not nested
// in the layout's document: its body content goes where {{.Body}} is, its
// styles into the layout's head, and the lint names what is left out.
func TestDocumentBody(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	tests := []struct {
		name, body string
		want       []string // in the HTML part
		dropped    string   // in the lint's html-document warning; "" for none
	}{
		{
			name: "builder export",
			body: "<!DOCTYPE html>\n<html lang=\"de\"><head><meta charset=\"utf-8\"><title>T</title>" +
				"<style>.x{color:red}</style><!--[if mso]><xml>o</xml><![endif]-->" +
				`<link rel="stylesheet" href="https://x.example/s.css"></head>` +
				"\n<body style=\"background:#eee\" bgcolor=\"#eee\"><h1 class=\"x\">Hello {{.Name}}</h1></body></html>\n",
			want:    []string{"<style>.x{color:red}</style>", `<div style="background:#eee"><h1 class="x">Hello Ann</h1></div>`},
			dropped: "<link>, <body bgcolor> are left out",
		},
		{
			name: "report",
			body: "<html><body><h1>Hello {{.Name}}</h1><p>x</p></body></html>",
			want: []string{"<h1>Hello Ann</h1><p>x</p>\n</div>"},
		},
		{
			name: "no body tag",
			body: "<!-- made by hand --><html><title>T</title><h1>Hello {{.Name}}</h1></html>",
			want: []string{"<h1>Hello Ann</h1>\n</div>"},
		},
	}
	for i, tt := range tests {
		m := testMessage()
		m.Campaign.Body, m.Campaign.Revision = tt.body, uint64(i+1)
		raw, err := s.Preview(t.Context(), m)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := strings.ReplaceAll(parseMessage(t, raw).parts["text/html"], "\r\n", "\n")
		for _, tag := range []string{"<html", "<head", "<body", "</body>", "</html>", "<!DOCTYPE"} {
			if n := strings.Count(strings.ToLower(got), strings.ToLower(tag)); n != 1 {
				t.Errorf("%s: %d × %s in the HTML part, want 1:\n%s", tt.name, n, tag, got)
			}
		}
		if i := strings.Index(got, "<style>"); i >= 0 && i > strings.Index(got, "</head>") {
			t.Errorf("%s: the style is not in the head:\n%s", tt.name, got)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: the HTML part lacks %q:\n%s", tt.name, w, got)
			}
		}
		if strings.Contains(got, "<title>T</title>") || strings.Contains(got, "s.css") {
			t.Errorf("%s: the document's title or link is kept:\n%s", tt.name, got)
		}
		var warned string
		for _, f := range s.Lint(t.Context(), m) {
			if f.Code == "html-document" {
				warned = f.Message
			}
		}
		if tt.dropped == "" && warned != "" || !strings.Contains(warned, tt.dropped) {
			t.Errorf("%s: lint html-document = %q, want one naming %q", tt.name, warned, tt.dropped)
		}
	}
}

// FuzzSplitDocument checks that taking any document apart keeps only
// pieces of it: the content and the head are made of its bytes.
func FuzzSplitDocument(f *testing.F) {
	f.Add("<!DOCTYPE html><html><head><style>a{}</style></head><body style=\"x\">b</body></html>")
	f.Add("<html><title>t<body>x</title><body>y")
	f.Add("<head><!--[if mso]><x><![endif]--><script>s</script></head><p>z</p></body>")
	f.Add("<body")
	f.Fuzz(func(t *testing.T, doc string) {
		d := splitDocument([]byte(doc))
		content := d.content
		if bytes.HasPrefix(content, []byte("<div style=")) {
			if i := bytes.IndexByte(content, '>'); i > 0 && bytes.HasSuffix(content, []byte("</div>")) {
				content = content[i+1 : len(content)-len("</div>")]
			}
		}
		if !strings.Contains(doc, string(content)) {
			t.Fatalf("content %q is not from %q", content, doc)
		}
		if len(d.head) > len(doc) {
			t.Fatalf("head %q is longer than %q", d.head, doc)
		}
	})
}
