package list

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// run is one campaign being sent.
type run struct {
	s    *Service
	id   CampaignID
	opts RunnerOptions
	c    Campaign
	cfg  Config

	// lists are the campaign's lists, loaded once per run.
	lists map[ListID]*List
	// lastSend is the highest recipient with a record when the run began:
	// only recipients up to it can have been sent by an earlier run, so
	// only they are looked up before dispatch.
	lastSend SubscriberID

	mu     sync.Mutex
	window []windowEntry // main-stream recipients in dispatch order
	retry  map[SubscriberID]bool

	// inflight holds a token for each dispatched job whose outcome is not
	// committed yet, and bounds them (acquire).
	inflight  chan struct{}
	connFails atomic.Int32
	policy    policyRing
}

type windowEntry struct {
	id   SubscriberID
	done bool
}

type job struct {
	id    SubscriberID
	retry *SendRecord
}

type result struct {
	job
	rec   SendRecord
	delta Stats
	// pause, when set, pauses the campaign with this reason.
	pause string
	// abandoned results were interrupted: nothing is recorded, and a resume
	// sends them again.
	abandoned bool
}

func (r *run) run(ctx context.Context) error {
	if err := r.prepare(ctx); err != nil || r.c.Status != StatusRunning {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer r.s.stops.add(r.id, cancel)()
	dctx, stopDelivery := r.deliveryContext(ctx, rctx)
	defer stopDelivery()
	r.inflight = make(chan struct{}, r.opts.InFlight)
	jobs := make(chan job)
	results := make(chan result, r.opts.Workers)
	var wg sync.WaitGroup
	for range r.opts.Workers {
		wg.Go(func() {
			for j := range jobs {
				results <- r.process(rctx, dctx, j)
			}
		})
	}
	finished := make(chan error, 1)
	go func() {
		finished <- r.dispatch(rctx, jobs)
		close(jobs)
		wg.Wait()
		close(results)
	}()
	cerr := r.commitLoop(ctx, cancel, results)
	derr := <-finished
	if cerr != nil {
		return cerr
	}
	if derr != nil || ctx.Err() != nil {
		if errors.Is(derr, context.Canceled) {
			return nil // stopped: paused, cancelled or shutting down
		}
		return derr
	}
	return r.finish(ctx)
}

// deliveryContext is the context of the SMTP transactions, carrying rctx
// as the Mailer's stop (WithStop): a stopped run (paused, cancelled,
// shutting down: rctx done) starts no new one, but lets those under way
// finish, since a relay that already has a message may only be waiting to
// say so, and a reply lost to cancelling would send that message again on
// resume. They get PauseDrain after a pause or cancel, Drain once the
// server shuts down (ctx done), even during a pause's wait.
func (r *run) deliveryContext(ctx, rctx context.Context) (context.Context, context.CancelFunc) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var mu sync.Mutex
	var timers []*time.Timer
	after := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		timers = append(timers, time.AfterFunc(d, cancel))
	}
	stopShutdown := context.AfterFunc(ctx, func() { after(r.opts.Drain) })
	stopPause := context.AfterFunc(rctx, func() {
		if ctx.Err() == nil {
			after(r.opts.PauseDrain)
		}
	})
	return WithStop(dctx, rctx), func() {
		stopShutdown()
		stopPause()
		mu.Lock()
		for _, t := range timers {
			t.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// prepare loads the campaign, its lists, and counts the recipients once.
func (r *run) prepare(ctx context.Context) error {
	c, err := r.s.store.Campaign(ctx, r.id)
	if err != nil || c.Status != StatusRunning {
		r.c = c
		return err
	}
	if c.StartedAt == nil {
		now := r.s.Now()
		c.StartedAt = &now
	}
	if c.Stats.Total == 0 && c.Cursor == 0 {
		n, err := CountRecipients(ctx, r.s.store, c.Lists, *c.StartedAt)
		if err != nil {
			return err
		}
		started := *c.StartedAt
		c, err = r.s.store.UpdateCampaign(ctx, r.id, func(c *Campaign) error {
			c.Stats.Total, c.StartedAt = n, &started
			return nil
		})
		if err != nil {
			return err
		}
	}
	r.c, r.cfg, r.retry, r.lists = c, r.s.Config(), map[SubscriberID]bool{}, map[ListID]*List{}
	if r.lastSend, err = r.s.store.LastSend(ctx, r.id); err != nil {
		return err
	}
	for _, id := range c.Lists {
		l, err := r.s.store.List(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since: its subscriptions went with it
		}
		if err != nil {
			return err
		}
		r.lists[id] = &l
	}
	r.s.log.Info("campaign running", "campaign_id", r.id, "total", c.Stats.Total, "cursor", c.Cursor)
	return nil
}

// dispatch hands out the main recipient stream and, interleaved, the due
// deferrals; once the stream ends it keeps retrying deferrals until none
// is left.
func (r *run) dispatch(ctx context.Context, jobs chan<- job) error {
	rs := NewRecipients(r.s.store, r.c.Lists, r.c.Cursor, *r.c.StartedAt)
	var lastRetry time.Time
	mainDone := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Since(lastRetry) >= time.Second {
			lastRetry = time.Now()
			if err := r.dispatchRetries(ctx, jobs); err != nil {
				return err
			}
		}
		if mainDone {
			if done, err := r.drained(ctx); done || err != nil {
				return err
			}
			continue
		}
		id, err := rs.Next(ctx)
		if err != nil {
			return err
		}
		if id == 0 {
			mainDone = true
			continue
		}
		if err := r.dispatchMain(ctx, jobs, id); err != nil {
			return err
		}
	}
}

// dispatchMain sends one recipient of the main stream to the workers,
// skipping one whose outcome a previous run already committed.
func (r *run) dispatchMain(ctx context.Context, jobs chan<- job, id SubscriberID) error {
	if id <= r.lastSend {
		if _, err := r.s.store.SendRecord(ctx, r.id, id); err == nil {
			return nil
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if err := r.connBackoff(ctx); err != nil {
		return err
	}
	if err := r.acquire(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	r.window = append(r.window, windowEntry{id: id})
	r.mu.Unlock()
	select {
	case jobs <- job{id: id}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquire waits until fewer than InFlight dispatched messages are not yet
// committed: that is the most a crash can send twice, however many
// workers run and however long a commit takes.
func (r *run) acquire(ctx context.Context) error {
	select {
	case r.inflight <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release ends n dispatched messages' time in flight: committed, or
// abandoned unsent.
func (r *run) release(n int) {
	for range n {
		<-r.inflight
	}
}

// connBackoff waits while the relay cannot be reached, instead of
// deferring every recipient in a row.
func (r *run) connBackoff(ctx context.Context) error {
	n := r.connFails.Load()
	if n < 3 {
		return nil
	}
	d := min(time.Duration(1<<min(n-3, 6))*time.Second, time.Minute)
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dispatchRetries sends the deferrals that are due.
func (r *run) dispatchRetries(ctx context.Context, jobs chan<- job) error {
	recs, err := r.s.store.DueDeferrals(ctx, r.id, r.s.Now(), 4*r.opts.Workers)
	if err != nil {
		return err
	}
	for i := range recs {
		rec := recs[i]
		r.mu.Lock()
		busy := r.retry[rec.Subscriber]
		r.retry[rec.Subscriber] = true
		r.mu.Unlock()
		if busy {
			continue
		}
		if err := r.acquire(ctx); err != nil {
			return err
		}
		select {
		case jobs <- job{id: rec.Subscriber, retry: &rec}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// drained reports whether nothing is in flight and no deferral is left;
// otherwise it waits a little before the caller looks again.
func (r *run) drained(ctx context.Context) (bool, error) {
	if len(r.inflight) == 0 {
		n, err := r.s.store.CountDeferrals(ctx, r.id)
		if err != nil || n == 0 {
			return true, err
		}
	}
	select {
	case <-time.After(200 * time.Millisecond):
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// finish marks the campaign finished if it is still running. Recipients
// counted at the start whom the run never reached left every list of the
// campaign, or were erased, before their turn: the stream no longer yields
// them once it reads their page, so they count as skipped here.
func (r *run) finish(ctx context.Context) error {
	now := r.s.Now()
	c, err := r.s.store.UpdateCampaign(ctx, r.id, func(c *Campaign) error {
		if c.Status == StatusRunning {
			t := now
			c.Status, c.FinishedAt, c.UpdatedAt = StatusFinished, &t, now
			c.Stats.Skipped += max(0, c.Stats.Total-c.Stats.Sent-c.Stats.Failed-c.Stats.Skipped-c.Stats.Deferred)
		}
		return nil
	})
	if err == nil {
		r.s.progress.update(r.id, c.Stats, now)
		r.s.log.Info("campaign finished", "campaign_id", r.id, "sent", c.Stats.Sent, "failed", c.Stats.Failed, "skipped", c.Stats.Skipped)
	}
	return err
}

// commitLoop collects outcomes into commit groups until results close,
// and hands each group to a committer goroutine, so that collecting goes
// on while a group is written and synced. The committer writes with a
// context that survives shutdown, so that what was sent is recorded; a
// campaign that stopped running cancels the dispatch.
func (r *run) commitLoop(ctx context.Context, cancel context.CancelFunc, results <-chan result) error {
	wctx := context.WithoutCancel(ctx)
	todo := make(chan SendBatch)
	idle := make(chan struct{}, 1)
	idle <- struct{}{}
	var cerr error // the committer's first error, read after it exits
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for b := range todo {
			if cerr == nil {
				cerr = r.commit(wctx, cancel, b)
			} else {
				r.release(len(b.Records))
			}
			idle <- struct{}{}
		}
	}()
	var batch SendBatch
	due := false
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	// handOff gives the batch to the committer, which is idle: the cursor
	// is taken now, so it covers only outcomes in this or earlier groups.
	handOff := func() {
		batch.Cursor = r.advance()
		todo <- batch
		batch, due = SendBatch{}, false
	}
	for {
		var ready <-chan struct{}
		if n := len(batch.Records); n >= r.opts.GroupSize || due && n > 0 {
			ready = idle
		}
		select {
		case res, ok := <-results:
			if !ok {
				<-idle
				if len(batch.Records) > 0 {
					handOff()
					<-idle
				}
				close(todo)
				<-exited
				return cerr
			}
			r.collect(wctx, cancel, &batch, res)
		case <-ready:
			handOff()
		case <-t.C:
			due = true
		}
	}
}

// commit writes one group and releases its messages from flight; the
// retries in it may be dispatched again once their new record is written.
func (r *run) commit(ctx context.Context, cancel context.CancelFunc, b SendBatch) error {
	c, err := r.s.store.CommitSends(ctx, r.id, b)
	r.release(len(b.Records))
	if err != nil {
		cancel()
		return fmt.Errorf("commit sends: %w", err)
	}
	r.mu.Lock()
	for i := range b.Records {
		delete(r.retry, b.Records[i].Subscriber)
	}
	r.mu.Unlock()
	r.s.progress.update(r.id, c.Stats, r.s.Now())
	if c.Status != StatusRunning {
		cancel()
	}
	return nil
}

// collect adds one result to the batch; an abandoned job adds nothing but
// is no longer in flight.
func (r *run) collect(ctx context.Context, cancel context.CancelFunc, b *SendBatch, res result) {
	r.mu.Lock()
	if res.retry != nil {
		// A retry's outcome is not in the store until its group commits:
		// until then the deferral still reads as due, and only this mark
		// keeps dispatchRetries from sending it again (see commit).
		if res.abandoned {
			delete(r.retry, res.id)
		}
	} else if !res.abandoned {
		for i := range r.window {
			if r.window[i].id == res.id {
				r.window[i].done = true
				break
			}
		}
	}
	r.mu.Unlock()
	if res.pause != "" {
		r.s.pauseCampaign(ctx, r.id, res.pause)
		cancel()
	}
	if res.abandoned {
		r.release(1)
		return
	}
	b.Records = append(b.Records, res.rec)
	b.Delta = addStats(b.Delta, res.delta)
	if r.s.observe != nil {
		r.s.observe(res.rec.Outcome, 0)
	}
}

// advance pops the done prefix of the window and returns the new cursor
// (0 when it does not move): the cursor never passes a recipient whose
// outcome is not committed.
func (r *run) advance() SubscriberID {
	r.mu.Lock()
	defer r.mu.Unlock()
	var cur SubscriberID
	i := 0
	for i < len(r.window) && r.window[i].done {
		cur = r.window[i].id
		i++
	}
	r.window = r.window[i:]
	return cur
}

func addStats(a, b Stats) Stats {
	a.Sent += b.Sent
	a.Failed += b.Failed
	a.Deferred += b.Deferred
	a.Skipped += b.Skipped
	a.Bounced += b.Bounced
	return a
}

// policyRing remembers whether each of the last attempts was refused for
// sender-side policy.
type policyRing struct {
	mu   sync.Mutex
	buf  [50]bool
	n, i int
}

// add records an attempt and returns the share of policy refusals once
// enough attempts were seen (else 0).
func (p *policyRing) add(policy bool) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf[p.i] = policy
	p.i = (p.i + 1) % len(p.buf)
	p.n = min(p.n+1, len(p.buf))
	if p.n < 20 {
		return 0
	}
	k := 0
	for _, b := range p.buf[:p.n] {
		if b {
			k++
		}
	}
	return float64(k) / float64(p.n)
}
