package smtp

import (
	"strings"
	"testing"
)

// TestTemplateCacheFollowsEdits: campaign times are whole seconds, so two
// edits within one second share an updated_at; the revision still tells
// the template cache that the content changed.
func TestTemplateCacheFollowsEdits(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, nil)
	m := testMessage()
	for rev, body := range []string{"<p>first edit {{.Name}}</p>", "<p>second edit {{.Name}}</p>"} {
		c := *m.Campaign
		c.Body, c.Revision = body, uint64(rev+1)
		m.Campaign = &c
		raw, err := s.Preview(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Fields(strings.Trim(body, "<p>"))[0] + " edit Ann"
		if got := parseMessage(t, raw).parts["text/html"]; !strings.Contains(got, want) {
			t.Errorf("revision %d, same updated_at: html part lacks %q:\n%s", rev+1, want, got)
		}
	}
}
