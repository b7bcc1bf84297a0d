package smtp

import (
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// builderBody is a campaign body as mail builders export it: Outlook
// settings in the head, a ghost table and a VML button (with an action for
// its link) for Outlook, content for the other clients between
// downlevel-revealed delimiters.
const builderBody = `<!DOCTYPE html>
<html><head><title>T</title>
<!--[if mso]><xml><o:OfficeDocumentSettings><o:PixelsPerInch>96</o:PixelsPerInch></o:OfficeDocumentSettings></xml><![endif]-->
<!--[if !mso]><!--><style>.x{color:red}</style><!--<![endif]-->
</head><body>
<!--[if mso | IE]><table role="presentation"><tr><td><![endif]-->
<p>Hello {{.Name}}</p>
<!--[if mso]><v:roundrect href="{{.ManageURL}}" arcsize="10%"><center>Manage</center></v:roundrect><![endif]-->
<!--[if !mso]><!--><a href="{{.ManageURL}}">Manage, {{.Name}}</a><!--<![endif]-->
<!-- a plain comment -->
<!--[if mso | IE]></td></tr></table><![endif]-->
</body></html>`

// TestConditionalComments checks that a body's and a custom layout's
// conditional comments reach the mail with their actions run, that plain
// comments still go, and that a value cannot close a comment.
func TestConditionalComments(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	m := testMessage()
	m.Subscriber.Name = "Ann --><script>x</script><!--"
	m.Campaign.Body = builderBody
	m.Layout = &list.Layout{HTML: "<html><head><!--[if gte mso 9]><style>td{padding:0}</style><![endif]--></head>" +
		"<body>{{.Body}}<!--[if mso]><p>{{.PostalAddress}}</p><![endif]--><p><a href=\"{{.UnsubscribeURL}}\">Unsubscribe</a></p></body></html>",
		Text: "{{.Body}}\n{{.UnsubscribeURL}}\n{{.PostalAddress}}"}
	raw, err := s.Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(parseMessage(t, raw).parts["text/html"], "\r\n", "\n")
	name := "Ann --&gt;&lt;script&gt;x&lt;/script&gt;&lt;!--"
	for _, want := range []string{
		"<!--[if mso]><xml><o:OfficeDocumentSettings><o:PixelsPerInch>96</o:PixelsPerInch></o:OfficeDocumentSettings></xml><![endif]-->",
		"<!--[if !mso]><!--><style>.x{color:red}</style><!--<![endif]-->",
		`<!--[if mso | IE]><table role="presentation"><tr><td><![endif]-->`,
		`<!--[if mso]><v:roundrect href="` + m.ManageURL + `" arcsize="10%"><center>Manage</center></v:roundrect><![endif]-->`,
		`<!--[if !mso]><!--><a href="` + m.ManageURL + `">Manage, ` + name + `</a><!--<![endif]-->`,
		"<!--[if mso | IE]></td></tr></table><![endif]-->",
		"<!--[if gte mso 9]><style>td{padding:0}</style><![endif]-->",
		"<!--[if mso]><p>Example Press Ltd",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the HTML part lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "a plain comment") || strings.Contains(got, "<script>") || strings.Contains(got, "\ue000") {
		t.Errorf("a plain comment, a script or a marker is in the HTML part:\n%s", got)
	}
	if head, _, _ := strings.Cut(got, "</head>"); !strings.Contains(head, "<o:OfficeDocumentSettings>") || !strings.Contains(head, "<!--<![endif]-->") {
		t.Errorf("the body's head comments are not in the head:\n%s", head)
	}
	if text := parseMessage(t, raw).parts["text/plain"]; strings.Contains(text, "roundrect") || strings.Contains(text, "[if") {
		t.Errorf("Outlook's markup reached the text part:\n%s", text)
	}
}

// TestConditionalMarkersFromValues checks that a value printing a marker
// is not taken for one.
func TestConditionalMarkersFromValues(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	m := testMessage()
	m.Subscriber.Name = markOpen + "0" + markClose + markOpen + "x" + markOpen + "00000000000000000.0" + markClose
	m.Campaign.Body = "<!--[if mso]><p>{{.Name}}</p><![endif]-->"
	raw, err := s.Preview(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	got := parseMessage(t, raw).parts["text/html"]
	if !strings.Contains(got, "<!--[if mso]><p>"+m.Subscriber.Name+"</p><![endif]-->") {
		t.Errorf("the name is not printed as it is:\n%s", got)
	}
}

// FuzzConditionals checks that holding a source's conditional comments and
// putting them back gives the source again.
func FuzzConditionals(f *testing.F) {
	f.Add(builderBody)
	f.Add("<!--[if mso]>x<![endif]--><!--<![endif]-->\ue0001\ue001\ue000.0\ue001")
	f.Add("<!--[IF !mso]><!-->y")
	f.Fuzz(func(t *testing.T, src string) {
		out, h := holdConditionals(src)
		if back := string(h.restore(nil, []byte(out))); back != src {
			t.Fatalf("round trip of %q gave %q (held %q)", src, back, out)
		}
		if h.delims != nil && strings.Count(out, h.prefix) != len(h.delims)+strings.Count(src, h.prefix) {
			t.Fatalf("%q held as %q with %d delimiters", src, out, len(h.delims))
		}
	})
}
