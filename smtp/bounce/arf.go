package bounce

import (
	"net/mail"
	"strings"
)

// parseARF fills rep from an RFC 5965 feedback report: one complaint for the
// recipient named by Original-Rcpt-To (section 3.2), else by the quoted
// original. Reports that are not complaints about the recipient,
// "not-spam" (RFC 6650) and "auth-failure" (RFC 6591, a DMARC/SPF failure
// report about our own mail), produce no recipient.
func parseARF(m *message, rep *Report) {
	rep.Type = TypeARF
	var fs fields
	if p := m.find("message/feedback-report"); p != nil {
		fs, _ = readFields(p.body)
	}
	rep.FeedbackType = strings.ToLower(strings.TrimSpace(fs.Get("Feedback-Type")))
	if rep.FeedbackType == "not-spam" || rep.FeedbackType == "auth-failure" {
		return
	}
	rep.add(Recipient{
		Email:      complainant(m, fs),
		Action:     complaintAction(rep.FeedbackType),
		Diagnostic: cleanDiagnostic(m.text),
		Kind:       KindComplaint,
		Counts:     true,
	})
}

// complaintAction is a complaint's action: its RFC 5965 feedback type,
// "abuse" when the report names none (the type the RFC's examples and most
// feedback loops send) and "other" for one outside the registry, so that
// what a sender writes there never reaches the record as it is.
func complaintAction(feedbackType string) string {
	switch feedbackType {
	case "":
		return "abuse"
	case "abuse", "fraud", "virus", "other":
		return feedbackType
	}
	return "other"
}

// complainant finds the address that complained: Original-Rcpt-To, else
// Microsoft's X-HmXmrOriginalRecipient or the To of the quoted original.
func complainant(m *message, fs fields) string {
	if a := firstAddr(fs.Get("Original-Rcpt-To")); a != "" {
		return a
	}
	q := m.quotedHeader()
	if a := firstAddr(q.Get("X-Hmxmroriginalrecipient")); a != "" {
		return a
	}
	return firstAddr(q.Get("To"))
}

// quotedHeader returns the header of the first quoted original.
func (m *message) quotedHeader() fields {
	for _, p := range m.parts {
		if isQuotedType(p.mediaType) {
			fs, _ := readFields(p.body)
			return fs
		}
	}
	return nil
}

// firstAddr returns the first address in a header value, as valid UTF-8.
func firstAddr(v string) string {
	v = toUTF8(v)
	if strings.TrimSpace(v) == "" {
		return ""
	}
	if l, err := mail.ParseAddressList(v); err == nil && len(l) > 0 {
		return l[0].Address
	}
	return reAnyAddr.FindString(v)
}
