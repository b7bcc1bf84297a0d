package admin

import (
	"slices"
	"testing"
)

// TestParseMailKeepsHeaderNames: the preview and outbox pages show header
// names as the message writes them (DKIM-Signature, Message-ID), not as
// net/mail keys them, and each field once, in order.
func TestParseMailKeepsHeaderNames(t *testing.T) {
	t.Parallel()
	raw := []byte("DKIM-Signature: v=1; a=rsa-sha256;\r\n b=abc\r\nMessage-ID: <1@x>\r\nReceived: a\r\nReceived: b\r\nSubject: Hi\r\n\r\nbody\r\n")
	m, err := parseMail(raw)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range m.Headers {
		names = append(names, h[0])
	}
	if want := []string{"DKIM-Signature", "Message-ID", "Received", "Received", "Subject"}; !slices.Equal(names, want) {
		t.Errorf("header names = %q, want %q", names, want)
	}
}
