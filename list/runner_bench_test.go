package list_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// countingMailer accepts every message at once: what is left to measure
// is the runner's own cost.
type countingMailer struct{ n atomic.Int64 }

func (m *countingMailer) Send(_ context.Context, msg *list.Message) (string, error) {
	return fmt.Sprintf("<%d.%d@bench>", m.n.Add(1), msg.Subscriber.ID), nil
}
func (m *countingMailer) Preview(context.Context, *list.Message) ([]byte, error) { return nil, nil }
func (m *countingMailer) Lint(context.Context, *list.Message) []list.Finding     { return nil }

// BenchmarkRunnerOverhead runs campaigns to 20,000 subscribers through a
// mailer that accepts each message at once, on a real bbolt file with
// fsync on commit: the runner's own cost a message (recipient stream,
// send-time record check, message assembly, commit groups), apart from
// rendering, signing and SMTP. It reports wall and CPU µs a message.
//
//	go test -run '^$' -bench RunnerOverhead -benchtime 5x ./list/
func BenchmarkRunnerOverhead(b *testing.B) {
	const n = 20000
	path := filepath.Join(b.TempDir(), "b.db")
	seedRunnerBench(b, path, n)
	db, err := store.Open(path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	mail := &countingMailer{}
	svc, err := list.New(list.Options{Store: db, Mailer: mail, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Config: list.Config{BaseURL: "https://news.example.com", Domain: "news.example.com", PostalAddress: "1 Main St"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		svc.RunCampaigns(ctx, list.RunnerOptions{Workers: 24, Poll: 5 * time.Millisecond})
		close(done)
	}()
	defer func() { cancel(); <-done }()
	subj, body, lists := "Hello", "<p>Hi {{.Name}}</p>", []string{"news"}
	var cpu time.Duration
	start := time.Now()
	for b.Loop() {
		c, err := svc.CreateCampaign(ctx, list.CampaignInput{Subject: &subj, Body: &body, Lists: &lists}, list.Origin{})
		if err != nil {
			b.Fatal(err)
		}
		cpu0 := processCPU(b)
		if _, err := svc.CampaignAction(ctx, c.ID, list.ActionSend, list.Origin{}); err != nil {
			b.Fatal(err)
		}
		for {
			v, err := svc.GetCampaign(ctx, c.ID)
			if err != nil {
				b.Fatal(err)
			}
			if v.Status == list.StatusFinished {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		cpu += processCPU(b) - cpu0
	}
	msgs := float64(b.N * n)
	b.ReportMetric(float64(time.Since(start).Microseconds())/msgs, "wall-µs/msg")
	b.ReportMetric(float64(cpu.Microseconds())/msgs, "cpu-µs/msg")
	if got := mail.n.Load(); got != int64(msgs) {
		b.Fatalf("%d messages sent, want %.0f", got, msgs)
	}
}

// seedRunnerBench makes a store with n confirmed subscribers on the list
// "news", without fsync (a fixture, not the measurement).
func seedRunnerBench(b *testing.B, path string, n int) {
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc, err := list.New(list.Options{Store: db, Mailer: &countingMailer{}, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.CreateList(ctx, list.List{Slug: "news", Name: "News"}, list.Origin{}); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		_, err := svc.AddSubscriber(ctx, list.NewSubscriber{Email: fmt.Sprintf("reader%06d@example.net", i), Name: fmt.Sprint("Reader ", i),
			Lists: []string{"news"}, State: list.StateConfirmed, Reason: "bench"}, list.HowImport, list.Origin{})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// processCPU is this process's user and system time.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
