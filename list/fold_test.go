package list_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

func TestFoldSends(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	onAny := population(t, f, 60)
	c := newCampaign(t, f, "a", "b", "c")
	startRunner(t, f, list.RunnerOptions{Workers: 2, Poll: 10 * time.Millisecond})
	if _, err := f.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, f, c.ID, list.StatusFinished)
	ctx := t.Context()
	const age = 180 * 24 * time.Hour
	if n, err := f.svc.FoldSends(ctx, age, 7); err != nil || n != 0 {
		t.Fatalf("FoldSends of young records = %d, %v; want 0", n, err)
	}

	f.advance(age + 24*time.Hour)
	n, err := f.svc.FoldSends(ctx, age, 7) // several transactions of 7
	if err != nil || n != len(onAny) {
		t.Fatalf("FoldSends = %d, %v; want %d", n, err, len(onAny))
	}
	after, err := f.svc.GetCampaign(ctx, c.ID)
	if err != nil || after.Stats != done.Stats {
		t.Errorf("stats after folding = %+v (%v), want %+v", after.Stats, err, done.Stats)
	}
	if folded, err := f.db.FoldedSends(ctx, c.ID); err != nil || folded != len(onAny) {
		t.Errorf("FoldedSends = %d, %v; want %d", folded, err, len(onAny))
	}
	v, _, _, err := f.svc.SearchSubscribers(ctx, list.SearchRequest{Email: "user0002@example.com"})
	if err != nil || len(v) != 1 {
		t.Fatalf("search: %v %v", v, err)
	}
	if _, err := f.db.SendRecord(ctx, c.ID, v[0].ID); !errors.Is(err, list.ErrNotFound) {
		t.Errorf("send record after folding = %v, want ErrNotFound", err)
	}
}

func TestRunMaintenanceStops(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { f.svc.RunMaintenance(ctx, list.MaintenanceOptions{Every: time.Millisecond}); close(done) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunMaintenance did not return after its context ended")
	}
}
