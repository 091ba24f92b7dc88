package main

import (
	"context"
	"encoding/json"
	"fmt"
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

// queryLatency times sequential /query requests for a 1000-reading page of
// the newest temperature readings.
func (s *system) queryLatency(ctx context.Context, cfg config, whole window) (loadResult, error) {
	v := whole.values()
	v.Set("feature", "temperature")
	v.Set("limit", "1000")
	path := "/v1/api/sensor-networks/" + cfg.Network + "/query?" + v.Encode()
	var page struct {
		Data []json.RawMessage `json:"data"`
	}
	if _, err := s.getJSON(ctx, path, &page); err != nil {
		return loadResult{}, err
	}
	if len(page.Data) != 1000 {
		return loadResult{}, fmt.Errorf("/query gave %d readings, want 1000", len(page.Data))
	}
	return s.latency(ctx, path, cfg.QueryRequests)
}
