package bounce

import (
	"regexp"
	"strconv"
	"strings"
)

// rule maps diagnostic text to a kind. A rule with notTemp is skipped for
// 4xx replies.
type rule struct {
	kind    Kind
	notTemp bool
	re      *regexp.Regexp
}

// addressRules read the diagnostic text, lower-cased with whitespace
// collapsed, before the enhanced status is looked at. The order is the
// precedence: our sender at fault, then a mailbox that does not exist (which
// beats any code, 5.7.x included), then mailbox full and size.
var addressRules = []rule{
	// Our sender is at fault, whatever else is said.
	{KindPolicy, false, regexp.MustCompile(`sender address rejected|sender domain (?:must exist|not found|does not exist|unknown)|sender verif\w* failed|(?:unknown|invalid) sender|sender (?:is )?not (?:allowed|authori[sz]ed)|sending (?:quota|limit)|daily (?:user )?sending`)},
	// DNS trouble that will pass.
	{KindSoft, false, regexp.MustCompile(`host not found, try again|temporary (?:dns|lookup) failure`)},
	// The mailbox does not exist: clear enough to beat any code.
	{KindHard, false, reNoMailbox},
	// Mailbox full, message too large: about this message or this moment.
	{KindSoft, false, regexp.MustCompile(`mail ?box (?:is )?full|inbox (?:is )?full|full mailbox|mailfolder is full|mailbox (?:has )?exceeded|over ?quota|quota (?:exceeded|full)|(?:mailbox|disk|storage|user|recipient|account)\S* [^.;]{0,20}quota|exceeded storage|storage (?:limit|allocation|space)|insufficient (?:system )?storage|not enough (?:disk )?space|disk full|out of (?:disk )?space|(?:user|recipient|account) is over|too (?:large|big)|message size|size limit|exceeds? (?:the )?(?:maximum )?(?:allowed )?(?:message )?size|message length exceeds`)},
}

// reNoMailbox is text saying that the recipient's mailbox does not exist.
var reNoMailbox = regexp.MustCompile(`(?:user|recipient|mailbox|address|account|addressee)s? (?:is )?unknown|unknown (?:user|recipient|mailbox|address|addressee|local[ -]?part|e-?mail)|no such (?:user|recipient|mailbox|address|person|account|local user)|(?:user|recipient|mailbox|e-?mail address|account|addressee) (?:was )?not found|(?:user|recipient|mailbox|address|account|addressee)\b[^.;]{0,40}\b(?:does not|doesn't|did not|didn't) exist|non-?existent (?:user|recipient|mailbox|address|account)|invalid (?:recipient|mailbox|user|e-?mail address|address)|(?:not|isn't) a valid (?:mailbox|recipient|user|address|e-?mail)|recipient address rejected: (?:user unknown|undeliverable address|unknown user)|recip(?:ient)?notfound|no mailbox here by that name|not listed in (?:the )?(?:domino directory|public name)|doesn't have an? \S+ account|user not local`)

// textRules are read after the address rules when the enhanced status is not
// 5.7.x, in order: other signs of a bad address, sender-side refusals,
// temporary trouble, any other refusal.
var textRules = []rule{
	// The address or its domain is bad, or the account is closed. Under a
	// 5.7.x status these are not read: "helo command rejected: host not
	// found" or "your account has been disabled" is then about our sender.
	{KindHard, false, regexp.MustCompile(`does not exist|doesn't exist|non-?existent|recipient address rejected: access denied|(?:couldn't|could not|cannot|can't) be found|not our customer|bad destination (?:mailbox|system) address|unroutable|unrouteable|host (?:or domain name )?not found|host unknown|domain not found|unknown domain|no such domain|nxdomain|null ?mx|does not accept mail|no (?:valid )?mx (?:record|host)|mailbox (?:is )?disabled|(?:disabled|inactive|deactivated|closed) (?:mailbox|account|user)|(?:account|mailbox|address|user)\b[^.;]{0,40}\b(?:is|has been|was) (?:disabled|deactivated|closed|terminated|inactive|expired|deleted|removed|discontinued)|no longer (?:active|available|in use|valid)`)},
	// Sender-side: blocklists, authentication, reputation, relaying, rate
	// limits, and content refused as spam or malware (RFC 3463 section 3.8
	// puts content and security refusals in X.7.X).
	{KindPolicy, false, regexp.MustCompile(`spamhaus|spamcop|sorbs|barracuda|surbl|uribl|black ?list|block ?list|\brbl\b|dnsbl|listed (?:in|on|at|by)|\bspf\b|dkim|dmarc|sender policy framework|authenticat|reputation|\bptr\b|reverse dns|rdns|\bhelo\b|\behlo\b|client host rejected|your (?:ip|host|server|network)|sending (?:ip|server|host)|relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited|not allowed)|unable to relay|not permitted to relay|we do not relay|not (?:authori[sz]ed|allowed|permitted) to send|rate ?limit|too many (?:connections|messages|emails|mails|recipients|requests|concurrent)|exceeded (?:the )?(?:message )?rate|throttl|unexpected volume|user complaints|(?:rejected|blocked|denied) (?:due to|by|for) (?:local |security |our )?polic|polic(?:y|ies) (?:reasons|violation|restriction)|administrative prohibition|access denied|\bspam|unsolicited|\buce\b|\bbulk mail|content|virus|malware|phish|infected|suspicious`)},
	// A generic 5xx "mailbox unavailable" means the address unless temporary.
	{KindHard, true, regexp.MustCompile(`mailbox (?:is )?(?:unavailable|not available)`)},
	// Temporary trouble.
	{KindSoft, false, regexp.MustCompile(`time(?:d)? ?out|connection (?:refused|reset|closed|dropped|lost)|gr[ea]y ?list|try (?:again )?later|temporar|deferr|\bbusy\b|loop|too many hops|network (?:error|unreachable)|lost connection|unable to connect|could not connect|no route to host`)},
	// Anything else that sounds like a refusal of our mail.
	{KindPolicy, false, regexp.MustCompile(`\bblock(?:ed)?\b|\bpolicy\b|\bdenied\b|\bbanned\b|not allowed|prohibited`)},
}

// Classify decides the kind of a failure from the enhanced status (RFC 3463,
// like "5.1.1"; may be empty), the SMTP reply code (may be 0) and the
// diagnostic text together. A status or code missing, or a status that says
// nothing (x.0.0), is taken from the text when it has one.
//
// Text that says the mailbox does not exist beats the code, so a 4.x.x or
// 5.7.x "user unknown" is hard; text that says the mailbox is full or the
// message too large is soft. Otherwise a 5.7.x status is policy (RFC 3463
// section 3.8: security or policy status, which covers content refused as
// spam), except 5.7.13/17/18, which say the account is disabled or gone and
// are hard. For other statuses the text decides: a bad domain or closed
// account is hard; blocklists, authentication, reputation, rate limits and
// content or spam refusals are policy; temporary trouble is soft. With no
// telling text, 5.1.x, 5.2.1 and 5.4.4 are hard and everything else,
// including an unrecognised 5xx, is soft. Classify never returns
// KindComplaint.
func Classify(status string, code int, diagnostic string) Kind {
	text := strings.ToLower(strings.Join(strings.Fields(diagnostic), " "))
	st := enhancedStatus(status)
	if st == "" || strings.HasSuffix(st, ".0.0") {
		if s := enhancedStatus(text); s != "" {
			st = s
		}
	}
	if code < 200 || code > 599 {
		code = replyCode(text)
	}
	class := byte(0)
	switch {
	case st != "":
		class = st[0]
	case code != 0:
		class = byte('0' + code/100)
	}
	if k, ok := matchRules(addressRules, text, class); ok {
		return k
	}
	if strings.HasPrefix(st, "5.7.") {
		return byCode(st, code, class)
	}
	if k, ok := matchRules(textRules, text, class); ok {
		return k
	}
	return byCode(st, code, class)
}

// matchRules returns the kind of the first rule that matches text.
func matchRules(rules []rule, text string, class byte) (Kind, bool) {
	for _, r := range rules {
		if (!r.notTemp || class != '4') && r.re.MatchString(text) {
			return r.kind, true
		}
	}
	return "", false
}

// byCode is the classification when the text says nothing recognisable.
func byCode(st string, code int, class byte) Kind {
	if class != '5' {
		return KindSoft
	}
	if st == "" {
		if code == 551 { // user not local (RFC 5321 section 3.4)
			return KindHard
		}
		return KindSoft
	}
	subject, detail, _ := strings.Cut(st[2:], ".")
	switch subject + "." + detail {
	case "1.7", "1.8": // bad sender address
		return KindPolicy
	case "2.1", "4.4", "7.13", "7.17", "7.18": // disabled, unroutable, account disabled, owner changed
		return KindHard
	}
	switch subject {
	case "1":
		return KindHard
	case "7":
		return KindPolicy
	}
	return KindSoft
}

var (
	reEnhanced  = regexp.MustCompile(`(?:^|[^\d.])([245]\.\d{1,3}\.\d{1,3})(?:[^\d.]|\.\D|\.$|$)`)
	reLeadCode  = regexp.MustCompile(`^[\s#'"(]*(?:reason:\s*)?([2-5]\d\d)(?:[\s:-]|$)`)
	reSaidCode  = regexp.MustCompile(`(?i)(?:said|returned|reply|response|error)[:\s'"]*#?([2-5]\d\d)(?:[\s:-]|$)`)
	reCodeState = regexp.MustCompile(`(?:^|[^\d.])([2-5]\d\d)[ -]#?[245]\.\d{1,3}\.\d{1,3}`)
)

// enhancedStatus returns the first RFC 3463 status code in s, or "".
func enhancedStatus(s string) string {
	if m := reEnhanced.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// replyCode returns the SMTP reply code at the start of s, after "said:" or
// the like, or just before an enhanced status; else 0.
func replyCode(s string) int {
	for _, re := range []*regexp.Regexp{reLeadCode, reSaidCode, reCodeState} {
		if m := re.FindStringSubmatch(s); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	return 0
}
