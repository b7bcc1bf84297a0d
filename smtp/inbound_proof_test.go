package smtp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bulletin/bulletin/list"
)

// rcptGroup is one per-recipient group of a DSN: Original-Recipient (left
// out when "") and Final-Recipient.
type rcptGroup struct{ orig, final string }

// hardReport is an RFC 3464 report of hard failures of the given
// recipients, quoting the headers of the original: its Message-ID,
// Return-Path and List-Unsubscribe ("" leaves a header out).
func hardReport(to, msgID, returnPath, listUnsub string, groups ...rcptGroup) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: MAILER-DAEMON@mx.example.net\r\nTo: %s\r\nSubject: Undelivered Mail Returned to Sender\r\n", to)
	b.WriteString("Message-ID: <dsn-proof@mx.example.net>\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n")
	b.WriteString("--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\r\n")
	b.WriteString("--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n")
	for _, g := range groups {
		b.WriteString("\r\n")
		if g.orig != "" {
			fmt.Fprintf(&b, "Original-Recipient: rfc822; %s\r\n", g.orig)
		}
		fmt.Fprintf(&b, "Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.1.1\r\n", g.final)
		b.WriteString("Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n")
	}
	b.WriteString("\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: News <news@example.org>\r\nSubject: Our March news\r\n")
	if returnPath != "" {
		fmt.Fprintf(&b, "Return-Path: <%s>\r\n", returnPath)
	}
	if msgID != "" {
		fmt.Fprintf(&b, "Message-ID: <%s>\r\n", msgID)
	}
	if listUnsub != "" {
		fmt.Fprintf(&b, "List-Unsubscribe: %s\r\n", listUnsub)
	}
	b.WriteString("\r\n--B--\r\n")
	return b.String()
}

// brief shows bounce records without their raw reports.
func brief(bs []list.Bounce) string {
	var out []string
	for _, b := range bs {
		out = append(out, fmt.Sprintf("{%s sub=%d campaign=%d counted=%v raw=%dB}", b.Email, b.Subscriber, b.Campaign, b.Counted, len(b.Raw)))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// wantUntouched fails unless sb is still subscribed, not blocklisted and
// without bounce events.
func (e *inboundEnv) wantUntouched(t *testing.T, sb list.Subscriber) {
	t.Helper()
	v := e.record(t, sb.ID)
	if v.Blocklisted || v.Subscriptions[0].State != list.StateConfirmed {
		t.Errorf("%s: blocklisted=%v state=%s, want untouched", sb.Email, v.Blocklisted, v.Subscriptions[0].State)
	}
	if evs := e.eventKinds(t, sb.ID); contains(evs, "bounce/bounce") {
		t.Errorf("%s: events %v, want no bounce event", sb.Email, evs)
	}
}

// wantUnproven fails unless the only record for email is uncounted and tied
// to no subscriber and no campaign.
func (e *inboundEnv) wantUnproven(t *testing.T, email string) {
	t.Helper()
	bs := e.bounces(t, email)
	if len(bs) != 1 || bs[0].Counted || bs[0].Subscriber != 0 || bs[0].Campaign != 0 {
		t.Errorf("records for %s = %s, want one, uncounted, tied to no one", email, brief(bs))
	}
}

// wantActed fails unless sb is blocklisted and the only record for email is
// counted for sb and campaign c.
func (e *inboundEnv) wantActed(t *testing.T, sb list.Subscriber, email string, c list.CampaignID) {
	t.Helper()
	if !e.record(t, sb.ID).Blocklisted {
		t.Errorf("%s: not blocklisted after a proven hard bounce", sb.Email)
	}
	bs := e.bounces(t, email)
	if len(bs) != 1 || !bs[0].Counted || bs[0].Subscriber != sb.ID || bs[0].Campaign != c {
		t.Errorf("records for %s = %s, want one counted for subscriber %d campaign %d", email, brief(bs), sb.ID, c)
	}
}

// Quoted evidence (a Message-ID, a Return-Path, a List-Unsubscribe) travels
// with every copy of a message: a report that quotes Ann's but names
// someone else as the failed recipient must not touch Ann.
func TestInboundQuotedProofNamesAnother(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, nil)
	bounces := "bounces@" + testDomain
	cases := []struct {
		name     string
		evidence func(ann list.Subscriber, c list.CampaignID, msgID string) (id, rp, lu string)
	}{
		{"message-id", func(_ list.Subscriber, _ list.CampaignID, msgID string) (string, string, string) {
			return msgID, "", ""
		}},
		{"quoted return-path", func(ann list.Subscriber, c list.CampaignID, _ string) (string, string, string) {
			return "", e.verp(ann, c), ""
		}},
		{"list-unsubscribe", func(ann list.Subscriber, c list.CampaignID, _ string) (string, string, string) {
			return "", "", "<mailto:unsubscribe+" + e.unsubToken(ann, e.lists[0].ID, c) + "@" + testDomain + ">"
		}},
	}
	for i, tc := range cases {
		ann := e.subscribe(t, fmt.Sprintf("ann%d@example.com", i), "news")
		msgID := fmt.Sprintf("m-ann%d@example.org", i)
		c := e.sent(t, ann, msgID)
		id, rp, lu := tc.evidence(ann, c, msgID)
		other := fmt.Sprintf("user%d@example.net", i)
		// Final-Recipient alone names someone else; then Original-Recipient
		// does, though Final-Recipient is Ann's (the record would name the
		// other address).
		mustDeliver(t, e.addr, bounces, hardReport(bounces, id, rp, lu, rcptGroup{final: other}))
		origOther := fmt.Sprintf("orig%d@example.net", i)
		mustDeliver(t, e.addr, bounces, hardReport(bounces, id, rp, lu, rcptGroup{orig: origOther, final: ann.Email}))
		e.wantUntouched(t, ann)
		e.wantUnproven(t, other)
		e.wantUnproven(t, origOther)
		if camp, err := e.db.Campaign(t.Context(), c); err != nil || camp.Stats.Bounced != 0 {
			t.Errorf("%s: campaign stats %+v, %v; want Bounced 0", tc.name, camp.Stats, err)
		}
	}
}

func TestInboundQuotedProofMatching(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, nil)
	bounces := "bounces@" + testDomain

	// Same identity: case and the IDNA form of the domain do not matter.
	ann := e.subscribe(t, "Ann@Bücher.example", "news")
	c := e.sent(t, ann, "m-ann@example.org")
	mustDeliver(t, e.addr, bounces, hardReport(bounces, "m-ann@example.org", "", "", rcptGroup{final: "ANN@xn--bcher-kva.example"}))
	e.wantActed(t, ann, "ANN@xn--bcher-kva.example", c)

	// Original-Recipient is the address Bulletin sent to; Final-Recipient
	// is where it was forwarded.
	bea := e.subscribe(t, "bea@example.com", "news")
	c = e.sent(t, bea, "m-bea@example.org")
	mustDeliver(t, e.addr, bounces, hardReport(bounces, "m-bea@example.org", "", "", rcptGroup{orig: "bea@example.com", final: "bea.forward@elsewhere.example"}))
	e.wantActed(t, bea, "bea@example.com", c)

	// Several failed recipients are judged one by one.
	cyd := e.subscribe(t, "cyd@example.com", "news")
	c = e.sent(t, cyd, "m-cyd@example.org")
	mustDeliver(t, e.addr, bounces, hardReport(bounces, "m-cyd@example.org", "", "",
		rcptGroup{final: "stranger@example.net"}, rcptGroup{final: "cyd@example.com"}))
	e.wantActed(t, cyd, "cyd@example.com", c)
	e.wantUnproven(t, "stranger@example.net")
	if camp, err := e.db.Campaign(t.Context(), c); err != nil || camp.Stats.Bounced != 1 {
		t.Errorf("campaign stats %+v, %v; want Bounced 1", camp.Stats, err)
	}
}

// A VERP address is proof on its own: the message was forwarded, and the
// failed recipient is the forwarding target. The record is Dan's, where an
// editor looks for it, and names the forwarding target.
func TestInboundVERPForwarded(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, nil)
	dan := e.subscribe(t, "dan@example.com", "news")
	c := e.sent(t, dan, "m-dan@example.org")
	to := e.verp(dan, c)
	mustDeliver(t, e.addr, to, hardReport(to, "", "", "", rcptGroup{final: "dan.forward@elsewhere.example"}))
	e.wantActed(t, dan, "dan@example.com", c)
	if bs := e.bounces(t, "dan@example.com"); len(bs) != 1 || !strings.HasPrefix(bs[0].Diagnostic, "reported for dan.forward@elsewhere.example") {
		t.Errorf("record %s: the diagnostic does not name the forwarding target", brief(bs))
	}
	if bs := e.bounces(t, "dan.forward@elsewhere.example"); len(bs) != 0 {
		t.Errorf("records for the forwarding target = %s, want none", brief(bs))
	}
}

// A bounces+ address whose token was mangled on the way is taken as plain
// bounces@: recorded, and acting only through matching quoted evidence.
func TestInboundMangledVERP(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, nil)
	eve := e.subscribe(t, "eve@example.com", "news")
	c := e.sent(t, eve, "m-eve@example.org")
	garbage := "bounces+SRS0=garbage@" + testBounceDomain
	mustDeliver(t, e.addr, garbage, hardReport(garbage, "", "", "", rcptGroup{final: "eve@example.com"}))
	e.wantUntouched(t, eve)
	e.wantUnproven(t, "eve@example.com")
	bs := e.bounces(t, "eve@example.com")
	if len(bs) != 1 || len(bs[0].Raw) == 0 {
		t.Errorf("records %s, want the raw report kept", brief(bs))
	}

	fay := e.subscribe(t, "fay@example.com", "news")
	c = e.sent(t, fay, "m-fay@example.org")
	mustDeliver(t, e.addr, garbage, hardReport(garbage, "m-fay@example.org", "", "", rcptGroup{final: "fay@example.com"}))
	e.wantActed(t, fay, "fay@example.com", c)

	// Nothing to record for a mangled unsubscribe address, and nothing
	// accepted for other domains.
	tok := e.unsubToken(eve, e.lists[0].ID, c)
	for _, to := range []string{
		"unsubscribe+garbage@" + testDomain,
		"unsubscribe+" + tok + "x1@" + testDomain,
		"bounces+garbage@example.com",
		"bounces+garbage@" + testDomain + ".evil.example",
		"bounces@elsewhere.example",
	} {
		if err := deliver(t, e.addr, to, hardReport(to, "m-eve@example.org", "", "", rcptGroup{final: "eve@example.com"})); smtpCode(err) != 550 {
			t.Errorf("RCPT TO:<%s> = %v, want 550", to, err)
		}
	}
	e.wantUntouched(t, eve)
	if v := e.record(t, eve.ID); v.Subscriptions[0].State != list.StateConfirmed {
		t.Errorf("mangled unsubscribe address unsubscribed: %+v", v)
	}
}
