package main

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/bulletin/bulletin/list"
)

// scrape fetches /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, s *server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// value returns the value of the series of a family with the given labels.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	sk := newSink(t)
	data := filepath.Join(t.TempDir(), "data")
	want, id := seed(t, data, 60)
	ns := zoneServer(t, "example.org. 300 IN MX 10 mx.example.org.")
	s := startServer(t, data, "--relay", "smtp://"+sk.addr, "--rate", "0", "--resolver", ns)

	mfs := scrape(t, s)
	for _, name := range []string{"bulletin_subscribers", "bulletin_messages_total", "bulletin_send_duration_seconds",
		"bulletin_bounces_total", "bulletin_complaints_total", "bulletin_queue_depth", "bulletin_store_size_bytes",
		"go_goroutines", "process_resident_memory_bytes"} {
		if mfs[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if v, ok := value(mfs, "bulletin_subscribers", "list", "newsletter", "state", "unconfirmed"); !ok || v != 0 {
		t.Errorf("unconfirmed on newsletter = %v, %v; want 0", v, ok)
	}
	if v, _ := value(mfs, "bulletin_messages_total", "outcome", "sent"); v != 0 {
		t.Errorf("messages sent before any campaign = %v", v)
	}
	// Every kind is there from the start, so that a rate over it works
	// before the first record of the kind.
	for _, kind := range []string{"hard", "soft", "policy", "unknown"} {
		if v, ok := value(mfs, "bulletin_bounces_total", "kind", kind); !ok || v != 0 {
			t.Errorf("bulletin_bounces_total{kind=%q} before any bounce = %v, %v; want 0", kind, v, ok)
		}
	}

	// A sign-up moves the subscriber gauge.
	resp, body := postForm(t, s.base+"/subscribe/newsletter", url.Values{"email": {"new@example.org"}, "name": {"New"}})
	if resp.StatusCode >= 400 {
		t.Fatalf("subscribe: %d %s", resp.StatusCode, body)
	}
	mfs = scrape(t, s)
	if v, _ := value(mfs, "bulletin_subscribers", "list", "newsletter", "state", "unconfirmed"); v != 1 {
		t.Errorf("unconfirmed on newsletter after a sign-up = %v, want 1", v)
	}
	if v, _ := value(mfs, "bulletin_subscribers", "list", "a", "state", "confirmed"); v != 30 {
		t.Errorf("confirmed on list a = %v, want 30", v)
	}

	// A campaign moves the message counters and the latency histogram.
	s.campaignAction(t, id, "send")
	if resp.StatusCode != 200 {
		t.Fatalf("send: %d", resp.StatusCode)
	}
	waitCampaign(t, s, id, list.StatusFinished, 60*time.Second)
	mfs = scrape(t, s)
	if v, _ := value(mfs, "bulletin_messages_total", "outcome", "sent"); v != float64(len(want)) {
		t.Errorf("bulletin_messages_total{outcome=sent} = %v, want %d", v, len(want))
	}
	if v, _ := value(mfs, "bulletin_send_duration_seconds"); v < float64(len(want)) {
		t.Errorf("bulletin_send_duration_seconds count = %v, want ≥ %d", v, len(want))
	}
	if v, ok := value(mfs, "bulletin_queue_depth"); !ok || v != 0 {
		t.Errorf("queue depth after the campaign = %v, %v; want 0", v, ok)
	}
	if v, _ := value(mfs, "bulletin_store_size_bytes"); v <= 0 {
		t.Errorf("store size = %v", v)
	}
	// HTTP latency is recorded by route template, never by raw path.
	if v, ok := value(mfs, "bulletin_http_request_duration_seconds", "route", "/api/v1/campaigns/{id:[0-9]+}/{action}", "code", "200"); !ok || v < 1 {
		t.Errorf("http latency of the send route = %v, %v; want at least one observation", v, ok)
	}
}

// TestMetricsUnmatchedRoute checks that a request no route matched is
// counted under route="unmatched", and that no request is counted under an
// empty route: neither that one nor the scrape of /metrics, a route with no
// adapter of its own to record the template.
func TestMetricsUnmatchedRoute(t *testing.T) {
	t.Parallel()
	s := startServer(t, filepath.Join(t.TempDir(), "data"))
	scrape(t, s) // counted by the time the next scrape reads the counters
	resp, err := http.Get(s.base + "/no/such/page")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) // the whole answer: the request is counted
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /no/such/page: %d, want 404", resp.StatusCode)
	}
	mfs := scrape(t, s)
	const name = "bulletin_http_request_duration_seconds"
	if v, ok := value(mfs, name, "route", "unmatched", "code", "404"); !ok || v != 1 {
		t.Errorf(`%s{route="unmatched",code="404"} = %v, %v; want 1`, name, v, ok)
	}
	if v, ok := value(mfs, name, "route", "/metrics", "code", "200"); !ok || v < 1 {
		t.Errorf(`%s{route="/metrics",code="200"} = %v, %v; want at least 1`, name, v, ok)
	}
	for _, m := range mfs[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && l.GetValue() == "" {
				t.Errorf(`%s has a series with route="": %v`, name, m.GetLabel())
			}
		}
	}
}

// TestMetricsBounces counts bounce records incrementally across scrapes.
func TestMetricsBounces(t *testing.T) {
	t.Parallel()
	cfg := config{Data: filepath.Join(t.TempDir(), "data")}
	err := withInstance(t.Context(), cfg, io.Discard, func(in *instance) error {
		ctx := t.Context()
		for _, k := range []list.BounceKind{list.BounceHard, list.BounceHard, list.BounceSoft, list.BounceComplaint} {
			if err := in.db.AddBounce(ctx, &list.Bounce{Email: "x@example.org", Kind: k}); err != nil {
				return err
			}
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(newStoreCollector(in.svc))
		mfs := gather(t, reg)
		for kind, want := range map[string]float64{"hard": 2, "soft": 1, "policy": 0} {
			if v, _ := value(mfs, "bulletin_bounces_total", "kind", kind); v != want {
				t.Errorf("bulletin_bounces_total{kind=%q} = %v, want %v", kind, v, want)
			}
		}
		if v, _ := value(mfs, "bulletin_complaints_total"); v != 1 {
			t.Errorf("bulletin_complaints_total = %v, want 1", v)
		}
		if err := in.db.AddBounce(ctx, &list.Bounce{Email: "y@example.org", Kind: list.BouncePolicy}); err != nil {
			return err
		}
		mfs = gather(t, reg)
		if v, _ := value(mfs, "bulletin_bounces_total", "kind", "policy"); v != 1 {
			t.Errorf("policy bounces after one more = %v, want 1", v)
		}
		if v, _ := value(mfs, "bulletin_bounces_total", "kind", "hard"); v != 2 {
			t.Errorf("hard bounces after one more = %v, want 2", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func TestObserveHTTP(t *testing.T) {
	t.Parallel()
	m := newMetrics()
	m.ObserveHTTP("/api/v1/lists", 200, 30*time.Millisecond)
	m.ObserveHTTP("/api/v1/lists", 200, 10*time.Millisecond)
	m.ObserveHTTP("/unsubscribe/{token}", 400, time.Millisecond)
	m.observe(list.OutcomeDeferred, 0)
	m.observe("", 5*time.Millisecond)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.messages, m.sendTime, m.httpTime)
	mfs := gather(t, reg)
	if v, _ := value(mfs, "bulletin_http_request_duration_seconds", "route", "/api/v1/lists", "code", "200"); v != 2 {
		t.Errorf("HTTP observations of /api/v1/lists = %v, want 2", v)
	}
	if v, _ := value(mfs, "bulletin_messages_total", "outcome", "deferred"); v != 1 {
		t.Errorf("deferred = %v, want 1", v)
	}
	if v, _ := value(mfs, "bulletin_send_duration_seconds"); v != 1 {
		t.Errorf("send latencies = %v, want 1", v)
	}
}

// TestMetricsLoginFailures counts wrong passwords and the checks refused
// under a login lock, and logs the lock without the password.
func TestMetricsLoginFailures(t *testing.T) {
	t.Parallel()
	s := startServer(t, filepath.Join(t.TempDir(), "data"))
	const guess = "not-the-password-guess"
	for i := range 6 {
		req, err := http.NewRequest("GET", s.base+"/api/v1/lists", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("admin", guess)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if want := map[bool]int{true: 429, false: 401}[i == 5]; resp.StatusCode != want {
			t.Fatalf("guess %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	mfs := scrape(t, s)
	for reason, want := range map[string]float64{"wrong": 5, "locked": 1} {
		if v, _ := value(mfs, "bulletin_login_failures_total", "reason", reason); v != want {
			t.Errorf("bulletin_login_failures_total{reason=%q} = %v, want %v", reason, v, want)
		}
	}
	out := s.out.String()
	if !strings.Contains(out, "too many failed password checks") || strings.Contains(out, guess) {
		t.Errorf("the lock is not logged, or the password is:\n%s", out)
	}
}
