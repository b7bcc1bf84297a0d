// Package bounce parses and classifies inbound delivery reports: bounces,
// complaints and auto-replies. It is a pure parser: no I/O beyond reading the
// message it is given, no store, no SMTP. Not a stable API.
//
// Implemented:
//
//   - RFC 3464 delivery status notifications (multipart/report;
//     report-type=delivery-status, message/delivery-status), per-recipient
//     groups, Action, Status, Diagnostic-Code.
//   - RFC 3463 enhanced status codes, read together with the SMTP reply code
//     and the diagnostic text by [Classify].
//   - RFC 5965 abuse feedback reports (ARF, message/feedback-report).
//   - RFC 6533 internationalized reports (message/global-delivery-status,
//     message/global, message/global-headers).
//   - RFC 3834 auto-responses (Auto-Submitted), recognised by [IsAutoReply]
//     together with common vendor headers and subjects.
//   - The plain-text bounce formats of qmail, Exim, Postfix, Sendmail,
//     Exchange/Outlook.com, Gmail, Yahoo and Lotus Domino.
//
// Broken reports are read as far as they go: a multipart whose boundary
// parameter is missing or not used by its body is split at the "--" line its
// body repeats; DSN fields are read from text when the MIME structure fails;
// raw 8-bit text is read as UTF-8, else as Latin-1. A message in which no
// failure is recognised has no recipients, and one that is not recognisably a
// report at all is TypeUnknown: no failure with no address is made up.
//
// Work is bounded so that no input hangs or exhausts memory: at most
// [MaxSize] bytes are read, MIME nesting stops at depth 8, at most 256 parts
// and 64 recipients are looked at.
//
// Classification policy, in order (see [Classify]): text that blames our
// sender beats everything; text that says the mailbox does not exist (user
// unknown, no such mailbox) makes the bounce hard whatever its code, even
// 4.x.x or 5.7.x; mailbox full and message too large are soft even with
// 5.x.x; any other 5.7.x is policy (RFC 3463 section 3.8), except
// 5.7.13/17/18 (account disabled or gone), which are hard. Otherwise the text
// decides: no such domain or a closed account is hard; blocklists,
// SPF/DKIM/DMARC, reputation, rate limits and content refused as spam or
// malware are policy; temporary trouble is soft. Then the enhanced status
// decides (5.1.x, 5.2.1, 5.4.4 hard; the rest soft). An unrecognised 5xx
// with no telling text is soft, so that a good address is never blocklisted
// on a guess. Policy and delayed reports never count toward a subscriber's
// thresholds: a campaign refused as spam is the sender's problem, not the
// subscribers'.
package bounce
