package list

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"time"
)

// The subscriber history is one snapshot of the counts per day, kept as a
// bounded JSON ring in one setting: the last historyDays days, oldest
// first. A snapshot reads O(lists) counters, each O(1), and overwrites
// today's entry, so running it hourly keeps today current.

// historyKey is the setting holding the daily snapshots.
const historyKey = "history.counts"

// historyDays bounds the ring.
const historyDays = 365

// HistoryDay is one day's snapshot of the subscriber counts.
type HistoryDay struct {
	// Day is the UTC date, "2006-01-02".
	Day string `json:"day"`
	// Lists are the counts per list by state.
	Lists map[ListID]Counts `json:"lists"`
	// Subscribers is the number of distinct subscribers, -1 when unknown.
	Subscribers int `json:"subscribers"`
}

// Date returns the day as a time at midnight UTC.
func (d HistoryDay) Date() time.Time {
	t, _ := time.Parse(time.DateOnly, d.Day)
	return t
}

func (s *Service) readHistory(ctx context.Context) ([]HistoryDay, error) {
	b, err := s.store.Setting(ctx, historyKey)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var days []HistoryDay
	if err := json.Unmarshal(b, &days); err != nil {
		return nil, fmt.Errorf("history setting: %w", err)
	}
	return days, nil
}

// SnapshotCounts stores today's counts of every list and the number of
// distinct subscribers, replacing an earlier snapshot of today. Only one
// goroutine (RunHistory) should call it: the read and the write of the
// ring are two transactions.
func (s *Service) SnapshotCounts(ctx context.Context) (HistoryDay, error) {
	ls, err := s.store.Lists(ctx)
	if err != nil {
		return HistoryDay{}, err
	}
	d := HistoryDay{Day: s.Now().Format(time.DateOnly), Lists: make(map[ListID]Counts, len(ls)), Subscribers: -1}
	for _, l := range ls {
		c, err := s.store.Counts(ctx, l.ID)
		if err != nil {
			return HistoryDay{}, err
		}
		d.Lists[l.ID] = c
	}
	if _, total, err := s.store.SearchSubscribers(ctx, SubscriberQuery{Limit: 1}); err == nil && total >= 0 {
		d.Subscribers = total
	}
	days, err := s.readHistory(ctx)
	if err != nil {
		return HistoryDay{}, err
	}
	days = addDay(days, d)
	b, err := json.Marshal(days)
	if err != nil {
		return HistoryDay{}, err
	}
	return d, s.store.PutSetting(ctx, historyKey, b)
}

// addDay puts d into the ring in date order, replacing a snapshot of the
// same day, and drops the oldest past historyDays.
func addDay(days []HistoryDay, d HistoryDay) []HistoryDay {
	i := sort.Search(len(days), func(i int) bool { return days[i].Day >= d.Day })
	switch {
	case i < len(days) && days[i].Day == d.Day:
		days[i] = d
	default:
		days = append(days, HistoryDay{})
		copy(days[i+1:], days[i:])
		days[i] = d
	}
	if len(days) > historyDays {
		days = days[len(days)-historyDays:]
	}
	return days
}

// CountHistory returns the snapshots of the last n days (today included),
// oldest first; days without a snapshot (the server was down) are missing.
func (s *Service) CountHistory(ctx context.Context, n int) ([]HistoryDay, error) {
	days, err := s.readHistory(ctx)
	if err != nil {
		return nil, err
	}
	from := s.Now().AddDate(0, 0, -(n - 1)).Format(time.DateOnly)
	i := sort.Search(len(days), func(i int) bool { return days[i].Day >= from })
	return days[i:], nil
}

// RunHistory snapshots the counts at once and then every interval (an
// hour when every ≤ 0) until ctx ends.
func (s *Service) RunHistory(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.safeSnapshot(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) safeSnapshot(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("history panic", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	if _, err := s.SnapshotCounts(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("snapshot the subscriber counts", "err", err)
	}
}
