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
		// Content refused as spam is the sender's problem, whatever the code.
		{"5.7.1", 550, "Message rejected as spam by Content Filtering.", KindPolicy},
		{"5.7.1", 550, "Our system has detected that this message is likely unsolicited mail.", KindPolicy},
		{"", 550, "Message rejected: spam", KindPolicy},
		{"5.6.0", 554, "Message rejected: virus found", KindPolicy},
	}
	for _, tt := range tests {
		if got := Classify(tt.status, tt.code, tt.diag); got != tt.want {
			t.Errorf("Classify(%q,%d,%q) = %v, want %v", tt.status, tt.code, tt.diag, got, tt.want)
		}
	}
}

// TestClassifyRealWorld reads the diagnostic texts that real mail systems
// send. A spam, content or reputation refusal, and any 5.7.x not saying the
// mailbox does not exist, must be policy (never suppresses): one campaign
// blocked as spam would otherwise count against every subscriber at that
// provider. The address rules still beat the 5.7.x code.
func TestClassifyRealWorld(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from   string
		status string
		code   int
		diag   string
		want   Kind
	}{
		{"gmail", "5.7.1", 550, "550-5.7.1 [192.0.2.1 12] Gmail has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked. For more information, go to https://support.google.com/mail/?p=UnsolicitedMessageError", KindPolicy},
		{"gmail", "4.7.28", 421, "421-4.7.28 [192.0.2.1 15] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.", KindPolicy},
		{"gmail", "5.7.26", 550, "550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.", KindPolicy},
		{"gmail", "5.7.0", 552, "552-5.7.0 This message was blocked because its content presents a potential security issue. Please visit https://support.google.com/mail/?p=BlockedMessage to review our message content and attachment content guidelines.", KindPolicy},
		{"gmail", "5.7.1", 550, "550-5.7.1 [192.0.2.1] Messages missing a valid Message-ID header are not accepted.", KindPolicy},
		{"gmail", "5.7.1", 550, "550 5.7.1 The user or domain that you are sending to (or from) has a policy that prohibited the mail that you sent.", KindPolicy},
		{"gmail", "4.7.0", 421, "421-4.7.0 This message is suspicious due to the very low reputation of the sending IP address.", KindPolicy},
		{"gmail", "5.1.1", 550, "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces.", KindHard},
		{"gmail", "5.2.1", 550, "550-5.2.1 The email account that you tried to reach is disabled.", KindHard},
		{"gmail", "4.2.2", 452, "452-4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp", KindSoft},
		{"microsoft", "5.7.1", 550, "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.", KindPolicy},
		{"microsoft", "", 550, "550 OU-001 (SNT004-MC1F30) Unfortunately, messages from 192.0.2.1 weren't sent. Please contact your Internet service provider since part of their network is on our block list.", KindPolicy},
		{"microsoft", "5.7.1", 550, "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1 (AS3130).", KindPolicy},
		{"microsoft", "5.7.520", 550, "550 5.7.520 Access denied, Your organization does not allow external forwarding. Please contact your administrator for further assistance. AS(7555)", KindPolicy},
		{"microsoft", "5.7.708", 550, "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.", KindPolicy},
		{"microsoft", "5.7.606", 550, "550 5.7.606 Access denied, banned sending IP [192.0.2.1].", KindPolicy},
		{"microsoft", "5.7.509", 550, "550 5.7.509 Access denied, sending domain example.org does not pass DMARC verification and has a DMARC policy of reject.", KindPolicy},
		{"microsoft", "5.7.1", 550, "550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized", KindPolicy},
		{"microsoft", "5.7.57", 530, "530 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM", KindPolicy},
		{"microsoft", "5.1.10", 550, "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", KindHard},
		{"microsoft", "5.4.1", 550, "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", KindHard},
		{"microsoft", "5.2.2", 554, "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded", KindSoft},
		{"yahoo", "5.7.9", 554, "554 5.7.9 Message not accepted for policy reasons.  See https://senders.yahooinc.com/error-codes", KindPolicy},
		{"yahoo", "4.7.0", 421, "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", KindPolicy},
		{"yahoo", "5.7.2", 553, "553 5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes", KindPolicy},
		{"yahoo", "5.7.1", 553, "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes", KindPolicy},
		{"yahoo", "", 554, "554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1234.mail.bf1.yahoo.com", KindHard},
		{"yahoo", "", 554, "554 30 Sorry, your message to someone@yahoo.com cannot be delivered. This mailbox is disabled (554.30).", KindHard},
		{"yahoo", "", 552, "552 1 Requested mail action aborted, mailbox is full", KindSoft},
		{"postfix", "5.7.1", 554, "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1", KindPolicy},
		{"postfix", "5.7.1", 554, "554 5.7.1 <mail.news.example.org>: Helo command rejected: Host not found", KindPolicy},
		{"postfix", "5.7.1", 554, "554 5.7.1 <a@example.com>: Recipient address rejected: Access denied", KindPolicy},
		{"postfix", "4.7.1", 450, "450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]", KindPolicy},
		{"postfix", "5.7.1", 550, "550 5.7.1 Message rejected due to content (spam)", KindPolicy},
		{"postfix", "5.1.1", 550, "550 5.1.1 <a@example.com>: Recipient address rejected: User unknown in virtual mailbox table", KindHard},
		{"postfix", "5.7.1", 550, "550 5.7.1 <a@example.com>: Recipient address rejected: User unknown in local recipient table", KindHard},
		{"postfix", "5.3.4", 552, "552 5.3.4 Message size exceeds fixed limit", KindSoft},
		{"exim", "", 550, "550 rejected because 192.0.2.1 is in a black list at zen.spamhaus.org", KindPolicy},
		{"exim", "", 550, "550 This message was classified as SPAM and may not be delivered", KindPolicy},
		{"exim", "", 550, "550-Verification failed for <bounces@news.example.org> 550-No Such User Here 550 Sender verify failed", KindPolicy},
		{"exim", "", 550, "550 Virus found: Eicar-Test-Signature", KindPolicy},
		{"exim", "", 550, "550 No Such User Here", KindHard},
		{"exim", "", 0, "mailbox is full (MTA-imposed quota exceeded while writing to tmp/1741000000.H123P456.mail.example)", KindSoft},
		{"mimecast", "", 550, "550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [aBcDeFgHiJ.us123]", KindHard},
		{"mimecast", "", 554, "554 Email rejected due to security policies - https://community.mimecast.com/docs/DOC-1369#554 [aBcDeFgHiJ.uk123]", KindPolicy},
		{"mimecast", "", 550, "550 Rejected by header based Anti-Spoofing policy: bounces@news.example.org - https://community.mimecast.com/docs/DOC-1369#550", KindPolicy},
		{"mimecast", "", 553, "553 Envelope blocked - User Entry - https://community.mimecast.com/docs/DOC-1369#553", KindPolicy},
		{"proofpoint", "5.7.1", 554, "554 5.7.1 Message blocked due to spam content in the message.", KindPolicy},
		{"proofpoint", "", 554, "554 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1", KindPolicy},
		{"proofpoint", "5.1.1", 550, "550 5.1.1 User Unknown", KindHard},
		{"spamhaus", "5.7.1", 550, "550 5.7.1 Rejected: 192.0.2.1 listed at zen.spamhaus.org", KindPolicy},
		{"spamhaus", "", 554, "554 Your access to this mail system has been rejected due to the sending MTA's poor reputation.", KindPolicy},
		// A clear "no such mailbox" stays hard, and a full mailbox soft,
		// under an odd 5.7.x code.
		{"odd", "5.7.1", 550, "550 5.7.1 <a@example.com>... User unknown", KindHard},
		{"odd", "5.7.1", 550, "550 5.7.1 Mailbox does not exist", KindHard},
		{"odd", "5.7.1", 554, "554 5.7.1 <a@example.com>: Recipient address rejected: The email account that you tried to reach does not exist", KindHard},
		{"odd", "5.7.1", 552, "552 5.7.1 Mailbox full", KindSoft},
		{"odd", "5.7.1", 550, "550 5.7.1 Recipient over quota", KindSoft},
		// Under 5.7.x, a closed account is more likely ours (a relay
		// account) than the recipient's.
		{"odd", "5.7.1", 554, "554 5.7.1 Your account has been disabled for sending", KindPolicy},
	}
	for _, tt := range tests {
		if got := Classify(tt.status, tt.code, tt.diag); got != tt.want {
			t.Errorf("%s: Classify(%q,%d,%q) = %v, want %v", tt.from, tt.status, tt.code, tt.diag, got, tt.want)
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
