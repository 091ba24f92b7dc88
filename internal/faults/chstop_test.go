package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestClickHouseStopsPromptly: ClickHouse 18.16 stopped while exportd holds
// idle connections (a service's pool after a job, and a store's after
// queries on four connections at once) exits in seconds. Its idle
// connection handlers look at the shutdown only between waits of
// poll_interval, 10 s by default, and the stop took 12 s; our profile
// (deploy/clickhouse/users.xml) sets 1 s, and the stop takes about 3.
func TestClickHouseStopsPromptly(t *testing.T) {
	ch := startOwnClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := chstore.Open(ctx, chstore.Config{Addr: ch.addr, Database: "faults"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	seed(t, store, 20_000)
	svc := testenv.StartService(t, testenv.ServiceOptions{Store: store, PartRows: 5_000})
	mustSucceed(t, svc.URL, svc.Submit(t, network, everything), time.Minute)
	q := schema.Query{Network: network, Start: seedEnd.Add(-7 * 24 * time.Hour), End: seedEnd, AllNodes: true, AllSensors: true, AllFeatures: true}
	errs := make(chan error, 4)
	for range 4 {
		go func() { _, err := store.Histogram(ctx, &q, time.Hour); errs <- err }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	ch.run(t, "stop")
	if took := time.Since(start); took > 8*time.Second {
		t.Fatalf("ClickHouse took %s to stop, want under 8 s (the default poll_interval of 10 s makes it 12)", took.Round(100*time.Millisecond))
	} else {
		t.Logf("ClickHouse stopped in %s", took.Round(100*time.Millisecond))
	}
}
