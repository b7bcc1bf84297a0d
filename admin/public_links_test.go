package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"net/url"
)

// TestConfirmTwice: people follow a confirmation link twice. Once the
// subscription is confirmed, the link's page says so, with no button, and
// a POST changes nothing and says the same; it is no error page.
func TestConfirmTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	confirm := e.subscribe("twice@example.org")
	if res, body := e.post(confirm, nil); res.StatusCode != 200 || !strings.Contains(body, "You are subscribed") {
		t.Fatalf("first POST = %d\n%s", res.StatusCode, body)
	}
	e.drain() // the welcome
	sb := e.subscriber("twice@example.org")
	before := len(e.events(sb.ID))
	for _, method := range []string{"GET", "POST"} {
		var res_ int
		var body string
		if method == "GET" {
			res, b := e.get(confirm)
			res_, body = res.StatusCode, b
		} else {
			res, b := e.post(confirm, nil)
			res_, body = res.StatusCode, b
		}
		if res_ != 200 || !strings.Contains(body, "You are already subscribed") || !strings.Contains(body, "Newsletter") {
			t.Errorf("%s of a confirmed subscription's link = %d\n%s", method, res_, body)
		}
		if strings.Contains(body, "<button") || strings.Contains(body, "Yes, subscribe me") {
			t.Errorf("%s of a confirmed subscription's link still offers to confirm:\n%s", method, body)
		}
	}
	if after := len(e.events(sb.ID)); after != before {
		t.Errorf("following the link again added %d events", after-before)
	}
	if msgs := e.drain(); len(msgs) != 0 {
		t.Errorf("following the link again sent %d mails", len(msgs))
	}
	// A suppressed person still confirmed on the list who signs up again
	// has something to confirm: the link lifts the suppression.
	if _, err := e.svc.Suppress(t.Context(), "twice@example.org", "hard bounce 5.1.1", list.Origin{}); err != nil {
		t.Fatal(err)
	}
	e.advance(time.Hour)
	e.post("/subscribe/newsletter", url.Values{"email": {"twice@example.org"}})
	msgs := e.drain()
	if len(msgs) != 1 || msgs[0].ConfirmURL == "" {
		t.Fatalf("mails after a suppressed person's sign-up = %d, want a confirmation", len(msgs))
	}
	if res, body := e.get(pathOf(msgs[0].ConfirmURL)); res.StatusCode != 200 || !strings.Contains(body, "Yes, subscribe me") {
		t.Errorf("GET of the suppressed person's new link = %d, without its button\n%s", res.StatusCode, body)
	}
}
