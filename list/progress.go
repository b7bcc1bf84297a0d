package list

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Progress is a running campaign's live state, for the progress bar, the
// server-sent events and the command line.
type Progress struct {
	ID     CampaignID `json:"id"`
	Status Status     `json:"status"`
	Reason string     `json:"reason"`
	Stats  Stats      `json:"stats"`
	// Rate is messages handled per second over the last seconds.
	Rate float64 `json:"rate"`
	// ETA is the estimated seconds left at that rate (0 when unknown).
	ETA float64 `json:"eta_seconds"`
	// Percent is the share of recipients done, 0-100.
	Percent float64 `json:"percent"`
}

// progressTracker keeps a short history of each running campaign's counts
// to compute a rate, and the per-minute series of the results chart, which
// it writes to store as the run goes (stats.go).
type progressTracker struct {
	store Store
	log   *slog.Logger

	mu sync.Mutex
	m  map[CampaignID][]sample
	// series holds per-minute counts for the results chart (stats.go).
	series map[CampaignID]*minuteSeries
	// saveMu serialises the series' writes.
	saveMu sync.Mutex
}

type sample struct {
	at   time.Time
	done int
}

const rateWindow = 10 * time.Second

// update takes the runner's notification of a campaign's cumulative stats
// after a commit (or at the end of a run).
func (p *progressTracker) update(id CampaignID, st Stats, now time.Time) {
	p.mu.Lock()
	if p.m == nil {
		p.m = map[CampaignID][]sample{}
	}
	ss := append(p.m[id], sample{at: now, done: st.Sent + st.Failed + st.Skipped})
	for len(ss) > 2 && now.Sub(ss[0].at) > rateWindow {
		ss = ss[1:]
	}
	p.m[id] = ss
	p.mu.Unlock()
	p.recordSeries(id, st, now)
}

func (p *progressTracker) rate(id CampaignID) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	ss := p.m[id]
	if len(ss) < 2 {
		return 0
	}
	a, b := ss[0], ss[len(ss)-1]
	dt := b.at.Sub(a.at).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(b.done-a.done) / dt
}

// remaining fills Stats.Remaining: recipients neither sent, failed nor
// skipped (deferred ones are still to do).
func remaining(st Stats) Stats {
	st.Remaining = max(0, st.Total-st.Sent-st.Failed-st.Skipped)
	return st
}

// CampaignProgress returns a campaign's live progress.
func (s *Service) CampaignProgress(ctx context.Context, id CampaignID) (Progress, error) {
	c, err := s.store.Campaign(ctx, id)
	if err != nil {
		return Progress{}, err
	}
	st := remaining(c.Stats)
	p := Progress{ID: id, Status: c.Status, Reason: c.Reason, Stats: st}
	if c.Status == StatusRunning {
		p.Rate = s.progress.rate(id)
	}
	if p.Rate > 0 {
		p.ETA = float64(st.Remaining) / p.Rate
	}
	switch {
	case st.Total > 0:
		p.Percent = 100 * float64(st.Total-st.Remaining) / float64(st.Total)
	case c.Status == StatusFinished:
		p.Percent = 100
	}
	return p, nil
}
