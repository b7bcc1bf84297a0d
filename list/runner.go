package list

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"
	"time"
)

// RunnerOptions tune the campaign runner.
type RunnerOptions struct {
	// Workers render, sign and deliver in parallel per campaign (8).
	Workers int
	// GroupSize is the outcomes per commit group (48), at most three
	// quarters of InFlight; a group is also written after 250 ms.
	GroupSize int
	// InFlight is the most messages dispatched and not yet committed (64):
	// the most a crash can send twice, whatever the number of workers.
	InFlight int
	// RetryFor is how long a deferred recipient is retried (24 h).
	RetryFor time.Duration
	// Backoff is the wait before each retry of a deferred recipient.
	Backoff []time.Duration
	// Poll is how often the scheduler looks for due and running campaigns (1 s).
	Poll time.Duration
	// PolicyShare pauses a campaign when this share of the last 50 attempts
	// were refused for sender-side policy (0.5).
	PolicyShare float64
	// Drain is how long a run stopped by shutdown waits for SMTP
	// transactions under way before it abandons them (5 s).
	Drain time.Duration
	// PauseDrain is how long a paused or cancelled run waits for them
	// (2 min): nothing hurries a pause, and a reply cut off sends that
	// message again on resume. A shutdown meanwhile shortens it to Drain.
	PauseDrain time.Duration
	// Only, when set, restricts the runner to that one campaign: it
	// starts no other scheduled campaign and leaves other running ones
	// for their own run (the command line's send of one campaign).
	Only CampaignID
}

func (o *RunnerOptions) defaults() {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.GroupSize <= 0 {
		o.GroupSize = 48
	}
	if o.InFlight <= 0 {
		o.InFlight = 64
	}
	// While a group is written, the quarter of InFlight left goes on
	// sending, then dispatch waits for the commit: on the benchmark
	// machine a commit takes 1-4 ms (two fdatasyncs), about what that
	// quarter takes to send at 7,000 messages a second. Each commit costs
	// those fdatasyncs whatever its size, so groups of 48 rather than 32
	// (half of InFlight) cut the child's CPU a message by about 8 µs
	// (bench/campaign, 5 KB without DKIM: 134-140 against 142-148 µs, 3.5%
	// more messages a second).
	o.GroupSize = max(1, min(o.GroupSize, o.InFlight*3/4))
	if o.RetryFor <= 0 {
		o.RetryFor = 24 * time.Hour
	}
	if len(o.Backoff) == 0 {
		o.Backoff = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 2 * time.Hour}
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.PolicyShare <= 0 {
		o.PolicyShare = 0.5
	}
	if o.Drain <= 0 {
		o.Drain = 5 * time.Second
	}
	if o.PauseDrain <= 0 {
		o.PauseDrain = 2 * time.Minute
	}
}

// RunCampaigns starts scheduled campaigns when due and runs every running
// campaign until ctx ends; then it stops them promptly, leaving them
// running so that the next start resumes them.
func (s *Service) RunCampaigns(ctx context.Context, opts RunnerOptions) {
	opts.defaults()
	var wg sync.WaitGroup
	active := map[CampaignID]bool{}
	var mu sync.Mutex
	t := time.NewTicker(opts.Poll)
	defer t.Stop()
	for {
		for _, id := range s.runnable(ctx, opts.Only) {
			mu.Lock()
			busy := active[id]
			active[id] = true
			mu.Unlock()
			if busy {
				continue
			}
			wg.Go(func() {
				defer func() {
					mu.Lock()
					delete(active, id)
					mu.Unlock()
				}()
				s.safeRun(ctx, id, opts)
			})
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-s.runKick:
		case <-t.C:
		}
	}
}

// runnable starts due scheduled campaigns and returns the running ones;
// with only set, it looks at that campaign alone.
func (s *Service) runnable(ctx context.Context, only CampaignID) []CampaignID {
	var ids []CampaignID
	now := s.Now()
	err := EachCampaign(ctx, s.store, func(c Campaign) error {
		if only != 0 && c.ID != only {
			return nil
		}
		if due(c, now) {
			c = s.startScheduled(ctx, c.ID, now)
		}
		if c.Status == StatusRunning {
			ids = append(ids, c.ID)
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		s.log.Error("campaign scheduler", "err", err)
	}
	return ids
}

// startScheduled moves a due scheduled campaign to running.
func (s *Service) startScheduled(ctx context.Context, id CampaignID, now time.Time) Campaign {
	c, err := s.store.UpdateCampaign(ctx, id, func(c *Campaign) error {
		if !due(*c, now) {
			return nil
		}
		t := now
		c.Status, c.StartedAt, c.UpdatedAt = StatusRunning, &t, now
		return nil
	})
	if err != nil {
		s.log.Error("start scheduled campaign", "campaign_id", id, "err", err)
	} else {
		s.log.Info("scheduled campaign started", "campaign_id", id)
	}
	return c
}

// safeRun runs one campaign and keeps a panic from taking the server down.
func (s *Service) safeRun(ctx context.Context, id CampaignID, opts RunnerOptions) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("campaign runner panic", "campaign_id", id, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	r := &run{s: s, id: id, opts: opts}
	if err := r.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Error("campaign runner", "campaign_id", id, "err", err)
		s.pauseCampaign(context.WithoutCancel(ctx), id, "runner error: "+err.Error())
	}
}

// pauseCampaign pauses a running campaign with a reason for the editor.
// Every worker of the run may ask at once (each failed alike): the first
// pauses and logs, the others find it paused and say nothing.
func (s *Service) pauseCampaign(ctx context.Context, id CampaignID, reason string) {
	now := s.Now()
	paused := false
	_, err := s.store.UpdateCampaign(ctx, id, func(c *Campaign) error {
		paused = c.Status == StatusRunning
		if paused {
			c.Status, c.Reason, c.UpdatedAt = StatusPaused, reason, now
		}
		return nil
	})
	if err != nil {
		s.log.Error("pause campaign", "campaign_id", id, "err", err)
		return
	}
	if paused {
		s.log.Warn("campaign paused", "campaign_id", id, "reason", reason)
	}
}

// runStops holds the cancel function of each run under way, so that a
// pause or cancel stops its run at once: the run itself only learns of a
// status change at its next commit group, which may hold every recipient
// of a small campaign.
type runStops struct {
	mu sync.Mutex
	m  map[CampaignID]*context.CancelFunc
}

// add registers the run of campaign id; the returned func unregisters it,
// unless a later run of the campaign registered since.
func (rs *runStops) add(id CampaignID, cancel context.CancelFunc) func() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.m == nil {
		rs.m = map[CampaignID]*context.CancelFunc{}
	}
	mine := &cancel
	rs.m[id] = mine
	return func() {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if rs.m[id] == mine {
			delete(rs.m, id)
		}
	}
}

// stop stops the run of campaign id, if one is under way.
func (rs *runStops) stop(id CampaignID) {
	rs.mu.Lock()
	cancel := rs.m[id]
	rs.mu.Unlock()
	if cancel != nil {
		(*cancel)()
	}
}
