package exporter_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/internal/metrics"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// gathered returns the value of an unlabelled counter or the count of a
// histogram of reg.
func gathered(t *testing.T, reg *metrics.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if h := m.GetHistogram(); h != nil {
			return float64(h.GetSampleCount())
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestRedeliveryIsCounted: a partition handed back once (here: a
// consumer that took it and gave it back, as an exporter shutting down
// does) is exported by the next exporter and counted as a redelivery, and
// the rows, bytes and parts counted are those of the job.
func TestRedeliveryIsCounted(t *testing.T) {
	svc, _ := seeded(t, 20_000, testenv.ServiceOptions{NoExporter: true})
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	quiet := slog.New(slog.DiscardHandler)
	pl := exporter.NewPlanner(svc.Bus, svc.Store, quiet)
	pl.PartRows = 2_000
	wg.Add(1)
	go func() { defer wg.Done(); _ = pl.Run(ctx) }()

	ticket := svc.Submit(t, "array_of_things", window)
	cons, err := svc.JS.Consumer(ctx, events.PartStream, events.ExporterName)
	if err != nil {
		t.Fatal(err)
	}
	var taken jetstream.Msg
	testenv.Eventually(t, 30*time.Second, "a partition queued", func() bool {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			taken = m
		}
		return taken != nil
	})
	if err := taken.Nak(); err != nil {
		t.Fatal(err)
	}

	reg := metrics.New()
	ex := exporter.NewExporter(svc.Bus, svc.Store, quiet)
	ex.Metrics = reg
	wg.Add(1)
	go func() { defer wg.Done(); _ = ex.Run(ctx) }()
	job := svc.Wait(t, ticket, time.Minute)
	if job.Status.Status != schema.StatusSuccess {
		t.Fatalf("got %q (%v), want success", job.Status.Status, job.Result)
	}
	res := job.Result.(map[string]any)
	for _, c := range []struct {
		name string
		want float64
	}{
		{"exportd_part_redeliveries_total", 1},
		{"exportd_exported_parts_total", res["parts"].(float64)},
		{"exportd_part_duration_seconds", res["parts"].(float64)},
		{"exportd_exported_rows_total", res["rows"].(float64)},
		{"exportd_exported_bytes_total", res["bytes"].(float64)},
	} {
		if got := gathered(t, reg, c.name); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
