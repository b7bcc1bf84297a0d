package bounce_test

import (
	"fmt"
	"strings"

	"github.com/bulletin/bulletin/smtp/bounce"
)

func Example_parse() {
	const dsn = `From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: bounces+c42.s17.k3j2@news.example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Your message could not be delivered.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; nobody@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address
    rejected: User unknown in local recipient table

Final-Recipient: rfc822; busy@example.org
Action: delayed
Status: 4.2.2
Diagnostic-Code: smtp; 452 4.2.2 Mailbox full

--b
Content-Type: text/rfc822-headers

Message-ID: <20250303100000.c42.s17@news.example.com>
List-Id: Weekly news <weekly.news.example.com>

--b--
`
	rep, err := bounce.Parse(strings.NewReader(dsn))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Type, rep.MessageIDs, rep.OriginalHeaders["List-Id"])
	for _, r := range rep.Recipients {
		fmt.Printf("%s %s %s %d %s counts=%v\n", r.Email, r.Action, r.Status, r.Code, r.Kind, r.Counts)
	}
	fmt.Println(bounce.Classify("5.7.1", 554, "Client host [192.0.2.1] blocked using zen.spamhaus.org"))
	// Output:
	// dsn [20250303100000.c42.s17@news.example.com] Weekly news <weekly.news.example.com>
	// nobody@example.org failed 5.1.1 550 hard counts=true
	// busy@example.org delayed 4.2.2 452 soft counts=false
	// policy
}
