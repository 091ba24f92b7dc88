package main

import (
	"context"
	"time"
)

// latency times n requests of path one after another, after five to warm
// up: what one client waits for an answer (p50, p99).
func (s *system) latency(ctx context.Context, path string, n int) (loadResult, error) {
	for range 5 {
		if _, err := s.getJSON(ctx, path, nil); err != nil {
			return loadResult{}, err
		}
	}
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	for range n {
		t0 := time.Now()
		if _, err := s.getJSON(ctx, path, nil); err != nil {
			return loadResult{}, err
		}
		lat = append(lat, time.Since(t0))
	}
	el := time.Since(start).Seconds()
	r := loadResult{Requests: len(lat), OK: len(lat), Seconds: el, ReqPerSec: float64(len(lat)) / el, OKPerSec: float64(len(lat)) / el}
	r.P50ms, r.P99ms = percentile(lat, 0.50), percentile(lat, 0.99)
	return r, nil
}
