package chstore_test

import (
	"context"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestSeconds: the windows of several queries of one selection counted in
// one query and read out by window are, window by window, each query's own
// histogram of step one second, for windows that overlap, touch, repeat,
// lie apart, hold no row or begin within a second.
func TestSeconds(t *testing.T) {
	ctx := context.Background()
	s := testenv.MustOpenStore(t)
	n := chstore.DemoNetwork("aot")
	if err := s.Seed(ctx, n, 60_000, seedEnd); err != nil {
		t.Fatal(err)
	}
	// The seeded readings' times, some hours apart.
	week := schema.Query{Network: n.Name, Start: seedEnd.AddDate(0, 0, -7), End: seedEnd, AllNodes: true, AllSensors: true, AllFeatures: true}
	ticks, err := s.Histogram(ctx, &week, time.Second)
	if err != nil || len(ticks) < 6 {
		t.Fatalf("the seeded times: %d, %v; want 6 or more", len(ticks), err)
	}
	tick := func(i int) time.Time { return ticks[i].From }
	windows := []chstore.Span{
		{From: tick(1).Add(-30 * time.Minute), To: tick(1).Add(30 * time.Minute)},
		{From: tick(1), To: tick(2).Add(time.Second)},                                                        // overlaps the first
		{From: tick(2).Add(time.Second), To: tick(3).Add(time.Second)},                                       // touches the second
		{From: tick(1).Add(-30 * time.Minute), To: tick(1).Add(30 * time.Minute)},                            // the first again
		{From: tick(5).Add(-time.Second), To: tick(5).Add(time.Second)},                                      // apart
		{From: tick(1).Add(500 * time.Millisecond), To: tick(2).Add(300 * time.Millisecond)},                 // within seconds
		{From: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2001, 1, 1, 0, 0, 1, 0, time.UTC)}, // no row
		{From: tick(1), To: tick(1)},                                                                         // no second
	}
	selections := []struct {
		name string
		args url.Values
	}{
		{name: "everything", args: url.Values{}},
		{name: "two nodes' temperature", args: url.Values{"nodes": {n.Nodes[1].ID + "," + n.Nodes[2].ID}, "features": {"temperature"}}},
		{name: "a filter row by row", args: url.Values{"features": {"temperature"}, "filter": {`{"op":"like","col":"node_id","val":"001e0610b00%"}`}}},
	}
	keys := map[string]bool{}
	for _, sel := range selections {
		t.Run(sel.name, func(t *testing.T) {
			base, err := schema.ParseQuery(schema.Download, sel.args, n, seedEnd)
			if err != nil {
				t.Fatal(err)
			}
			key, ok := chstore.SecondsKey(&base)
			if !ok {
				t.Fatal("SecondsKey: not ok for a query without a grouped filter")
			}
			keys[key] = true
			all, err := s.Seconds(ctx, &base, windows)
			if err != nil {
				t.Fatal(err)
			}
			var allRows, most int64
			for _, b := range all {
				allRows += b.Rows
			}
			for i, w := range windows {
				q := base
				q.Start, q.End = w.From, w.To
				if k, _ := chstore.SecondsKey(&q); k != key {
					t.Fatalf("window %d: its key differs from its selection's", i)
				}
				want, err := s.Histogram(ctx, &q, time.Second)
				if err != nil {
					t.Fatal(err)
				}
				got := chstore.BucketsIn(all, w.From, w.To)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("window %d [%v, %v): got %v, want %v", i, w.From, w.To, got, want)
				}
				var rows int64
				for _, b := range want {
					rows += b.Rows
				}
				most = max(most, rows)
			}
			if most == 0 || most >= allRows {
				t.Fatalf("the windows' rows: %d at most of %d in all: the test needs rows in more than one window", most, allRows)
			}
		})
	}
	if len(keys) != len(selections) {
		t.Errorf("got %d keys for %d selections", len(keys), len(selections))
	}
	grouped, err := schema.ParseQuery(schema.Download, url.Values{"features": {"magnetic_field"},
		"filter": {`{"op":"and","val":[{"op":"gt","prop":"x","val":0},{"op":"lt","prop":"y","val":0.9}]}`}}, n, seedEnd)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := chstore.SecondsKey(&grouped); ok {
		t.Error("SecondsKey: ok for a filter on observation groups")
	}
}
