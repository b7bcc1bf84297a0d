package smtp

import (
	"bytes"
	"html"
	"net/url"
	"regexp"
	"strings"

	"github.com/bulletin/bulletin/list"
)

// Open and click counting (issue 7): off unless the list package sets
// Message.OpenURL and Message.ClickURL, which it does only for a campaign
// with tracking on and a subscriber who did not opt out. Then the links of
// the HTML part go through ClickURL and a 1×1 image from OpenURL, served by
// the instance itself, is put before </body>. The text part, the
// unsubscribe, manage, confirm and privacy links, and anything not http(s)
// are left alone.

var (
	anchorRE = regexp.MustCompile(`(?is)<a\s[^>]*>`)
	hrefRE   = regexp.MustCompile(`(?is)(\bhref\s*=\s*)("([^"]*)"|'([^']*)')`)
)

// addTracking returns the HTML part with the tracking of m inserted, or b
// itself when m asks for none.
func addTracking(b []byte, m *list.Message) []byte {
	if m.ClickURL == "" && m.OpenURL == "" {
		return b
	}
	if m.ClickURL != "" {
		b = rewriteLinks(b, m)
	}
	if m.OpenURL != "" {
		b = insertPixel(b, m.OpenURL)
	}
	return b
}

// rewriteLinks points every trackable link of the <a> tags at ClickURL.
func rewriteLinks(b []byte, m *list.Message) []byte {
	keep := map[string]bool{m.UnsubscribeURL: true, m.ManageURL: true, m.ConfirmURL: true, m.PrivacyURL: true}
	return anchorRE.ReplaceAllFunc(b, func(tag []byte) []byte {
		return hrefRE.ReplaceAllFunc(tag, func(attr []byte) []byte {
			sm := hrefRE.FindSubmatch(attr)
			raw := sm[3]
			if len(sm[4]) > 0 || (len(raw) == 0 && bytes.HasSuffix(sm[2], []byte("'"))) {
				raw = sm[4]
			}
			target := strings.TrimSpace(html.UnescapeString(string(raw)))
			if !trackable(target, keep) {
				return attr
			}
			u := m.ClickURL + url.QueryEscape(target)
			return append(bytes.Clone(sm[1]), `"`+html.EscapeString(u)+`"`...)
		})
	})
}

func trackable(target string, keep map[string]bool) bool {
	if keep[target] {
		return false
	}
	lt := strings.ToLower(target)
	return strings.HasPrefix(lt, "https://") || strings.HasPrefix(lt, "http://")
}

// insertPixel puts the open-counting image before </body>.
func insertPixel(b []byte, openURL string) []byte {
	img := `<img src="` + html.EscapeString(openURL) + `" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;">` + "\n"
	i := bytes.LastIndex(bytes.ToLower(b), []byte("</body>"))
	if i < 0 {
		return append(b, img...)
	}
	out := make([]byte, 0, len(b)+len(img))
	out = append(out, b[:i]...)
	out = append(out, img...)
	return append(out, b[i:]...)
}
