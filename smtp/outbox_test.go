package smtp

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

func TestOutbox(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newTestSender(t, func(o *Options) { o.OutboxDir = dir })
	want, err := s.Preview(t.Context(), testMessage())
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	m.To = "bob@example.org"
	m.Campaign.Subject = "Second"
	id, err := s.Send(t.Context(), testMessage())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(filepath.Join(dir, "new"))
	tmp, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(files) != 2 || len(tmp) != 0 {
		t.Fatalf("new/ has %d files, tmp/ %d; want 2 and 0", len(files), len(tmp))
	}
	entries, err := OutboxList(dir, 0)
	if err != nil || len(entries) != 2 {
		t.Fatalf("OutboxList = %+v, %v", entries, err)
	}
	var first OutboxEntry
	for _, e := range entries {
		if e.MessageID == id {
			first = e
		}
	}
	if first.Subject != "Issue 12: spring is here, Ann" || first.To != "<ann@example.org>" || first.Date.IsZero() || first.Seen {
		t.Errorf("entry = %+v", first)
	}
	raw, err := OutboxRead(dir, first.Name)
	if err != nil {
		t.Fatal(err)
	}
	env := "Return-Path: <bounces+v7cccccccccccccccccccc@news.example.com>\r\nDelivered-To: ann@example.org\r\n"
	if !bytes.HasPrefix(raw, []byte(env)) {
		t.Errorf("outbox message starts %q", raw[:80])
	}
	// The same bytes as Preview, but for the Message-ID and boundary drawn
	// from the random stream.
	p := parseMessage(t, raw[len(env):])
	if p.msg.Header.Get("Subject") != "Issue 12: spring is here, Ann" || len(raw)-len(env) != len(want) {
		t.Errorf("outbox message differs from the preview")
	}
	checkFooter(t, testMessage(), p)
	for _, bad := range []string{"../x", "", ".hidden", "nope"} {
		if _, err := OutboxRead(dir, bad); !errors.Is(err, list.ErrNotFound) {
			t.Errorf("OutboxRead(%q) = %v, want ErrNotFound", bad, err)
		}
	}
}

// TestOutboxKeepsTheRate: without a relay, mail still goes at --rate, so
// that a campaign tried out against the outbox moves as it will for real;
// and a stop (list.WithStop) ends a wait for the rate at once.
func TestOutboxKeepsTheRate(t *testing.T) {
	t.Parallel()
	s := newTestSender(t, func(o *Options) { o.Rate = 20 })
	start := time.Now()
	for range 11 {
		if _, err := s.Send(t.Context(), testMessage()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("11 messages at 20/s went to the outbox in %v, want at least 500ms", d)
	}
	stop, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Send(list.WithStop(t.Context(), stop), testMessage()); !errors.Is(err, context.Canceled) {
		t.Errorf("Send after a stop, waiting for the rate: %v, want context.Canceled", err)
	}
}
