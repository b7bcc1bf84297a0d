package smtp_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/smtp"
)

// Example sends a campaign message with no relay configured: it lands in
// the outbox Maildir, where the admin's outbox page finds it.
func Example() {
	dir, err := os.MkdirTemp("", "outbox")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	s, err := smtp.New(smtp.Options{
		FS:        os.DirFS("../templates"),
		Domain:    "news.example.com",
		OutboxDir: dir,
		Now:       func() time.Time { return time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC) },
		Rand:      rand.NewChaCha8([32]byte{}),
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	m := &list.Message{
		From:           "The Weekly <news@news.example.com>",
		To:             "ann@example.org",
		Subscriber:     &list.Subscriber{ID: 7, Email: "ann@example.org", Name: "Ann"},
		List:           &list.List{ID: 1, Slug: "weekly", Name: "The Weekly"},
		Campaign:       &list.Campaign{ID: 2, Subject: "Hello {{.Name}}", Format: list.FormatMarkdown, Body: "# Spring\n\nHello **{{.Name}}**!"},
		UnsubscribeURL: "https://news.example.com/unsubscribe/u7aaaa",
		ReturnPath:     "bounces+v7bbbb@news.example.com",
		PostalAddress:  "Example Press, 1 Main Street, Paris",
	}
	for _, f := range s.Lint(context.Background(), m) {
		fmt.Println(f.Severity, f.Code)
	}
	id, err := s.Send(context.Background(), m)
	if err != nil {
		panic(err)
	}
	entries, err := smtp.OutboxList(dir, 10)
	if err != nil {
		panic(err)
	}
	fmt.Println(id, "|", entries[0].Subject, "|", entries[0].To)
	// Output:
	// warning dkim-none
	// 06een4nag2ght93arll4hm4keg@news.example.com | Hello Ann | <ann@example.org>
}
