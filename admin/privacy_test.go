package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

// manageOf confirms email and returns the path of its preference page.
func (e *env) manageOf(email string) string {
	e.t.Helper()
	return pathOf(e.confirmed(email).ManageURL)
}

// dataLink asks for a data-access action on the preference page and
// returns the path of the link mailed to the subscriber.
func (e *env) dataLink(manage, action, email string) string {
	e.t.Helper()
	res, body := e.post(manage, url.Values{"action": {action}})
	if res.StatusCode != 200 || !strings.Contains(body, "We sent a link") {
		e.t.Fatalf("%s request = %d\n%s", action, res.StatusCode, body)
	}
	ms := e.drain()
	if len(ms) != 1 || ms[0].Kind != list.MailDataAccess || ms[0].Action != action || ms[0].To != email {
		e.t.Fatalf("%s request mailed %d messages", action, len(ms))
	}
	return pathOf(ms[0].ConfirmURL)
}

// seedTraces gives a subscriber a campaign send record and a bounce.
func (e *env) seedTraces(c list.CampaignID, id list.SubscriberID, email string) {
	e.t.Helper()
	ctx := e.t.Context()
	rec := list.SendRecord{Subscriber: id, Outcome: list.OutcomeSent, MessageID: "m" + email, Attempts: 1, At: e.now(), FirstTry: e.now()}
	if _, err := e.db.CommitSends(ctx, c, list.SendBatch{Records: []list.SendRecord{rec}}); err != nil {
		e.t.Fatal(err)
	}
	b := &list.Bounce{Email: email, Subscriber: id, Kind: list.BounceSoft, Action: "delayed", Status: "4.2.2",
		Diagnostic: "mailbox full", Campaign: c, At: e.now()}
	if err := e.db.AddBounce(ctx, b); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) campaign(name, body string, tracking bool) list.CampaignView {
	e.t.Helper()
	lists := []string{"newsletter"}
	v, err := e.svc.CreateCampaign(e.t.Context(), list.CampaignInput{Name: &name, Subject: &name, Body: &body,
		Lists: &lists, Tracking: &tracking}, list.Origin{User: "root"})
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// TestDataExportAndErasure: the preference page first mails a link; the
// link's page changes nothing; its POST downloads everything about the
// person and nothing of anyone else, or erases them leaving only the
// keyed hash, after which neither the API nor an import brings them back.
func TestDataExportAndErasure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.addUser("root", list.RoleAdmin)
	manage := e.manageOf("ann@example.com")
	e.confirmed("zed@example.com")
	ann, zed := e.subscriber("ann@example.com"), e.subscriber("zed@example.com")
	c := e.campaign("Spring news", "<p>Hello</p>", false)
	e.seedTraces(c.ID, ann.ID, "ann@example.com")
	e.seedTraces(c.ID, zed.ID, "zed@example.com")

	// The manage link alone cannot take the data: it only mails a link.
	export := e.dataLink(manage, "export", "ann@example.com")
	before := len(e.events(ann.ID))
	res, body := e.get(export)
	if res.StatusCode != 200 || !strings.Contains(body, `value="export"`) || len(e.events(ann.ID)) != before {
		t.Fatalf("GET export link = %d, events %d→%d\n%s", res.StatusCode, before, len(e.events(ann.ID)), body)
	}
	if res, _ := e.post(export, url.Values{"action": {"erase"}}); res.StatusCode != 400 {
		t.Errorf("export link used for an erasure = %d, want 400", res.StatusCode)
	}
	res, body = e.post(export, url.Values{"action": {"export"}})
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("POST export = %d %q\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	var x list.SubscriberExport
	if err := json.Unmarshal([]byte(body), &x); err != nil {
		t.Fatal(err)
	}
	if x.Subscriber.ID != ann.ID || x.Subscriber.Email != "ann@example.com" || len(x.Subscriptions) != 1 {
		t.Fatalf("export subscriber = %+v", x.Subscriber)
	}
	if cs := x.Subscriptions[0].Consent; cs == nil || cs.Text == "" || cs.TextVersion != 1 || cs.ConfirmedAt == nil {
		t.Errorf("export consent = %+v", cs)
	}
	if len(x.Events) < 4 || len(x.Mails) != 1 || x.Mails[0].MessageID != "mann@example.com" || x.Mails[0].Subject != "Spring news" ||
		len(x.Bounces) != 1 || x.Bounces[0].Email != "ann@example.com" {
		t.Errorf("export: %d events, mails %+v, bounces %+v", len(x.Events), x.Mails, x.Bounces)
	}
	for _, ev := range x.Events {
		if ev.Subscriber != ann.ID {
			t.Errorf("export holds an event of subscriber %d", ev.Subscriber)
		}
	}
	if strings.Contains(body, "zed") || strings.Contains(body, `"subscriber_id": `+itoaID(zed.ID)+",") {
		t.Error("the export holds data of another subscriber")
	}
	// The admin API gives the same export.
	var ax list.SubscriberExport
	e.call("GET", "/api/v1/subscribers/"+itoaID(ann.ID)+"/export", "root", nil, 200, &ax)
	if ax.Subscriber.ID != ann.ID || len(ax.Mails) != 1 || len(ax.Bounces) != 1 {
		t.Errorf("API export = %+v", ax)
	}

	// Erasure: mailed link, page, POST.
	erase := e.dataLink(manage, "erase", "ann@example.com")
	if res, body := e.get(erase); res.StatusCode != 200 || !strings.Contains(body, `value="erase"`) {
		t.Fatalf("GET erase link = %d\n%s", res.StatusCode, body)
	}
	if _, err := e.svc.Subscriber(ctx, ann.ID); err != nil {
		t.Fatal("GET of the erase link erased")
	}
	if res, body := e.post(erase, url.Values{"action": {"erase"}}); res.StatusCode != 200 || !strings.Contains(body, "erased") {
		t.Fatalf("POST erase = %d\n%s", res.StatusCode, body)
	}
	if _, err := e.svc.Subscriber(ctx, ann.ID); err == nil {
		t.Error("the subscriber is still there")
	}
	if evs, _ := e.db.Events(ctx, ann.ID, 0, 100); len(evs) != 0 {
		t.Errorf("%d events left", len(evs))
	}
	if bs, _ := e.db.Bounces(ctx, list.BounceFilter{Limit: 100}); len(bs) != 1 || bs[0].Email != "zed@example.com" {
		t.Errorf("bounces left: %+v", bs)
	}
	if _, err := e.db.SendRecord(ctx, c.ID, ann.ID); err == nil {
		t.Error("the send record is left")
	}
	if _, err := e.db.SendRecord(ctx, c.ID, zed.ID); err != nil {
		t.Errorf("zed's send record went too: %v", err)
	}
	sup, _, err := e.db.Suppressions(ctx, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	hash := e.svc.Tokens().AddressHash("ann@example.com")
	if len(sup) != 1 || sup[0].Email != "" || string(sup[0].Hash) != string(hash) {
		t.Fatalf("suppression after erasure = %+v, want only the keyed hash", sup)
	}
	if sup[0].How != list.HowForm {
		t.Errorf("self-service erasure recorded as done by %q, want %q", sup[0].How, list.HowForm)
	}
	for _, link := range []string{manage, export, erase} {
		if res, _ := e.get(link); res.StatusCode != 400 {
			t.Errorf("GET %s after erasure = %d, want 400", link[:10], res.StatusCode)
		}
	}

	// A later API addition or import does not bring them back.
	var v subscriberJSON
	e.call("POST", "/api/v1/subscribers", "root", `{"email":"Ann@Example.com","lists":["newsletter"],"state":"confirmed","reason":"old list"}`, 201, &v)
	if !v.Blocklisted || len(v.Subscriptions) != 1 || v.Subscriptions[0].State == list.StateConfirmed {
		t.Errorf("re-added erased address = %+v", v)
	}
	if ms := e.drain(); len(ms) != 0 {
		t.Errorf("re-added erased address got %d mails", len(ms))
	}
	e.call("DELETE", "/api/v1/subscribers/"+itoaID(v.ID), "root", nil, 204, nil)
	r, err := e.svc.Import(ctx, strings.NewReader("email,name\nann@example.com,Ann\nnew@example.com,New\n"),
		list.ImportOptions{List: "newsletter", Mode: list.ImportConfirmed, Reason: "fair", Origin: list.Origin{User: "root"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Imported != 1 || r.Skipped != 1 || len(r.Errors) != 1 || r.Errors[0].Line != 2 {
		t.Errorf("import of an erased address = %+v", r)
	}
	if got := e.state("ann@example.com", "newsletter"); got == list.StateConfirmed {
		t.Error("the import confirmed an erased address")
	}
}

func itoaID[T ~uint64](id T) string { return strconv.FormatUint(uint64(id), 10) }

// TestEmailChange: the new address must confirm before it replaces the
// old; a taken address cannot be used and says no more; a newer request
// kills the older link.
func TestEmailChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	manage := e.manageOf("ann@example.com")
	e.confirmed("zed@example.com")
	if res, body := e.post(manage, url.Values{"action": {"save"}, "name": {"Ann Lee"}, "list": {"newsletter"}}); res.StatusCode != 200 {
		t.Fatalf("naming ann = %d\n%s", res.StatusCode, body)
	}
	ann := e.subscriber("ann@example.com")

	res, body := e.post(manage, url.Values{"action": {"email"}, "email": {"postmaster@example.org"}})
	if res.StatusCode != 422 || !strings.Contains(body, "role address") {
		t.Errorf("role address change = %d\n%s", res.StatusCode, body)
	}
	res, body = e.post(manage, url.Values{"action": {"email"}, "email": {"jörg@example.org"}})
	if res.StatusCode != 422 || !strings.Contains(body, "beyond plain ASCII") {
		t.Errorf("change to a non-ASCII local part = %d\n%s", res.StatusCode, body)
	}
	res, body = e.post(manage, url.Values{"action": {"email"}, "email": {"first@example.org"}})
	if res.StatusCode != 200 || !strings.Contains(body, "confirmation link") {
		t.Fatalf("change request = %d\n%s", res.StatusCode, body)
	}
	ms := e.drain()
	if len(ms) != 1 || ms[0].Kind != list.MailEmailChange || ms[0].To != "first@example.org" {
		t.Fatalf("change request mailed %+v", ms)
	}
	// The address nobody has proven yet gets its confirmation link and no
	// other: with ann's manage link, a typo's owner could run her account.
	if ms[0].ManageURL != "" || ms[0].UnsubscribeURL != "" {
		t.Errorf("the change mail to the unproven address carries ann's links: manage %q, unsubscribe %q", ms[0].ManageURL, ms[0].UnsubscribeURL)
	}
	if ms[0].ToName != "" || ms[0].Subscriber == nil || ms[0].Subscriber.Name != "" || len(ms[0].Subscriber.Attributes) != 0 {
		t.Errorf("the change mail to the unproven address carries ann's name or attributes: %q %+v", ms[0].ToName, ms[0].Subscriber)
	}
	first := pathOf(ms[0].ConfirmURL)
	if v := e.subscriber("ann@example.com"); v.Email != "ann@example.com" || v.PendingEmail != "first@example.org" {
		t.Fatalf("before confirmation: %+v", v.Subscriber)
	}
	// The new address bouncing says nothing of the one in use: the mail
	// went out without ann's VERP token, and its bounce changes nothing.
	if strings.Contains(ms[0].ReturnPath, "+") {
		t.Errorf("the change mail carries a VERP token: %s", ms[0].ReturnPath)
	}
	rcpt, tok := list.RcptBounce, ""
	if at := strings.IndexByte(ms[0].ReturnPath, '@'); strings.HasPrefix(ms[0].ReturnPath, "bounces+") && at > 0 {
		rcpt, tok = list.RcptBounceToken, ms[0].ReturnPath[len("bounces+"):at]
	}
	if err := e.svc.HandleInbound(t.Context(), list.InboundReport{Rcpt: rcpt, Token: tok, Raw: []byte("dsn"),
		Bounces: []list.Bounce{{Email: "first@example.org", Status: "5.1.1", Action: "failed", Kind: list.BounceHard}}}); err != nil {
		t.Fatal(err)
	}
	if v := e.subscriber("ann@example.com"); v.Blocklisted {
		t.Fatal("a bounce of the change mail blocklisted the address in use")
	}
	// A second request replaces the first: its link dies.
	e.post(manage, url.Values{"action": {"email"}, "email": {"Second@Example.org"}})
	ms = e.drain()
	if len(ms) != 1 || ms[0].To != "Second@Example.org" {
		t.Fatalf("second request mailed %+v", ms)
	}
	second := pathOf(ms[0].ConfirmURL)
	if res, _ := e.post(first, nil); res.StatusCode != 400 {
		t.Errorf("superseded link = %d, want 400", res.StatusCode)
	}
	res, body = e.get(second)
	if res.StatusCode != 200 || !strings.Contains(body, "Second@Example.org") || e.subscriber("ann@example.com").ID != ann.ID {
		t.Fatalf("GET confirm = %d\n%s", res.StatusCode, body)
	}
	res, body = e.post(second, nil)
	if res.StatusCode != 200 || !strings.Contains(body, "/manage/") {
		t.Fatalf("POST confirm = %d\n%s", res.StatusCode, body)
	}
	if v := e.subscriber("second@example.org"); v.ID != ann.ID || v.Email != "Second@Example.org" || v.PendingEmail != "" {
		t.Fatalf("after confirmation: %+v", v.Subscriber)
	}
	// The old address is told, with no link into the subscription it no
	// longer holds, and without the new address, which a former employer's
	// mailbox need not learn.
	ms = e.drain()
	if len(ms) != 1 || ms[0].Kind != list.MailEmailChanged || ms[0].To != "ann@example.com" {
		t.Fatalf("after the change mailed %+v, want a notice to the old address", ms)
	}
	if n := ms[0]; n.ManageURL != "" || n.UnsubscribeURL != "" || n.ConfirmURL != "" || strings.Contains(n.ReturnPath, "+") {
		t.Errorf("the notice to the old address carries links or a VERP token: %+v", n)
	}
	items, _, _, _ := e.svc.SearchSubscribers(t.Context(), list.SearchRequest{Email: "ann@example.com"})
	if len(items) != 0 {
		t.Error("the old address still finds the subscriber")
	}
	if res, _ := e.get(manage); res.StatusCode != 400 {
		t.Errorf("old manage link after the change = %d, want 400", res.StatusCode)
	}
	if res, _ := e.post(second, nil); res.StatusCode != 400 {
		t.Errorf("confirm link used twice = %d, want 400", res.StatusCode)
	}

	// A taken address cannot be used.
	i := strings.Index(body, `href="/manage/`)
	manage = body[i+len(`href="`):]
	manage = manage[:strings.IndexByte(manage, '"')]
	e.post(manage, url.Values{"action": {"email"}, "email": {"zed@example.com"}})
	ms = e.drain()
	if len(ms) != 1 || ms[0].To != "zed@example.com" {
		t.Fatalf("request for a taken address mailed %+v", ms)
	}
	res, body = e.post(pathOf(ms[0].ConfirmURL), nil)
	if res.StatusCode != 409 || !strings.Contains(body, "cannot be used") || strings.Contains(body, "subscriber") {
		t.Errorf("taken address = %d\n%s", res.StatusCode, body)
	}
	if v := e.subscriber("second@example.org"); v.ID != ann.ID {
		t.Error("a refused change moved the address")
	}
}

// runCampaign sends a campaign through the real runner.
func (e *env) runCampaign(id list.CampaignID) []*list.Message {
	e.t.Helper()
	before := len(e.mail.all())
	e.advance(time.Second)
	if _, err := e.svc.CampaignAction(e.t.Context(), id, "send", list.Origin{User: "root"}); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.t.Context())
	done := make(chan struct{})
	go func() {
		e.svc.RunCampaigns(ctx, list.RunnerOptions{Poll: 10 * time.Millisecond})
		close(done)
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := e.svc.GetCampaign(e.t.Context(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		if c.Status == list.StatusFinished {
			return e.mail.all()[before:]
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatal("campaign did not finish")
	return nil
}

func (e *env) stats(id list.CampaignID) list.Stats {
	e.t.Helper()
	c, err := e.svc.GetCampaign(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Stats
}

// track fetches a tracking URL with a user agent and headers.
func (e *env) track(method, u, ua string, hdr ...string) *http.Response {
	e.t.Helper()
	req := httptest.NewRequest(method, pathOf(u), nil)
	req.Header.Set("User-Agent", ua)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, _ := e.do(req)
	return res
}

const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0"

// TestTracking: off by default; per campaign, the subscriber's opt-out and
// opt-in are honoured, DNT and GPC are not recorded, machines are counted
// apart, and the click redirect only goes to the campaign's own links.
func TestTracking(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.manageOf("ann@example.com")
	bobManage := e.manageOf("bob@example.com")
	catManage := e.manageOf("cat@example.com")
	e.post(bobManage, url.Values{"action": {"save"}, "list": {"newsletter"}, "tracking_form": {"1"}, "no_tracking": {"1"}})
	e.post(catManage, url.Values{"action": {"save"}, "list": {"newsletter"}, "tracking_form": {"1"}, "track_opens": {"1"}})
	if !e.subscriber("bob@example.com").NoTracking || !e.subscriber("cat@example.com").TrackOpens {
		t.Fatal("tracking choices not saved")
	}

	plain := e.campaign("Plain", `<p><a href="https://example.org/a">a</a></p>`, false)
	for _, m := range e.runCampaign(plain.ID) {
		if m.OpenURL != "" || m.ClickURL != "" {
			t.Errorf("a campaign without tracking tracks %s", m.To)
		}
	}
	tracked := e.campaign("Tracked", `<p><a href="https://example.org/article?id=7&amp;x=1">read</a> <a href="https://shop.example/p/{{.Name}}">shop</a></p>`, true)
	msgs := map[string]*list.Message{}
	for _, m := range e.runCampaign(tracked.ID) {
		msgs[m.To] = m
	}
	if m := msgs["bob@example.com"]; m == nil || m.OpenURL != "" || m.ClickURL != "" {
		t.Fatalf("opted-out subscriber's message tracks: %+v", m)
	}
	ann, cat := msgs["ann@example.com"], msgs["cat@example.com"]
	if ann == nil || !strings.HasPrefix(ann.OpenURL, testBaseURL+"/t/o/") || !strings.HasPrefix(ann.ClickURL, testBaseURL+"/t/c/") {
		t.Fatalf("tracked message: %+v", ann)
	}
	annID, catID := e.subscriber("ann@example.com").ID, e.subscriber("cat@example.com").ID
	annEvents, catEvents := len(e.events(annID)), len(e.events(catID))

	want := list.Stats{}
	check := func(what string) {
		t.Helper()
		got := e.stats(tracked.ID)
		if got.Opens != want.Opens || got.Clicks != want.Clicks || got.OpensProxy != want.OpensProxy || got.ClicksScanner != want.ClicksScanner {
			t.Errorf("%s: opens %d/%d proxy %d/%d clicks %d/%d scanner %d/%d", what, got.Opens, want.Opens,
				got.OpensProxy, want.OpensProxy, got.Clicks, want.Clicks, got.ClicksScanner, want.ClicksScanner)
		}
	}
	res := e.track("GET", ann.OpenURL, browserUA)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/gif" {
		t.Fatalf("pixel = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	want.Opens++
	check("open")
	e.track("GET", ann.OpenURL, browserUA, "DNT", "1")
	e.track("GET", ann.OpenURL, browserUA, "Sec-GPC", "1")
	check("DNT and GPC opens")
	for _, ua := range []string{"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
		"YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", "Microsoft Office/16.0 (ms-office; MSOffice 16)",
		"Mozilla/5.0", ""} {
		e.track("GET", ann.OpenURL, ua)
		want.OpensProxy++
	}
	e.track("HEAD", ann.OpenURL, browserUA)
	want.OpensProxy++
	check("proxy opens")

	target := "https://example.org/article?id=7&x=1"
	res = e.track("GET", ann.ClickURL+url.QueryEscape(target), browserUA)
	if res.StatusCode != 302 || res.Header.Get("Location") != target {
		t.Fatalf("click = %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	want.Clicks++
	res = e.track("GET", ann.ClickURL+url.QueryEscape("https://shop.example/p/Ann"), browserUA)
	if res.StatusCode != 302 {
		t.Errorf("templated link click = %d", res.StatusCode)
	}
	want.Clicks++
	check("clicks")
	for _, ua := range []string{"curl/8.5.0", "python-requests/2.31", "Wget/1.21", "BingPreview/1.0b",
		"Mozilla/5.0 Barracuda Sentinel", "Proofpoint URL Defense", "Mimecast Security"} {
		if res := e.track("GET", ann.ClickURL+url.QueryEscape(target), ua); res.StatusCode != 302 {
			t.Errorf("scanner %q click = %d", ua, res.StatusCode)
		}
		want.ClicksScanner++
	}
	e.track("HEAD", ann.ClickURL+url.QueryEscape(target), browserUA)
	want.ClicksScanner++
	e.track("GET", ann.ClickURL+url.QueryEscape(target), browserUA, "DNT", "1")
	check("scanner and DNT clicks")
	// Not an open redirect: a link that is not in the campaign is shown, not followed.
	for _, evil := range []string{"https://evil.example/", "https://shop.example.evil/p/x", "javascript:alert(1)"} {
		req := httptest.NewRequest("GET", pathOf(ann.ClickURL)+url.QueryEscape(evil), nil)
		res, body := e.do(req)
		if res.Header.Get("Location") != "" || res.StatusCode == 302 || strings.Contains(body, `href="`+evil) {
			t.Errorf("click to %q = %d → %q", evil, res.StatusCode, res.Header.Get("Location"))
		}
	}
	check("foreign links")
	if n := len(e.events(annID)); n != annEvents {
		t.Errorf("ann did not consent, yet %d events were recorded", n-annEvents)
	}
	// Cat consented: her open and click are recorded as hers.
	e.track("GET", cat.OpenURL, browserUA)
	e.track("GET", cat.ClickURL+url.QueryEscape(target), browserUA)
	want.Opens++
	want.Clicks++
	check("consented")
	evs := e.events(catID)[catEvents:]
	if len(evs) != 2 || evs[0].Kind != list.EventOpened || evs[1].Kind != list.EventClicked || evs[1].Campaign != tracked.ID {
		t.Errorf("consented events = %+v", evs)
	}
	// A forged or cross-purpose token is refused.
	for _, p := range []string{"/t/o/aaaaaaaaaaaaaaaaaaaaaaaaaaaa.gif", strings.Replace(pathOf(ann.OpenURL), "/t/o/", "/t/c/", 1)} {
		if res, _ := e.get(p); res.StatusCode != 400 {
			t.Errorf("GET %s = %d, want 400", p, res.StatusCode)
		}
	}
	check("forged")
}

// publicGETRoutes reads the route templates registered for GET outside
// /api/ and /admin/, so that a new public GET route cannot escape the walk.
func publicGETRoutes(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`r\.(?:Handle|PathPrefix)\("([^"]+)"[^\n]*\n?[^\n]*Methods\("GET"`)
	var out []string
	for _, f := range []string{"routes.go", "privacy.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasPrefix(m[1], "/api/") && !strings.HasPrefix(m[1], "/admin") {
				out = append(out, m[1])
			}
		}
	}
	return out
}

// snapshot is everything a GET could write: every subscriber's events,
// their profiles, the campaigns' counters, the audit log.
func (e *env) snapshot() string {
	e.t.Helper()
	ctx := e.t.Context()
	var b strings.Builder
	vs, _, _, err := e.svc.SearchSubscribers(ctx, list.SearchRequest{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, v := range vs {
		j, _ := json.Marshal(v)
		b.Write(j)
		evs, _ := e.svc.SubscriberEvents(ctx, v.ID)
		j, _ = json.Marshal(evs)
		b.Write(j)
	}
	cs, _, _ := e.svc.Campaigns(ctx, 0, 1000)
	for _, c := range cs {
		j, _ := json.Marshal(c.Stats)
		b.Write(j)
	}
	au, _, _ := e.svc.Audit(ctx, 0, 1000)
	j, _ := json.Marshal(au)
	b.Write(j)
	return b.String()
}

// TestPublicGETsWriteNothing walks every public GET route with live tokens
// of every kind: none writes, save the open pixel and click redirect, which
// only move aggregate counters for a subscriber who did not consent.
func TestPublicGETsWriteNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) {
		o.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("bulletin_up 1\n")) })
	})
	manage := e.manageOf("ann@example.com")
	unconfirmed := e.subscribe("new@example.com")
	welcome := e.confirmed("bob@example.com")
	export := e.dataLink(manage, "export", "ann@example.com")
	erase := e.dataLink(manage, "erase", "ann@example.com")
	e.post(manage, url.Values{"action": {"email"}, "email": {"ann2@example.com"}})
	change := pathOf(e.drain()[0].ConfirmURL)
	c := e.campaign("Tracked", `<p><a href="https://example.org/a">a</a></p>`, true)
	var m *list.Message
	for _, x := range e.runCampaign(c.ID) {
		if x.To == "ann@example.com" {
			m = x
		}
	}
	if m == nil || m.OpenURL == "" {
		t.Fatal("no tracked message")
	}
	paths := map[string][]string{
		"/healthz":             {"/healthz"},
		"/readyz":              {"/readyz"},
		"/static/":             {"/static/style.css"},
		"/subscribe/{list}":    {"/subscribe/newsletter"},
		"/confirm/{token}":     {unconfirmed},
		"/unsubscribe/{token}": {pathOf(welcome.UnsubscribeURL)},
		"/manage/{token}":      {manage, export, erase, change},
		"/t/o/{token}.gif":     {pathOf(m.OpenURL)},
		"/t/c/{token}":         {pathOf(m.ClickURL) + url.QueryEscape("https://example.org/a")},
	}
	paths["/metrics"] = []string{"/metrics"}
	for _, route := range publicGETRoutes(t) {
		ps, ok := paths[route]
		if !ok {
			t.Errorf("public GET route %s is not walked", route)
			continue
		}
		for _, p := range ps {
			before, stats := e.snapshot(), e.stats(c.ID)
			for _, method := range []string{"GET", "HEAD"} {
				req := httptest.NewRequest(method, p, nil)
				req.Header.Set("User-Agent", browserUA)
				if res, body := e.do(req); res.StatusCode >= 400 {
					t.Errorf("%s %s = %d\n%s", method, route, res.StatusCode, body)
				}
			}
			after := e.snapshot()
			if strings.HasPrefix(route, "/t/") {
				s := e.stats(c.ID)
				if s.Opens+s.OpensProxy+s.Clicks+s.ClicksScanner != stats.Opens+stats.OpensProxy+stats.Clicks+stats.ClicksScanner+2 {
					t.Errorf("%s: counters %+v → %+v, want two more", route, stats, s)
				}
				if strings.Count(after, `"kind":"opened"`)+strings.Count(after, `"kind":"clicked"`) != 0 {
					t.Errorf("%s recorded a person who did not consent", route)
				}
				continue
			}
			if after != before {
				t.Errorf("GET %s wrote to the store", route)
			}
		}
	}
}

// TestAuditLog: admin actions through the API land in the audit log, which
// only admins may read (API and page).
func TestAuditLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("root", list.RoleAdmin)
	e.addUser("ed", list.RoleEditor)
	e.call("POST", "/api/v1/lists", "ed", `{"slug":"biz","name":"Biz","block_free_mail":true}`, 201, nil)
	e.call("PUT", "/api/v1/lists/biz", "ed", `{"allow_roles":true}`, 200, nil)
	var l listJSON
	e.call("GET", "/api/v1/lists/biz", "ed", nil, 200, &l)
	if !l.BlockFreeMail || !l.AllowRoles {
		t.Errorf("list rules over the API = %+v", l)
	}
	var er map[string]string
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"ann@gmail.com","lists":["biz"]}`, 422, &er)
	if !strings.Contains(er["error"], "free-mail") {
		t.Errorf("API refusal = %q", er["error"])
	}
	var v subscriberJSON
	e.call("POST", "/api/v1/subscribers", "ed", `{"email":"ann@acme.example","lists":["biz"]}`, 201, &v)
	id := "/api/v1/subscribers/" + itoaID(v.ID)
	e.call("GET", id+"/export", "ed", nil, 200, nil)
	if res, _ := e.do(apiReq("GET", "/api/v1/export?list=biz", "ed", nil)); res.StatusCode != 200 {
		t.Fatalf("CSV export = %d", res.StatusCode)
	}
	e.call("DELETE", id, "ed", nil, 204, nil)

	e.call("GET", "/api/v1/audit", "ed", nil, 403, nil)
	var p struct {
		Items []auditJSON `json:"items"`
	}
	e.call("GET", "/api/v1/audit", "root", nil, 200, &p)
	var got []string
	for _, a := range p.Items {
		if a.User == "ed" {
			got = append(got, a.Action+" "+a.Target)
		}
	}
	want := []string{"list.create biz", "list.update biz", "subscriber.add " + itoaID(v.ID),
		"subscriber.export " + itoaID(v.ID), "export.csv biz.csv", "subscriber.erase " + itoaID(v.ID)}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit = %q\nwant %q", got, want)
	}
	// Every page says how many entries there are, and each has its ip.
	var first page[json.RawMessage]
	e.call("GET", "/api/v1/audit?limit=1", "root", nil, 200, &first)
	if first.Total != len(p.Items) || len(first.Items) != 1 || !strings.Contains(string(first.Items[0]), `"ip":`) {
		t.Errorf("audit page of one: total %d, items %s; want %d and an ip field", first.Total, first.Items, len(p.Items))
	}
	b := e.browser()
	b.login(t, "root", "root-password")
	res, body := b.do(httptest.NewRequest("GET", "/admin/audit", nil))
	if res.StatusCode != 200 || !strings.Contains(body, "subscriber.erase") || !strings.Contains(body, "list.create") {
		t.Errorf("audit page = %d\n%s", res.StatusCode, body)
	}
	eb := e.browser()
	eb.login(t, "ed", "ed-password")
	if res, _ := eb.do(httptest.NewRequest("GET", "/admin/audit", nil)); res.StatusCode != 403 {
		t.Errorf("audit page for an editor = %d, want 403", res.StatusCode)
	}
}
