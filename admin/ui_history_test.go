package admin

import (
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulletin/bulletin/list"
)

func TestDashboardCountChart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.addUser("ed", list.RoleEditor)
	n := 0
	// Five days, a snapshot each (two on the last: the later one counts),
	// with subscribers added in between.
	for day, add := range []int{1, 0, 2, 3, 1} {
		for range add {
			n++
			if _, err := e.svc.AddSubscriber(ctx, list.NewSubscriber{Email: fmt.Sprintf("s%d@example.com", n), Lists: []string{"newsletter"},
				State: list.StateConfirmed, Reason: "test"}, list.HowAdmin, list.Origin{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.SnapshotCounts(ctx); err != nil {
			t.Fatal(err)
		}
		if day < 4 {
			e.advance(24 * time.Hour)
		}
	}
	b := e.browser()
	b.login(t, "ed", "ed-password")
	res, body := b.do(httptest.NewRequest("GET", "/admin/", nil))
	if res.StatusCode != 200 || !strings.Contains(body, `<svg class="chart"`) || !strings.Contains(body, "Subscribers over the last 30 days") {
		t.Fatalf("dashboard = %d, no chart\n%s", res.StatusCode, body)
	}
	chart := body[strings.Index(body, `id="count-chart"`):]
	chart = chart[:strings.Index(chart, "</section>")]
	if strings.Contains(chart, "<script") || strings.Contains(chart, "href=") || strings.Contains(chart, "src=") {
		t.Errorf("the chart uses a script or an external resource:\n%s", chart)
	}
	// The points, in day order, with their values.
	re := regexp.MustCompile(`<title>(\d{4}-\d{2}-\d{2}) · Newsletter \(confirmed\): (\d+)</title>`)
	var got []string
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		got = append(got, m[1]+"="+m[2])
	}
	want := "2026-03-01=1 2026-03-02=1 2026-03-03=3 2026-03-04=6 2026-03-05=7"
	if strings.Join(got, " ") != want {
		t.Errorf("points = %v, want %s", got, want)
	}
	// The legend gives the last snapshot with its day: it is not a live
	// count.
	if !strings.Contains(body, "All subscribers: <strong>7</strong> on Mar 5") {
		t.Error("the legend lacks the total of the last snapshot and its day")
	}
	poly := regexp.MustCompile(`<polyline class="series"[^>]* points="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(poly) != 2 || len(strings.Fields(poly[1][1])) != 5 {
		t.Errorf("polylines = %v, want 2 lines of 5 points", poly)
	}
	// The x coordinates grow with the days.
	last := -1.0
	for _, p := range strings.Fields(poly[1][1]) {
		var x, y float64
		fmt.Sscanf(p, "%f,%f", &x, &y)
		if x <= last {
			t.Errorf("points out of order: %s", poly[1][1])
		}
		last = x
	}
	if _, body := b.do(httptest.NewRequest("GET", "/admin/?days=90", nil)); !strings.Contains(body, "Subscribers over the last 90 days") {
		t.Error("?days=90 does not show 90 days")
	}
}

func TestDashboardNoHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("ed", list.RoleEditor)
	b := e.browser()
	b.login(t, "ed", "ed-password")
	res, body := b.do(httptest.NewRequest("GET", "/admin/", nil))
	if res.StatusCode != 200 || strings.Contains(body, `<svg class="chart"`) || !strings.Contains(body, "No counts recorded yet") {
		t.Errorf("dashboard without history = %d\n%s", res.StatusCode, body)
	}
}

func TestNiceCeil(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want int }{{1, 4}, {4, 4}, {5, 8}, {7, 8}, {9, 20}, {21, 40}, {950, 2000}, {1000, 2000}} {
		if got := niceCeil(tc.in); got != tc.want {
			t.Errorf("niceCeil(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
