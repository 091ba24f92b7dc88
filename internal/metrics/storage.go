package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// WatchStorage reports the result store's size and byte limit, read with
// usage at every scrape: /readyz says "degraded" when they are short, and
// these gauges are what an alert looks at before.
func (r *Registry) WatchStorage(usage func(context.Context) (used, limit int64, err error)) {
	if r == nil || usage == nil {
		return
	}
	r.reg.MustRegister(&storageCollector{usage: usage})
}

var (
	storageUsedDesc = prometheus.NewDesc(Namespace+"_result_storage_bytes",
		"Bytes held by the result store.", nil, nil)
	storageLimitDesc = prometheus.NewDesc(Namespace+"_result_storage_limit_bytes",
		"Byte limit of the result store (EXPORTD_RESULT_MAX_BYTES); 0: none.", nil, nil)
)

type storageCollector struct {
	usage func(context.Context) (int64, int64, error)
}

func (c *storageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- storageUsedDesc
	ch <- storageLimitDesc
}

func (c *storageCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), lagTimeout)
	defer cancel()
	used, limit, err := c.usage(ctx)
	if err != nil {
		return // NATS away: exportd_consumer_up says so
	}
	ch <- prometheus.MustNewConstMetric(storageUsedDesc, prometheus.GaugeValue, float64(used))
	ch <- prometheus.MustNewConstMetric(storageLimitDesc, prometheus.GaugeValue, float64(limit))
}
