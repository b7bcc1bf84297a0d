package list

import (
	"context"
	"runtime/debug"
	"time"
)

// MaintenanceOptions tune RunMaintenance.
type MaintenanceOptions struct {
	// FoldAfter is the age past which per-recipient send records of
	// finished and cancelled campaigns are folded into the campaign's
	// aggregates (180 days); negative turns folding off.
	FoldAfter time.Duration
	// Every is how often the job runs (24 hours); it also runs at start.
	Every time.Duration
	// Batch is the most records folded per transaction (2000).
	Batch int
}

func (o *MaintenanceOptions) defaults() {
	if o.FoldAfter == 0 {
		o.FoldAfter = 180 * 24 * time.Hour
	}
	if o.Every <= 0 {
		o.Every = 24 * time.Hour
	}
	if o.Batch <= 0 {
		o.Batch = 2000
	}
}

// FoldSends folds the send records last tried more than age ago: the
// records and their index entries go, the campaign's stats stay. It works
// in transactions of at most batch records so that the server keeps
// answering, and returns how many it folded.
func (s *Service) FoldSends(ctx context.Context, age time.Duration, batch int) (int, error) {
	if batch <= 0 {
		batch = 2000
	}
	before := s.Now().Add(-age)
	total := 0
	for {
		n, err := s.store.FoldSends(ctx, before, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// RunMaintenance keeps the store small until ctx ends: at start and then
// every opts.Every it folds old send records.
func (s *Service) RunMaintenance(ctx context.Context, opts MaintenanceOptions) {
	opts.defaults()
	t := time.NewTicker(opts.Every)
	defer t.Stop()
	for {
		s.maintain(ctx, opts)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maintain runs one round and keeps a panic from taking the server down.
func (s *Service) maintain(ctx context.Context, opts MaintenanceOptions) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("maintenance panic", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	if opts.FoldAfter < 0 {
		return
	}
	n, err := s.FoldSends(ctx, opts.FoldAfter, opts.Batch)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Error("fold send records", "err", err, "folded", n)
	case n > 0:
		s.log.Info("send records folded", "folded", n, "older_than", opts.FoldAfter.String())
	}
}
