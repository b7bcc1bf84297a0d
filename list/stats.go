package list

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// SeriesPoint is one minute of a campaign's sending: the messages sent and
// failed during that minute.
type SeriesPoint struct {
	At     time.Time `json:"at"`
	Sent   int       `json:"sent"`
	Failed int       `json:"failed"`
}

// maxSeries bounds a campaign's time series: a day of minutes.
const maxSeries = 24 * 60

// seriesSaveEvery is the most often a running campaign's series is written
// to the store, and the longest its newest counts wait in memory while the
// process runs: the runner's progress notifications come once per commit
// group, and a write per group (let alone per message) would double the
// commits of a run.
const seriesSaveEvery = 2 * time.Second

// storedSeries is a series as the store keeps it (setting
// "campaign.series.ID"): the points and the cumulative counts they account
// for. A process that picks up a running campaign after a restart starts
// from them, so that the minutes sent before the restart stay where they
// were and only what was sent since its last save lands in its first
// minute. Older stores hold a bare JSON array of points.
type storedSeries struct {
	Sent   int           `json:"sent"`
	Failed int           `json:"failed"`
	Points []SeriesPoint `json:"points"`
}

// minuteSeries accumulates a running campaign's per-minute counts from the
// progress tracker's samples (the cumulative stats after each commit).
type minuteSeries struct {
	points       []SeriesPoint
	sent, failed int // cumulative at the last sample
	// last is the clock of the last sample; savedAt that of the last save.
	last, savedAt time.Time
	// dirty is set while points hold counts the store lacks.
	dirty bool
	// done is set once a sample shows every recipient handled: the series
	// is dropped from memory after its last save.
	done bool
	// timer is a pending save of the newest counts.
	timer *time.Timer
}

// record adds the change since the last sample to the current minute.
func (ms *minuteSeries) record(st Stats, now time.Time) {
	ds, df := st.Sent-ms.sent, st.Failed-ms.failed
	ms.sent, ms.failed, ms.last = st.Sent, st.Failed, now
	ms.done = finishedStats(st)
	if ds <= 0 && df <= 0 {
		return
	}
	ms.dirty = true
	m := now.UTC().Truncate(time.Minute)
	if n := len(ms.points); n > 0 && ms.points[n-1].At.Equal(m) {
		ms.points[n-1].Sent += max(ds, 0)
		ms.points[n-1].Failed += max(df, 0)
		return
	}
	ms.points = append(ms.points, SeriesPoint{At: m, Sent: max(ds, 0), Failed: max(df, 0)})
	if len(ms.points) > maxSeries {
		ms.points = ms.points[len(ms.points)-maxSeries:]
	}
}

// finishedStats reports whether st leaves nothing to send or retry.
func finishedStats(st Stats) bool {
	return st.Total > 0 && st.Sent+st.Failed+st.Skipped >= st.Total && st.Deferred == 0
}

// saveNow decides, under the tracker's lock, whether the series goes to
// the store now: when a minute closed since the last save, when the last
// save is seriesSaveEvery old, or when the run has nothing left to do.
// Otherwise it returns how long the newest counts may wait.
func (ms *minuteSeries) saveNow(now time.Time) (bool, time.Duration) {
	if !ms.dirty {
		return false, 0
	}
	since := now.Sub(ms.savedAt)
	if ms.done || since >= seriesSaveEvery || since < 0 ||
		!now.Truncate(time.Minute).Equal(ms.savedAt.Truncate(time.Minute)) {
		return true, 0
	}
	return false, seriesSaveEvery - since
}

// recordSeries adds a sample to the campaign's series and saves the series
// when due (see saveNow); a save that is not due yet is scheduled, so that
// a run that pauses, is cancelled or stops has its last counts stored
// within seriesSaveEvery. A series not in memory (the first sample of
// this process) starts from the stored one.
func (p *progressTracker) recordSeries(id CampaignID, st Stats, now time.Time) {
	p.mu.Lock()
	_, known := p.series[id]
	p.mu.Unlock()
	var seed storedSeries
	if !known && p.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var err error
		seed, err = loadSeries(ctx, p.store, id)
		cancel()
		if err != nil {
			// Counting from zero would store a series without the earlier
			// minutes: try again at the next sample, which carries this
			// one's counts too.
			p.log.Error("read the campaign series", "campaign_id", id, "err", err)
			return
		}
	}
	p.mu.Lock()
	if p.series == nil {
		p.series = map[CampaignID]*minuteSeries{}
	}
	ms := p.series[id]
	if ms == nil {
		ms = &minuteSeries{points: seed.Points, sent: seed.Sent, failed: seed.Failed, savedAt: now}
		p.series[id] = ms
	}
	ms.record(st, now)
	save, wait := ms.saveNow(now)
	if save {
		ms.savedAt = now
	} else if wait > 0 && ms.timer == nil && p.store != nil {
		ms.timer = time.AfterFunc(wait, func() { p.flushSeries(id, true) })
	}
	p.mu.Unlock()
	if save {
		p.flushSeries(id, false)
	}
}

// flushSeries writes a campaign's series if it has unsaved counts; timed
// says a scheduled save runs. Saves are serialised so that an older
// snapshot never overwrites a newer one. A failed save is logged and left
// for the next one.
func (p *progressTracker) flushSeries(id CampaignID, timed bool) {
	if p.store == nil {
		return
	}
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	p.mu.Lock()
	ms := p.series[id]
	if ms == nil {
		p.mu.Unlock()
		return
	}
	if timed {
		ms.timer, ms.savedAt = nil, ms.last
	}
	if !ms.dirty {
		p.mu.Unlock()
		return
	}
	snap := storedSeries{Sent: ms.sent, Failed: ms.failed, Points: slices.Clone(ms.points)}
	ms.dirty = false
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := saveSeries(ctx, p.store, id, snap)
	cancel()

	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		ms.dirty = true
		p.log.Error("save the campaign series", "campaign_id", id, "err", err)
		return
	}
	if ms.done && !ms.dirty && p.series[id] == ms {
		// Stored whole: a later sample (there should be none) reloads it.
		if ms.timer != nil {
			ms.timer.Stop()
		}
		delete(p.series, id)
	}
}

// seriesPoints returns a copy of a campaign's points in memory; ok is
// false when the series is not in memory.
func (p *progressTracker) seriesPoints(id CampaignID) (pts []SeriesPoint, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ms := p.series[id]; ms != nil {
		return slices.Clone(ms.points), true
	}
	return nil, false
}

func seriesKey(id CampaignID) string { return fmt.Sprintf("campaign.series.%d", id) }

// loadSeries reads a campaign's stored series; none stored is an empty one.
func loadSeries(ctx context.Context, st Store, id CampaignID) (storedSeries, error) {
	var out storedSeries
	b, err := st.Setting(ctx, seriesKey(id))
	if errors.Is(err, ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '[' {
		err = json.Unmarshal(b, &out.Points)
		for _, p := range out.Points {
			out.Sent += p.Sent
			out.Failed += p.Failed
		}
	} else if len(b) > 0 {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		return storedSeries{}, fmt.Errorf("campaign %d series: %w", id, err)
	}
	return out, nil
}

func saveSeries(ctx context.Context, st Store, id CampaignID, s storedSeries) error {
	if s.Points == nil {
		s.Points = []SeriesPoint{}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return st.PutSetting(ctx, seriesKey(id), b)
}

// CampaignSeries returns a campaign's sending over time, one point per
// minute with activity, oldest first. A running campaign's series is
// written to the store as it goes (at most every few seconds, at every
// closed minute, and once the run has nothing left to do), so the chart
// survives a restart: minutes sent before it stay; what was sent in the
// last seconds before an abrupt stop is counted in the first minute after
// the restart.
func (s *Service) CampaignSeries(ctx context.Context, id CampaignID) ([]SeriesPoint, error) {
	if _, err := s.store.Campaign(ctx, id); err != nil {
		return nil, err
	}
	if pts, ok := s.progress.seriesPoints(id); ok {
		return pts, nil
	}
	st, err := loadSeries(ctx, s.store, id)
	if err != nil {
		return nil, err
	}
	return st.Points, nil
}
