package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/plenario-next/exportd/schema"
)

// aggregateLatency measures /aggregate: the hourly average temperature of
// one node over the whole table, ClickHouse reading every row of the
// window for it. The first answer is checked first: one bucket per hour,
// and counts that add up to the node's temperature values.
func (s *system) aggregateLatency(ctx context.Context, cfg config, n *schema.Network, whole window) (loadResult, error) {
	node := n.Nodes[0].ID
	v := whole.values()
	v.Set("node", node)
	v.Set("feature", "temperature")
	v.Set("agg", "hour")
	v.Set("function", "avg")
	path := "/v1/api/sensor-networks/" + cfg.Network + "/aggregate?" + v.Encode()
	var page struct {
		Data []struct {
			Temperature struct {
				Count int64 `json:"count"`
			} `json:"temperature"`
		} `json:"data"`
	}
	if _, err := s.getJSON(ctx, path, &page); err != nil {
		return loadResult{}, err
	}
	q := schema.Query{Network: n.Name, Nodes: []string{node}, Features: []schema.FeatureSel{{Feature: "temperature"}},
		AllSensors: true, Start: whole.Start, End: whole.End}
	want, err := s.store.Count(ctx, &q)
	if err != nil {
		return loadResult{}, err
	}
	var got int64
	for _, b := range page.Data {
		got += b.Temperature.Count
	}
	if hours := schema.BucketCount("hour", whole.Start, whole.End); len(page.Data) != hours || got != want {
		b, _ := json.Marshal(page.Data[:min(len(page.Data), 3)])
		return loadResult{}, fmt.Errorf("/aggregate gave %d buckets counting %d values, want %d and %d: %s", len(page.Data), got, hours, want, b)
	}
	return s.latency(ctx, path, cfg.QueryRequests)
}
