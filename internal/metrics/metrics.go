// Package metrics holds exportd's Prometheus metrics: one Registry per
// process, fed by the gateway (requests), the projector (events by kind),
// the exporter (rows, bytes, partition durations, redeliveries) and read at
// scrape time from JetStream (consumer lag). Every method is safe on a nil
// *Registry, so the packages that feed it take it as an optional field.
package metrics

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every exportd metric.
const Namespace = "exportd"

// Registry is the set of exportd metrics of one process.
type Registry struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	events       *prometheus.CounterVec
	rows         prometheus.Counter
	bytes        prometheus.Counter
	parts        prometheus.Counter
	partDuration prometheus.Histogram
	redeliveries prometheus.Counter
	stalled      prometheus.Counter
	webhooks     *webhookMetrics

	handlerOnce sync.Once
	handler     http.Handler

	// requests are the request series by route, read without a lock and
	// replaced whole, under requestsMu, when a series is added: a poll's
	// lookup is one string-keyed map read and a short scan, where a
	// sync.Map keyed by (route, method, code) hashed the key through its
	// interface, half of Request's time (BenchmarkJobGet's profile).
	requests   atomic.Pointer[map[string][]*requestSeries]
	requestsMu sync.Mutex
}

// requestSeries are one route, method and code's counter and histogram,
// looked up once: label hashing on every request of the hottest routes
// adds up.
type requestSeries struct {
	method   string
	code     int
	count    prometheus.Counter
	duration prometheus.Observer
}

// New returns a Registry with exportd's metrics and the Go runtime and
// process collectors.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "http_requests_total", Help: "HTTP requests answered, by route template, method and status code."},
		[]string{"route", "method", "code"})
	r.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace,
		Name:    "http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route template and method (streamed downloads: until the body starts).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
		[]string{"route", "method"})
	r.events = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "events_total", Help: "Job events folded by the projector, by kind (queued, started, part_done, succeeded, failed, ...)."},
		[]string{"kind"})
	r.rows = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace,
		Name: "exported_rows_total", Help: "Observation rows written to stored partitions."})
	r.bytes = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace,
		Name: "exported_bytes_total", Help: "Bytes written to stored partitions."})
	r.parts = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace,
		Name: "exported_parts_total", Help: "Partitions stored."})
	r.partDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace,
		Name: "part_duration_seconds", Help: "Time to export one partition, from ClickHouse to the object store.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}) // 50ms .. ~7min
	r.redeliveries = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace,
		Name: "part_redeliveries_total", Help: "Partitions received again after an earlier delivery failed, timed out or was handed back."})
	r.stalled = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace,
		Name: "downloads_stalled_total", Help: "Downloads, followed or not, cut off because their client took nothing for the write stall limit."})
	r.reg.MustRegister(r.httpRequests, r.httpDuration, r.events, r.rows, r.bytes, r.parts, r.partDuration, r.redeliveries, r.stalled,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.webhooks = newWebhookMetrics(r.reg)
	return r
}

// Gatherer is the registry to scrape (nil on a nil Registry).
func (r *Registry) Gatherer() prometheus.Gatherer {
	if r == nil {
		return nil
	}
	return r.reg
}

// Handler serves the metrics in the Prometheus text (or OpenMetrics) format.
func (r *Registry) Handler() http.Handler {
	if r == nil {
		return http.NotFoundHandler()
	}
	r.handlerOnce.Do(func() {
		r.handler = promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg, EnableOpenMetrics: true})
	})
	return r.handler
}

// Request records one answered HTTP request; route is a template such as
// /v1/api/jobs/{ticket}, never a raw path.
func (r *Registry) Request(route, method string, code int, took time.Duration) {
	if r == nil {
		return
	}
	rs := findSeries(r.requests.Load(), route, method, code)
	if rs == nil {
		rs = r.addSeries(route, method, code)
	}
	rs.count.Inc()
	rs.duration.Observe(took.Seconds())
}

func findSeries(m *map[string][]*requestSeries, route, method string, code int) *requestSeries {
	if m == nil {
		return nil
	}
	for _, rs := range (*m)[route] {
		if rs.code == code && rs.method == method {
			return rs
		}
	}
	return nil
}

// addSeries makes the series of a route, method and code seen for the
// first time, in a copy of the table that then replaces it.
func (r *Registry) addSeries(route, method string, code int) *requestSeries {
	r.requestsMu.Lock()
	defer r.requestsMu.Unlock()
	old := r.requests.Load()
	if rs := findSeries(old, route, method, code); rs != nil {
		return rs
	}
	rs := &requestSeries{method: method, code: code,
		count:    r.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)),
		duration: r.httpDuration.WithLabelValues(route, method)}
	m := map[string][]*requestSeries{}
	if old != nil {
		m = maps.Clone(*old)
	}
	m[route] = append(slices.Clip(m[route]), rs)
	r.requests.Store(&m)
	return rs
}

// Event records one job event folded into its document.
func (r *Registry) Event(kind string) {
	if r == nil {
		return
	}
	r.events.WithLabelValues(kind).Inc()
}

// PartDone records one stored partition.
func (r *Registry) PartDone(rows, bytes int64, took time.Duration) {
	if r == nil {
		return
	}
	r.rows.Add(float64(rows))
	r.bytes.Add(float64(bytes))
	r.parts.Inc()
	r.partDuration.Observe(took.Seconds())
}

// DownloadStalled records a download cut off because its client stopped
// reading.
func (r *Registry) DownloadStalled() {
	if r == nil {
		return
	}
	r.stalled.Inc()
}

// Redelivered records a partition delivered more than once.
func (r *Registry) Redelivered() {
	if r == nil {
		return
	}
	r.redeliveries.Inc()
}

// Consumer names a durable JetStream consumer whose lag is reported.
type Consumer struct {
	Stream, Name string
}

// Lag is a consumer's backlog as JetStream reports it.
type Lag struct {
	Pending     uint64 // messages of the stream not yet delivered
	AckPending  uint64 // delivered, not yet acknowledged: work in flight
	Redelivered uint64 // pending messages delivered more than once
}

// WatchConsumers reports the backlog of each consumer, read with lag (the
// events package's, which owns JetStream) at every scrape: messages not
// yet delivered (pending) and delivered but not yet acknowledged
// (ack_pending).
func (r *Registry) WatchConsumers(lag func(ctx context.Context, stream, consumer string) (Lag, error), consumers ...Consumer) {
	if r == nil || lag == nil {
		return
	}
	r.reg.MustRegister(&lagCollector{lag: lag, consumers: consumers})
}

var (
	pendingDesc = prometheus.NewDesc(Namespace+"_consumer_pending_messages",
		"Messages of the stream not yet delivered to the consumer.", []string{"stream", "consumer"}, nil)
	ackPendingDesc = prometheus.NewDesc(Namespace+"_consumer_ack_pending_messages",
		"Messages delivered to the consumer and not yet acknowledged (work in flight).", []string{"stream", "consumer"}, nil)
	redeliveredDesc = prometheus.NewDesc(Namespace+"_consumer_redelivered_messages",
		"Messages currently pending that were delivered more than once.", []string{"stream", "consumer"}, nil)
	upDesc = prometheus.NewDesc(Namespace+"_consumer_up",
		"1 if the consumer's state could be read from JetStream at this scrape.", []string{"stream", "consumer"}, nil)
)

// lagTimeout bounds a scrape's JetStream requests, so a NATS outage slows
// scrapes down instead of hanging them.
const lagTimeout = 2 * time.Second

type lagCollector struct {
	lag       func(context.Context, string, string) (Lag, error)
	consumers []Consumer
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- ackPendingDesc
	ch <- redeliveredDesc
	ch <- upDesc
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), lagTimeout)
	defer cancel()
	for _, cc := range c.consumers {
		info, err := c.lag(ctx, cc.Stream, cc.Name)
		if err != nil {
			ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0, cc.Stream, cc.Name)
			continue
		}
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1, cc.Stream, cc.Name)
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(info.Pending), cc.Stream, cc.Name)
		ch <- prometheus.MustNewConstMetric(ackPendingDesc, prometheus.GaugeValue, float64(info.AckPending), cc.Stream, cc.Name)
		ch <- prometheus.MustNewConstMetric(redeliveredDesc, prometheus.GaugeValue, float64(info.Redelivered), cc.Stream, cc.Name)
	}
}
