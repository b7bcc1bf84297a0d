package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bulletin/bulletin/list"
)

// metrics are the Prometheus metrics of a running server. Counters fed by
// events live here; what the store already knows is read at scrape time.
type metrics struct {
	messages      *prometheus.CounterVec
	sendTime      prometheus.Histogram
	httpTime      *prometheus.HistogramVec
	loginFailures *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulletin_messages_total",
			Help: "Campaign recipients handled since start, by outcome (sent, failed, deferred, skipped).",
		}, []string{"outcome"}),
		sendTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bulletin_send_duration_seconds",
			Help:    "Time to hand one campaign message to the relay or the outbox, waits for the rate limit and a free connection included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		httpTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bulletin_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "code"}),
		loginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulletin_login_failures_total",
			Help: "Failed password checks (login form, API Basic auth, password change) since start, by reason: wrong (a wrong name or password) or locked (refused unchecked under a login limit).",
		}, []string{"reason"}),
	}
	for _, r := range []string{"wrong", "locked"} {
		m.loginFailures.WithLabelValues(r)
	}
	for _, o := range []list.Outcome{list.OutcomeSent, list.OutcomeFailed, list.OutcomeDeferred, list.OutcomeSkipped} {
		m.messages.WithLabelValues(string(o))
	}
	return m
}

// observe is list.Options.Observe: an outcome with a zero latency, or a
// delivery's latency with an empty outcome.
func (m *metrics) observe(o list.Outcome, latency time.Duration) {
	if o != "" {
		m.messages.WithLabelValues(string(o)).Inc()
	}
	if latency > 0 {
		m.sendTime.Observe(latency.Seconds())
	}
}

// ObserveHTTP records one HTTP request: route is the route template (never
// the raw path, which would make a series per token; "unmatched" when no
// route matched), code the status. It is the hook for
// admin.Options.ObserveHTTP.
func (m *metrics) ObserveHTTP(route string, code int, d time.Duration) {
	m.httpTime.WithLabelValues(route, strconv.Itoa(code)).Observe(d.Seconds())
}

// ObserveLoginFailure counts a failed password check; it is the hook for
// admin.Options.ObserveLoginFailure.
func (m *metrics) ObserveLoginFailure(reason string) {
	m.loginFailures.WithLabelValues(reason).Inc()
}

// handler builds the registry, with the Go and process collectors, and
// returns the /metrics handler.
func (m *metrics) handler(svc *list.Service) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.messages, m.sendTime, m.httpTime, m.loginFailures,
		newStoreCollector(svc),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Timeout: 30 * time.Second})
}

// maxQueueScan bounds the queued system mails counted per scrape.
const maxQueueScan = 10000

var (
	descSubscribers = prometheus.NewDesc("bulletin_subscribers",
		"Subscriptions by list and state (a person on two lists counts on each).", []string{"list", "state"}, nil)
	descBounces = prometheus.NewDesc("bulletin_bounces_total",
		"Bounce records stored, by kind (hard, soft, policy, and unknown: a message with no recognisable failed recipient, recorded and never counted).", []string{"kind"}, nil)
	descComplaints = prometheus.NewDesc("bulletin_complaints_total",
		"Complaint (feedback loop) records stored.", nil, nil)
	descQueue = prometheus.NewDesc("bulletin_queue_depth",
		"Messages waiting: queued system mails (counted up to 10000) plus the remaining recipients of running campaigns.", nil, nil)
	descStoreSize = prometheus.NewDesc("bulletin_store_size_bytes",
		"Size of the store file.", nil, nil)
)

// storeCollector reads what the store knows at scrape time. Bounce records
// are only ever appended, so it counts them incrementally: each scrape reads
// the records added since the last one.
type storeCollector struct {
	svc *list.Service

	mu         sync.Mutex
	lastBounce list.BounceID
	bounces    map[list.BounceKind]float64
}

func newStoreCollector(svc *list.Service) *storeCollector {
	return &storeCollector{svc: svc, bounces: map[list.BounceKind]float64{
		list.BounceHard: 0, list.BounceSoft: 0, list.BouncePolicy: 0, list.BounceComplaint: 0, list.BounceUnknown: 0}}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSubscribers, descBounces, descComplaints, descQueue, descStoreSize} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c.collectSubscribers(ctx, ch)
	c.collectBounces(ctx, ch)
	if n, err := c.queueDepth(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(descQueue, err)
	} else {
		ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(n))
	}
	ch <- prometheus.MustNewConstMetric(descStoreSize, prometheus.GaugeValue, float64(c.svc.StoreSize()))
}

func (c *storeCollector) collectSubscribers(ctx context.Context, ch chan<- prometheus.Metric) {
	ls, err := c.svc.Lists(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descSubscribers, err)
		return
	}
	for _, l := range ls {
		for state, n := range map[list.State]int{list.StateUnconfirmed: l.Counts.Unconfirmed,
			list.StateConfirmed: l.Counts.Confirmed, list.StateUnsubscribed: l.Counts.Unsubscribed} {
			ch <- prometheus.MustNewConstMetric(descSubscribers, prometheus.GaugeValue, float64(n), l.Slug, string(state))
		}
	}
}

func (c *storeCollector) collectBounces(ctx context.Context, ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	for {
		var bs []list.Bounce
		bs, err = c.svc.Store().Bounces(ctx, list.BounceFilter{After: c.lastBounce, Limit: 1000})
		for _, b := range bs {
			c.bounces[b.Kind]++
			c.lastBounce = b.ID
		}
		if err != nil || len(bs) < 1000 {
			break
		}
	}
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descBounces, err)
		ch <- prometheus.NewInvalidMetric(descComplaints, err)
		return
	}
	for kind, n := range c.bounces {
		if kind != list.BounceComplaint {
			ch <- prometheus.MustNewConstMetric(descBounces, prometheus.CounterValue, n, string(kind))
		}
	}
	ch <- prometheus.MustNewConstMetric(descComplaints, prometheus.CounterValue, c.bounces[list.BounceComplaint])
}

// queueDepth counts queued system mails and running campaigns' remaining
// recipients (deferred ones included).
func (c *storeCollector) queueDepth(ctx context.Context) (int, error) {
	st := c.svc.Store()
	mails, err := st.DueMails(ctx, time.Now().AddDate(100, 0, 0), maxQueueScan)
	if err != nil {
		return 0, err
	}
	n := len(mails)
	err = list.EachCampaign(ctx, st, func(cp list.Campaign) error {
		if cp.Status == list.StatusRunning {
			s := cp.Stats
			n += max(0, s.Total-s.Sent-s.Failed-s.Skipped)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ready is /readyz: the store answers a read.
func (in *instance) ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := in.db.Setting(ctx, "instance.secret"); err != nil {
		return errors.New("store does not answer")
	}
	return nil
}
