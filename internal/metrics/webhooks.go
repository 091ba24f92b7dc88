package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// webhookMetrics are the deliverer's: attempts by outcome, the delay from
// an event's publication to its successful delivery, and what waits for
// each endpoint.
type webhookMetrics struct {
	deliveries *prometheus.CounterVec
	delay      prometheus.Histogram
	pending    *prometheus.GaugeVec
}

func newWebhookMetrics(reg *prometheus.Registry) *webhookMetrics {
	w := &webhookMetrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "webhook_deliveries_total", Help: "Webhook delivery attempts, by outcome: delivered (2xx), failed (retried later), given_up (older than EXPORTD_WEBHOOK_MAX_AGE)."},
			[]string{"outcome"}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace,
			Name: "webhook_delivery_delay_seconds", Help: "Time from an event's publication to its delivery with a 2xx, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12)}), // 1ms .. ~1.2 days
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace,
			Name: "webhook_pending_events", Help: "Events waiting for a webhook endpoint behind the one last attempted, by endpoint id."},
			[]string{"webhook"}),
	}
	for _, o := range []string{"delivered", "failed", "given_up"} {
		w.deliveries.WithLabelValues(o)
	}
	reg.MustRegister(w.deliveries, w.delay, w.pending)
	return w
}

// WebhookDelivery records one delivery attempt; delay counts for
// "delivered" only.
func (r *Registry) WebhookDelivery(outcome string, delay time.Duration) {
	if r == nil {
		return
	}
	r.webhooks.deliveries.WithLabelValues(outcome).Inc()
	if outcome == "delivered" {
		r.webhooks.delay.Observe(delay.Seconds())
	}
}

// WebhookPending records how many events wait for endpoint id.
func (r *Registry) WebhookPending(id string, n uint64) {
	if r == nil {
		return
	}
	r.webhooks.pending.WithLabelValues(id).Set(float64(n))
}

// WebhookRemoved drops the series of a removed endpoint.
func (r *Registry) WebhookRemoved(id string) {
	if r == nil {
		return
	}
	r.webhooks.pending.DeleteLabelValues(id)
}
