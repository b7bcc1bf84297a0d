package list_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

func TestCountHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	l, err := f.svc.ListBySlug(ctx, "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	add := func(n int) {
		t.Helper()
		for range n {
			email := fmt.Sprintf("s%d@example.com", time.Now().UnixNano())
			if _, err := f.svc.AddSubscriber(ctx, list.NewSubscriber{Email: email, Lists: []string{"newsletter"}, State: list.StateConfirmed, Reason: "test"}, list.HowAdmin, list.Origin{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	snap := func() {
		t.Helper()
		if _, err := f.svc.SnapshotCounts(ctx); err != nil {
			t.Fatal(err)
		}
	}
	add(1)
	snap()
	f.advance(24 * time.Hour)
	add(2)
	snap()
	f.advance(24 * time.Hour)
	snap()
	add(1)
	snap() // overwrites today's snapshot
	days, err := f.svc.CountHistory(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		day       string
		confirmed int
	}{{"2026-11-01", 1}, {"2026-11-02", 3}, {"2026-11-03", 4}}
	if len(days) != len(want) {
		t.Fatalf("CountHistory(30) = %d days, want %d: %+v", len(days), len(want), days)
	}
	for i, w := range want {
		if days[i].Day != w.day || days[i].Lists[l.ID].Confirmed != w.confirmed || days[i].Subscribers != w.confirmed {
			t.Errorf("day %d = %s %+v (%d subscribers), want %s %d confirmed", i, days[i].Day, days[i].Lists[l.ID], days[i].Subscribers, w.day, w.confirmed)
		}
	}
	if days, _ := f.svc.CountHistory(ctx, 2); len(days) != 2 || days[0].Day != "2026-11-02" {
		t.Errorf("CountHistory(2) = %+v, want the last 2 days", days)
	}
}

func TestCountHistoryBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	for range 370 {
		if _, err := f.svc.SnapshotCounts(ctx); err != nil {
			t.Fatal(err)
		}
		f.advance(24 * time.Hour)
	}
	days, err := f.svc.CountHistory(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 365 || days[0].Day != "2026-11-06" {
		t.Errorf("ring = %d days from %s, want 365 from 2026-11-06", len(days), days[0].Day)
	}
}
