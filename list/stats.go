package list

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// minuteSeries accumulates a running campaign's per-minute counts from the
// progress tracker's samples (the cumulative stats after each commit).
type minuteSeries struct {
	points       []SeriesPoint
	sent, failed int // cumulative at the last sample
}

// recordMinute adds the change since the last sample to the current
// minute. It runs under the tracker's lock.
func (p *progressTracker) recordMinute(id CampaignID, st Stats, now time.Time) {
	if p.series == nil {
		p.series = map[CampaignID]*minuteSeries{}
	}
	ms := p.series[id]
	if ms == nil {
		// The first sample of this process. After a restart mid-campaign
		// it holds what earlier runs sent too, shown in this minute.
		ms = &minuteSeries{}
		p.series[id] = ms
	}
	ds, df := st.Sent-ms.sent, st.Failed-ms.failed
	ms.sent, ms.failed = st.Sent, st.Failed
	if ds <= 0 && df <= 0 {
		return
	}
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

// takeSeries returns a copy of a campaign's points in memory.
func (p *progressTracker) takeSeries(id CampaignID) []SeriesPoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ms := p.series[id]; ms != nil {
		return append([]SeriesPoint(nil), ms.points...)
	}
	return nil
}

func seriesKey(id CampaignID) string { return fmt.Sprintf("campaign.series.%d", id) }

// CampaignSeries returns a campaign's sending over time, one point per
// minute with activity, oldest first. Points are kept in memory while the
// campaign runs and stored with the settings once it has ended, so a chart
// survives a restart after the campaign; minutes sent by an earlier process
// before a restart mid-campaign are missing.
func (s *Service) CampaignSeries(ctx context.Context, id CampaignID) ([]SeriesPoint, error) {
	c, err := s.store.Campaign(ctx, id)
	if err != nil {
		return nil, err
	}
	var stored []SeriesPoint
	b, err := s.store.Setting(ctx, seriesKey(id))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &stored); err != nil {
			return nil, fmt.Errorf("campaign %d series: %w", id, err)
		}
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	live := s.progress.takeSeries(id)
	pts := mergeSeries(stored, live)
	ended := c.Status == StatusFinished || c.Status == StatusCancelled
	if ended && len(live) > 0 {
		b, err := json.Marshal(pts)
		if err != nil {
			return nil, err
		}
		if err := s.store.PutSetting(ctx, seriesKey(id), b); err != nil {
			return nil, err
		}
		s.progress.mu.Lock()
		delete(s.progress.series, id)
		s.progress.mu.Unlock()
	}
	return pts, nil
}

// mergeSeries adds live points to stored ones, minute by minute.
func mergeSeries(stored, live []SeriesPoint) []SeriesPoint {
	out := append([]SeriesPoint(nil), stored...)
	for _, p := range live {
		n := len(out)
		switch {
		case n > 0 && out[n-1].At.Equal(p.At):
			out[n-1].Sent += p.Sent
			out[n-1].Failed += p.Failed
		case n == 0 || out[n-1].At.Before(p.At):
			out = append(out, p)
		}
	}
	if len(out) > maxSeries {
		out = out[len(out)-maxSeries:]
	}
	return out
}
