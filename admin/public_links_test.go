package admin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
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
		res, body := e.get(confirm)
		if method == "POST" {
			res, body = e.post(confirm, nil)
		}
		if res.StatusCode != 200 || !strings.Contains(body, "You are already subscribed") || !strings.Contains(body, "Newsletter") {
			t.Errorf("%s of a confirmed subscription's link = %d\n%s", method, res.StatusCode, body)
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

// TestUnsubscribeErased: unsubscribe tokens never expire, not even with
// their subscriber. The one-click of an erased person's old mail answers
// 200, as for anyone unsubscribed, and the page says only that we send
// nothing; a forged token is still refused.
func TestUnsubscribeErased(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.confirmed("gone@example.org")
	sb := e.subscriber("gone@example.org")
	if err := e.svc.EraseSubscriber(t.Context(), sb.ID, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	unsub := pathOf(w.UnsubscribeURL)
	res, body := e.post(unsub, url.Values{"List-Unsubscribe": {"One-Click"}})
	if res.StatusCode != 200 || body != "unsubscribed\n" {
		t.Errorf("one-click of an erased person = %d %q, want 200", res.StatusCode, body)
	}
	for _, method := range []string{"GET", "POST"} {
		var res *http.Response
		if method == "GET" {
			res, body = e.get(unsub)
		} else {
			res, body = e.post(unsub, url.Values{"all": {"1"}})
		}
		if res.StatusCode != 200 || !strings.Contains(body, "We send no mail") {
			t.Errorf("%s of an erased person's unsubscribe page = %d\n%s", method, res.StatusCode, body)
		}
		for _, secret := range []string{"gone@example.org", "Newsletter", "<button"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s of an erased person's unsubscribe page shows %q", method, secret)
			}
		}
	}
	forged := []byte(unsub)
	if i := len(forged) - 5; forged[i] == 'a' {
		forged[i] = 'b'
	} else {
		forged[i] = 'a'
	}
	if res, _ := e.post(string(forged), url.Values{"List-Unsubscribe": {"One-Click"}}); res.StatusCode != 400 {
		t.Errorf("forged one-click of an erased person = %d, want 400", res.StatusCode)
	}
	if msgs := e.drain(); len(msgs) != 0 {
		t.Errorf("mails = %d, want none", len(msgs))
	}
}

// TestUnsubscribeAgain: the unsubscribe link of a person already
// unsubscribed says so, with no button; the pages after leaving link the
// public sign-up form as the way back.
func TestUnsubscribeAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.confirmed("again@example.org")
	unsub := pathOf(w.UnsubscribeURL)
	res, body := e.post(unsub, url.Values{})
	if res.StatusCode != 200 || !strings.Contains(body, `<a href="/subscribe/newsletter">the subscription form</a>`) {
		t.Errorf("POST unsubscribe = %d, without a link to the form\n%s", res.StatusCode, body)
	}
	res, body = e.get(unsub)
	if res.StatusCode != 200 || !strings.Contains(body, "You are already unsubscribed from <strong>Newsletter</strong>") {
		t.Errorf("GET unsubscribe once unsubscribed = %d\n%s", res.StatusCode, body)
	}
	if strings.Contains(body, "<button") || strings.Contains(body, "Do you want to stop") {
		t.Errorf("the page of a person already unsubscribed still asks:\n%s", body)
	}
	if strings.Contains(body, "again@example.org") {
		t.Error("the unsubscribe page shows the address: a forwarded mail's link would reveal it")
	}
	// Leaving everything from the preference page, and erasing, link the
	// public lists' forms.
	w = e.confirmed("all@example.org")
	res, body = e.post(pathOf(w.ManageURL), url.Values{"action": {"unsubscribe_all"}})
	if res.StatusCode != 200 || !strings.Contains(body, `href="/subscribe/newsletter"`) {
		t.Errorf("unsubscribe from all = %d, without a link to the form\n%s", res.StatusCode, body)
	}
	w = e.confirmed("erase@example.org")
	res, body = e.post(e.dataLink(pathOf(w.ManageURL), "erase", "erase@example.org"), url.Values{"action": {"erase"}})
	if res.StatusCode != 200 || !strings.Contains(body, "is erased") || !strings.Contains(body, `href="/subscribe/newsletter"`) {
		t.Errorf("erasure = %d, without a link to the form\n%s", res.StatusCode, body)
	}
}

// TestTestSendOneClick: a test message carries the headers of a real one,
// and its one-click link, which names no subscriber, answers 200 as
// RFC 8058 receivers expect, changing nothing; its manage link opens a
// page that says it came from a test.
func TestTestSendOneClick(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.confirmed("ann@example.org")
	e.drain()
	before := len(e.mail.all())
	name, subject, body, lists := "T", "Test me", "<p>Hello</p>", []string{"newsletter"}
	c, err := e.svc.CreateCampaign(t.Context(), list.CampaignInput{Name: &name, Subject: &subject, Body: &body, Lists: &lists}, list.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.TestSend(t.Context(), c.ID, []string{"tester@example.com"}, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	ms := e.mail.all()[before:]
	if len(ms) != 1 || ms[0].UnsubscribeURL == "" {
		t.Fatalf("test send mailed %+v", ms)
	}
	res, text := e.post(pathOf(ms[0].UnsubscribeURL), url.Values{"List-Unsubscribe": {"One-Click"}})
	if res.StatusCode != 200 || text != "unsubscribed\n" {
		t.Errorf("one-click of a test message = %d %q, want 200", res.StatusCode, text)
	}
	if got := e.state("ann@example.org", "newsletter"); got != list.StateConfirmed {
		t.Errorf("ann is %s after a test message's one-click, want confirmed", got)
	}
	// Its manage link names nobody either: a page says where it comes
	// from, whatever is posted to it.
	manage := pathOf(ms[0].ManageURL)
	res, text = e.get(manage)
	if res.StatusCode != 200 || !strings.Contains(text, "comes from a test message") {
		t.Errorf("a test message's manage link = %d\n%s", res.StatusCode, text)
	}
	res, text = e.post(manage, url.Values{"action": {"unsubscribe_all"}})
	if res.StatusCode != 200 || !strings.Contains(text, "Nothing was changed") {
		t.Errorf("a post to a test message's manage link = %d\n%s", res.StatusCode, text)
	}
	forged := []byte(manage)
	if forged[len(forged)-1] == 'a' {
		forged[len(forged)-1] = 'b'
	} else {
		forged[len(forged)-1] = 'a'
	}
	res, _ = e.get(string(forged))
	if res.StatusCode != 400 {
		t.Errorf("a forged manage link = %d, want 400", res.StatusCode)
	}
}
