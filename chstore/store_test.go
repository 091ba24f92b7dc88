package chstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

var seedEnd = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func TestSeedAndRead(t *testing.T) {
	ctx := context.Background()
	s := testenv.MustOpenStore(t)
	n := chstore.DemoNetwork("array_of_things")
	if err := s.Seed(ctx, n, 50_000, seedEnd); err != nil {
		t.Fatal(err)
	}
	got, err := s.Network(ctx, "Array_Of_Things")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Nodes) != chstore.DemoNodes || len(got.Sensors) != 5 || len(got.Features) != 5 {
		t.Fatalf("got %d nodes %d sensors %d features, want %d 5 5", len(got.Nodes), len(got.Sensors), len(got.Features), chstore.DemoNodes)
	}
	if _, err := s.Network(ctx, "nope"); schema.ErrorCode(err) != schema.NotFound {
		t.Fatalf("unknown network: got %v, want NotFound", err)
	}

	q := schema.Query{Network: n.Name, Start: seedEnd.Add(-7 * 24 * time.Hour), End: seedEnd, AllNodes: true, AllSensors: true, AllFeatures: true}
	total, err := s.Count(ctx, &q)
	if err != nil || total != 50_000 {
		t.Fatalf("count: got %d %v, want 50000", total, err)
	}
	hist, err := s.Histogram(ctx, &q, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, b := range hist {
		sum += b.Rows
	}
	if sum != total {
		t.Fatalf("histogram sums to %d, want %d", sum, total)
	}

	// A filtered read returns rows in export order, each matching the filter.
	q.AllNodes, q.Nodes = false, []string{n.Nodes[3].ID, n.Nodes[7].ID}
	q.AllFeatures, q.Features = false, []schema.FeatureSel{{Feature: "magnetic_field", Property: "x"}, {Feature: "temperature"}}
	want, err := s.Count(ctx, &q)
	if err != nil || want == 0 {
		t.Fatalf("filtered count %d %v", want, err)
	}
	var rows int64
	var last time.Time
	err = eachRow(ctx, s, &q, q.Start, q.End, func(r *schema.Row) error {
		rows++
		if r.TS.Before(last) {
			t.Fatalf("rows out of order: %v after %v", r.TS, last)
		}
		last = r.TS
		if r.Node != q.Nodes[0] && r.Node != q.Nodes[1] {
			t.Fatalf("row of node %s, want one of %v", r.Node, q.Nodes)
		}
		if !(r.Feature == "temperature" || r.Feature == "magnetic_field" && r.Property == "x") {
			t.Fatalf("row of %s.%s outside the filter", r.Feature, r.Property)
		}
		return nil
	})
	if err != nil || rows != want {
		t.Fatalf("rows: got %d %v, want %d", rows, err, want)
	}

	// The raw query: newest first, grouped, limited.
	q.Limit, q.Offset = 10, 5
	obs, err := s.Observations(ctx, &q)
	if err != nil || len(obs) != 10 {
		t.Fatalf("observations: got %d %v, want 10", len(obs), err)
	}
	for i := 1; i < len(obs); i++ {
		if obs[i].Datetime > obs[i-1].Datetime {
			t.Fatalf("not newest first: %s after %s", obs[i].Datetime, obs[i-1].Datetime)
		}
	}
}

func TestUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := chstore.Open(ctx, chstore.Config{Addr: "127.0.0.1:1"})
	if schema.ErrorCode(err) != schema.Unavailable {
		t.Fatalf("got %v (%v), want Unavailable", schema.ErrorCode(err), err)
	}
}

// eachRow streams the rows of q within [from, to) in export order to fn,
// through OpenRows as the exporter reads them. The Row is reused.
func eachRow(ctx context.Context, s *chstore.Store, q *schema.Query, from, to time.Time, fn func(*schema.Row) error) error {
	it, err := s.OpenRows(ctx, q, from, to)
	if err != nil {
		return err
	}
	defer it.Close()
	var r schema.Row
	for it.Next(&r) {
		if err := fn(&r); err != nil {
			return err
		}
	}
	return it.Err()
}
