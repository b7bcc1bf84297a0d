package list_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
	"github.com/bulletin/bulletin/store"
)

// seriesStore is a real store that counts the writes of campaign series.
type seriesStore struct {
	*store.DB
	writes atomic.Int32
}

func (s *seriesStore) PutSetting(ctx context.Context, key string, value []byte) error {
	if strings.HasPrefix(key, "campaign.series.") {
		s.writes.Add(1)
	}
	return s.DB.PutSetting(ctx, key, value)
}

// seriesEnv is a service over a store file that the test closes and opens
// again, as a restart does.
type seriesEnv struct {
	path string
	db   *seriesStore
	svc  *list.Service
	mail *recorder
}

func openSeriesEnv(t *testing.T, path string, now func() time.Time) *seriesEnv {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &seriesEnv{path: path, db: &seriesStore{DB: db}, mail: &recorder{}}
	e.svc, err = list.New(list.Options{Store: e.db, Mailer: e.mail, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Now: now, Config: list.Config{BaseURL: "https://news.example.com", Domain: "news.example.com", PostalAddress: "1 Main St"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *seriesEnv) close(t *testing.T) {
	t.Helper()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
}

// runUntil runs the campaign runner until stop is closed or the campaign
// reaches want, then stops it as a shutdown does.
func (e *seriesEnv) runUntil(t *testing.T, id list.CampaignID, stop <-chan struct{}, want list.Status) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		// Commits keep pace with the test's clock, which each message
		// moves by 20 s: at most two messages are uncommitted.
		e.svc.RunCampaigns(ctx, list.RunnerOptions{Workers: 1, GroupSize: 1, InFlight: 2, Poll: 10 * time.Millisecond})
		close(done)
	}()
	deadline := time.After(30 * time.Second)
	for {
		c, err := e.svc.GetCampaign(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if want != "" && c.Status == want {
			break
		}
		select {
		case <-stop:
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("campaign is %s %+v, want %s", c.Status, c.Stats, want)
		case <-time.After(10 * time.Millisecond):
			continue
		}
		break
	}
	cancel()
	<-done
}

func addConfirmed(t *testing.T, svc *list.Service, n int) {
	t.Helper()
	for i := range n {
		if _, err := svc.AddSubscriber(t.Context(), list.NewSubscriber{Email: fmt.Sprintf("s%03d@example.com", i),
			Lists: []string{"newsletter"}, State: list.StateConfirmed, Reason: "test"}, list.HowImport, list.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
}

func sumSeries(pts []list.SeriesPoint) (sent, failed int) {
	for _, p := range pts {
		sent += p.Sent
		failed += p.Failed
	}
	return sent, failed
}

func seriesJSON(pts []list.SeriesPoint) string {
	b, _ := json.Marshal(pts)
	return string(b)
}

// TestCampaignSeriesSurvivesRestart stops the server in the middle of a
// run, opens the store again in a new service, and finds the minutes sent
// before the stop in the chart; the resumed run adds to them, and the
// finished series is the same after one more restart.
func TestCampaignSeriesSurvivesRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "b.db")
	clock := &manualClock{t: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
	e := openSeriesEnv(t, path, clock.now)
	addConfirmed(t, e.svc, 30)
	clock.add(time.Minute)
	c := newCampaign(t, &fixture{svc: e.svc}, "newsletter")
	if _, err := e.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	// Each message takes 20 s of the clock: three a minute. After the
	// twelfth the server is stopped, as by SIGTERM.
	stop := make(chan struct{})
	var sent atomic.Int32
	e.mail.answer = func(*list.Message) error {
		clock.add(20 * time.Second)
		if sent.Add(1) == 12 {
			close(stop)
		}
		return nil
	}
	e.runUntil(t, c.ID, stop, "")
	before, err := e.svc.CampaignSeries(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	cv, err := e.svc.GetCampaign(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cv.Status != list.StatusRunning || cv.Stats.Sent < 12 || cv.Stats.Sent == 30 {
		t.Fatalf("after the stop: %s %+v, want running, partly sent", cv.Status, cv.Stats)
	}
	if s, _ := sumSeries(before); s != cv.Stats.Sent || len(before) < 4 {
		t.Fatalf("series before the restart = %s (%d sent), want %d sent over 4+ minutes", seriesJSON(before), s, cv.Stats.Sent)
	}
	e.close(t)

	// A new process on the same file: the chart shows the same minutes
	// before anything runs.
	e = openSeriesEnv(t, path, clock.now)
	reopened, err := e.svc.CampaignSeries(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Every minute is there with its counts; the last one may lack what
	// was committed in the last seconds before the stop (at most
	// seriesSaveEvery of sending), which the next run counts in its
	// first minute.
	n := len(before)
	if len(reopened) != n || seriesJSON(reopened[:n-1]) != seriesJSON(before[:n-1]) ||
		!reopened[n-1].At.Equal(before[n-1].At) || reopened[n-1].Sent > before[n-1].Sent || reopened[n-1].Sent == 0 {
		t.Fatalf("series after reopening the store:\n%s\nwant\n%s", seriesJSON(reopened), seriesJSON(before))
	}
	// The resumed run adds its minutes after them.
	clock.add(10 * time.Minute)
	e.mail.answer = func(*list.Message) error { clock.add(20 * time.Second); return nil }
	e.runUntil(t, c.ID, nil, list.StatusFinished)
	after, err := e.svc.CampaignSeries(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) <= n || seriesJSON(after[:n]) != seriesJSON(reopened) {
		t.Fatalf("series after the resumed run:\n%s\nwant it to start with\n%s", seriesJSON(after), seriesJSON(reopened))
	}
	if s, _ := sumSeries(after); s != 30 {
		t.Fatalf("series after the run counts %d sent, want 30: %s", s, seriesJSON(after))
	}
	e.close(t)

	e = openSeriesEnv(t, path, clock.now)
	defer e.close(t)
	final, err := e.svc.CampaignSeries(t.Context(), c.ID)
	if err != nil || seriesJSON(final) != seriesJSON(after) {
		t.Fatalf("finished series after reopening = %s, %v\nwant %s", seriesJSON(final), err, seriesJSON(after))
	}
}

// TestCampaignSeriesFewWrites sends 200 messages within a few seconds:
// the series is written a handful of times, not once per message or per
// commit group, and the finished series is in the store.
func TestCampaignSeriesFewWrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "b.db")
	start, base := time.Now(), time.Date(2026, 5, 4, 9, 0, 30, 0, time.UTC)
	e := openSeriesEnv(t, path, func() time.Time { return base.Add(time.Since(start)) })
	defer e.close(t)
	addConfirmed(t, e.svc, 200)
	base = base.Add(time.Minute) // before the runner starts: no race
	c := newCampaign(t, &fixture{svc: e.svc}, "newsletter")
	if _, err := e.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	e.runUntil(t, c.ID, nil, list.StatusFinished)
	if n := e.db.writes.Load(); n < 1 || n > 4 {
		t.Errorf("%d series writes for 200 messages, want 1-4", n)
	}
	b, err := e.db.Setting(t.Context(), fmt.Sprintf("campaign.series.%d", c.ID))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Sent   int                `json:"sent"`
		Points []list.SeriesPoint `json:"points"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if s, _ := sumSeries(st.Points); st.Sent != 200 || s != 200 {
		t.Errorf("stored series = %s, want 200 sent", b)
	}
}

// TestCampaignSeriesSavedOnPause pauses a run: its last counts reach the
// store within a few seconds, with no later notification from the runner.
func TestCampaignSeriesSavedOnPause(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "b.db")
	start, base := time.Now(), time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	e := openSeriesEnv(t, path, func() time.Time { return base.Add(time.Since(start)) })
	defer e.close(t)
	addConfirmed(t, e.svc, 60)
	base = base.Add(time.Minute)
	c := newCampaign(t, &fixture{svc: e.svc}, "newsletter")
	if _, err := e.svc.CampaignAction(t.Context(), c.ID, list.ActionSend, list.Origin{}); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int32
	e.mail.answer = func(*list.Message) error {
		if sent.Add(1) == 25 {
			if _, err := e.svc.CampaignAction(context.Background(), c.ID, list.ActionPause, list.Origin{}); err != nil {
				t.Error(err)
			}
		}
		return nil
	}
	e.runUntil(t, c.ID, nil, list.StatusPaused)
	time.Sleep(300 * time.Millisecond) // the in-flight messages are committed
	cv, err := e.svc.GetCampaign(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := e.db.Setting(t.Context(), fmt.Sprintf("campaign.series.%d", c.ID))
		var st struct {
			Sent int `json:"sent"`
		}
		if err == nil && json.Unmarshal(b, &st) == nil && st.Sent == cv.Stats.Sent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored series = %s, %v; want %d sent", b, err, cv.Stats.Sent)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
