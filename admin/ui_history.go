package admin

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/bulletin/bulletin/list"
)

// countChart is the dashboard's chart of the subscriber counts over the
// last Days days: an inline SVG rendered here (no script, no external
// resource), from the daily snapshots.
type countChart struct {
	Days int
	// SVG is the chart with its legend; empty when there are no snapshots.
	SVG template.HTML
}

// chartDays reads ?days= (30 or 90).
func chartDays(r *http.Request) int {
	if r.URL.Query().Get("days") == "90" {
		return 90
	}
	return 30
}

// chartSeries is one line of the chart.
type chartSeries struct {
	name   string
	color  string
	points []chartPoint
}

type chartPoint struct {
	day   time.Time
	value int
}

// chartColors are the lines' colors, the total first.
var chartColors = [...]string{"#18181b", "#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2"}

// maxChartLists bounds the lines: the lists with the most confirmed
// subscriptions today.
const maxChartLists = len(chartColors) - 1

// countChart builds the chart of the last days days.
func (s *Server) countChart(ctx context.Context, ls []list.ListWithCounts, days int) (countChart, error) {
	c := countChart{Days: days}
	hist, err := s.svc.CountHistory(ctx, days)
	if err != nil || len(hist) == 0 {
		return c, err
	}
	series := chartLines(hist, ls)
	end := s.svc.Now().UTC().Truncate(24 * time.Hour)
	start := end.AddDate(0, 0, -(days - 1))
	c.SVG = template.HTML(renderChart(series, start, end, days))
	return c, nil
}

// chartLines makes the total line and one line of confirmed
// subscriptions per list (the biggest lists first).
func chartLines(hist []list.HistoryDay, ls []list.ListWithCounts) []chartSeries {
	ls = append([]list.ListWithCounts(nil), ls...)
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].Counts.Confirmed > ls[j].Counts.Confirmed })
	if len(ls) > maxChartLists {
		ls = ls[:maxChartLists]
	}
	total := chartSeries{name: "All subscribers", color: chartColors[0]}
	for _, d := range hist {
		if d.Subscribers >= 0 {
			total.points = append(total.points, chartPoint{d.Date(), d.Subscribers})
		}
	}
	var out []chartSeries
	if len(total.points) > 0 {
		out = append(out, total)
	}
	for i, l := range ls {
		cs := chartSeries{name: l.Name + " (confirmed)", color: chartColors[i+1]}
		for _, d := range hist {
			if n, ok := d.Lists[l.ID]; ok {
				cs.points = append(cs.points, chartPoint{d.Date(), n.Confirmed})
			}
		}
		if len(cs.points) > 0 {
			out = append(out, cs)
		}
	}
	return out
}

// Chart geometry, in SVG user units, and looks.
const (
	chartW, chartH         = 640, 220
	chartLeft, chartRight  = 56, 12
	chartTop, chartBottom  = 12, 28
	chartPlotW, chartPlotH = chartW - chartLeft - chartRight, chartH - chartTop - chartBottom
	chartGridLines         = 4
	chartMinMax            = 4 // the y axis goes at least this high
	chartPointRadius       = 2.5
	chartLineWidth         = 2
	chartLegendSwatch      = 10
	chartTitleID           = "count-chart-title"
	chartFont              = `font-family="sans-serif" font-size="11" fill="#52525b"`
	chartGrid              = `stroke="#e4e4e7" stroke-width="1"`
)

// renderChart draws the series over the days from start to end.
func renderChart(series []chartSeries, start, end time.Time, days int) string {
	top := chartMinMax
	for _, cs := range series {
		for _, p := range cs.points {
			top = max(top, p.value)
		}
	}
	top = niceCeil(top)
	x := func(t time.Time) float64 {
		if days <= 1 {
			return chartLeft + chartPlotW
		}
		return chartLeft + float64(chartPlotW)*t.Sub(start).Hours()/24/float64(days-1)
	}
	y := func(v int) float64 { return chartTop + float64(chartPlotH)*(1-float64(v)/float64(top)) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s">`, chartW, chartH, chartTitleID)
	fmt.Fprintf(&b, `<title id="%s">Subscribers over the last %d days</title>`, chartTitleID, days)
	for i := 0; i <= chartGridLines; i++ {
		v := top * i / chartGridLines
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" %s/>`, chartLeft, chartW-chartRight, y(v), y(v), chartGrid)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle" %s>%d</text>`, chartLeft-6, y(v), chartFont, v)
	}
	layout := "Jan 2"
	if start.Year() != end.Year() {
		layout = "Jan 2, 2006"
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" %s>%s</text>`, chartLeft, chartH-8, chartFont, start.Format(layout))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" %s>%s</text>`, chartW-chartRight, chartH-8, chartFont, end.Format(layout))
	for _, cs := range series {
		var pts []string
		for _, p := range cs.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.day), y(p.value)))
		}
		fmt.Fprintf(&b, `<polyline class="series" fill="none" stroke="%s" stroke-width="%d" points="%s"/>`, cs.color, chartLineWidth, strings.Join(pts, " "))
		for _, p := range cs.points {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s"><title>%s · %s: %d</title></circle>`,
				x(p.day), y(p.value), chartPointRadius, cs.color, p.day.Format(time.DateOnly), html.EscapeString(cs.name), p.value)
		}
	}
	b.WriteString(`</svg>`)
	b.WriteString(`<ul class="legend">`)
	for _, cs := range series {
		// The last point is a daily snapshot, not a live count: its day is
		// said, so that it is not read against the live counts beside it.
		last := cs.points[len(cs.points)-1]
		fmt.Fprintf(&b, `<li><svg width="%d" height="%d" aria-hidden="true"><rect width="%d" height="%d" fill="%s"/></svg> %s: <strong>%d</strong> on %s</li>`,
			chartLegendSwatch, chartLegendSwatch, chartLegendSwatch, chartLegendSwatch, cs.color, html.EscapeString(cs.name), last.value, last.day.Format(layout))
	}
	b.WriteString(`</ul>`)
	return b.String()
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten, times the grid
// lines, so that the grid labels are round numbers.
func niceCeil(n int) int {
	step := 1
	for {
		for _, m := range []int{1, 2, 5} {
			if s := step * m; s*chartGridLines >= n {
				return s * chartGridLines
			}
		}
		step *= 10
	}
}
