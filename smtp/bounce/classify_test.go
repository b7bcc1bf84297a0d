package bounce

import "testing"

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status string
		code   int
		diag   string
		want   Kind
	}{
		// Bad addresses.
		{"5.1.1", 550, "<a@example.com>: Recipient address rejected: User unknown in local recipient table", KindHard},
		{"5.1.1", 0, "", KindHard},
		{"5.1.2", 0, "", KindHard},
		{"5.1.3", 553, "bad destination mailbox address syntax", KindHard},
		{"5.1.6", 0, "", KindHard},
		{"5.1.10", 550, "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", KindHard},
		{"5.1.10", 0, "Domain example.org does not accept mail (nullMX)", KindHard},
		{"", 550, "550 5.1.1 The email account that you tried to reach does not exist.", KindHard},
		{"5.0.0", 550, "550 5.1.1 <a@example.com>... User unknown", KindHard},
		{"", 0, "Sorry, no mailbox here by that name. (#5.1.1)", KindHard},
		{"", 554, "554 delivery error: dd This user doesn't have a yahoo.com account (a@yahoo.com) [0]", KindHard},
		{"", 0, "Unrouteable address", KindHard},
		{"5.4.4", 0, "Host or domain name not found. Name service error for name=example.invalid type=A: Host not found", KindHard},
		{"5.4.4", 0, "", KindHard},
		{"5.2.1", 550, "The email account that you tried to reach is disabled.", KindHard},
		{"5.0.0", 550, "Mailbox disabled, not accepting messages", KindHard},
		{"", 550, "Requested action not taken: mailbox unavailable", KindHard},
		{"5.5.0", 550, "Requested action not taken: mailbox unavailable (S2017062302)", KindHard},
		{"", 0, "User jdoe (jdoe@example.com) not listed in Domino Directory", KindHard},
		{"5.4.1", 550, "5.4.1 Recipient address rejected: Access denied. AS(201806281)", KindHard},
		{"5.7.1", 550, "5.7.1 <a@example.com>: Recipient address rejected: User unknown", KindHard},
		{"5.7.13", 0, "", KindHard},
		{"", 551, "", KindHard},
		{"", 0, "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##", KindHard},
		{"", 0, "This mailbox is no longer in use", KindHard},
		// A 4.x.x bad address is still hard; a 4.x.x "mailbox unavailable" is not.
		{"4.1.1", 450, "<a@example.com>: Recipient address rejected: User unknown in local recipient table", KindHard},
		{"4.2.0", 450, "Requested mail action not taken: mailbox unavailable", KindSoft},
		// Full, too large, temporary.
		{"5.2.2", 552, "Mailbox full", KindSoft},
		{"5.2.2", 552, "5.2.2 The email account that you tried to reach is over quota.", KindSoft},
		{"", 552, "552 1 Requested mail action aborted, mailbox is full [RCPT_TO]", KindSoft},
		{"5.0.0", 550, "user quota exceeded", KindSoft},
		{"5.3.4", 552, "Message size exceeds fixed maximum message size", KindSoft},
		{"5.2.3", 0, "", KindSoft},
		{"5.3.4", 0, "", KindSoft},
		{"4.4.1", 0, "connect to mx.example.com[192.0.2.1]:25: Connection timed out", KindSoft},
		{"4.4.1", 0, "connect to mx.example.com[192.0.2.1]:25: Connection refused", KindSoft},
		{"4.7.1", 450, "<a@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html", KindSoft},
		{"4.4.3", 0, "Host or domain name not found. Name service error for name=example.com type=MX: Host not found, try again", KindSoft},
		{"4.0.0", 421, "", KindSoft},
		{"5.7.1", 550, "Message rejected as spam by Content Filtering.", KindSoft},
		{"5.7.1", 550, "Our system has detected that this message is likely unsolicited mail.", KindSoft},
		{"5.4.6", 554, "mail for example.com loops back to myself", KindSoft},
		// Unknown 5xx: soft, so as not to blocklist a good address on a guess.
		{"5.0.0", 0, "", KindSoft},
		{"", 554, "554 Transaction failed", KindSoft},
		{"", 550, "", KindSoft},
		{"", 0, "", KindSoft},
		// Policy: our side.
		{"5.7.1", 554, "Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org", KindPolicy},
		{"5.7.26", 550, "Unauthenticated email from example.com is not accepted due to domain's DMARC policy.", KindPolicy},
		{"5.7.1", 550, "SPF check failed", KindPolicy},
		{"5.7.1", 554, "<a@example.com>: Relay access denied", KindPolicy},
		{"5.7.1", 550, "Message rejected due to policy", KindPolicy},
		{"5.7.1", 0, "", KindPolicy},
		{"", 550, "Your IP 198.51.100.7 has a poor reputation", KindPolicy},
		{"", 554, "554 5.7.1 IP listed in bl.spamcop.net", KindPolicy},
		{"4.7.0", 421, "Try again later, closing connection. Too many messages (rate limited)", KindPolicy},
		{"", 550, "550 Administrative prohibition", KindPolicy},
		{"5.7.1", 550, "not authorized to send on behalf of example.com", KindPolicy},
		{"5.1.8", 553, "<bounces@news.example.com>: Sender address rejected: Domain not found", KindPolicy},
		{"5.1.7", 0, "", KindPolicy},
		{"", 550, "550 5.7.1 Unfortunately, messages from [198.51.100.7] weren't sent. Part of their network is on our block list (S3150).", KindPolicy},
		{"", 550, "Sender verify failed: user unknown", KindPolicy},
	}
	for _, tt := range tests {
		if got := Classify(tt.status, tt.code, tt.diag); got != tt.want {
			t.Errorf("Classify(%q,%d,%q) = %v, want %v", tt.status, tt.code, tt.diag, got, tt.want)
		}
	}
}

func TestReplyCodeAndStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		code   int
		status string
	}{
		{"550 5.1.1 User unknown", 550, "5.1.1"},
		{"host mx.example.com[192.0.2.1] said: 552 5.2.2 Mailbox full", 552, "5.2.2"},
		{"Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'", 550, "5.1.10"},
		{"554: delivery error: dd This user doesn't have an account", 554, ""},
		{"Sorry, no mailbox here by that name. (#5.1.1)", 0, "5.1.1"},
		{"connect to 10.4.5.6:25: Connection refused", 0, ""},
		{"SMTP error from remote mail server after RCPT TO:<a@example.org>: 550-5.1.1 unknown", 550, "5.1.1"},
		{"status 5.2.2.", 0, "5.2.2"},
	}
	for _, tt := range tests {
		if got := replyCode(tt.in); got != tt.code {
			t.Errorf("replyCode(%q) = %v, want %v", tt.in, got, tt.code)
		}
		if got := enhancedStatus(tt.in); got != tt.status {
			t.Errorf("enhancedStatus(%q) = %q, want %q", tt.in, got, tt.status)
		}
	}
}
