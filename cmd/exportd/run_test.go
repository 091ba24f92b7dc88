package main

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

var listenRE = regexp.MustCompile(`"http":"(http://[^"]+)"`)

// startServe runs `exportd serve` in the test process, as main would, and
// returns its base URL and a function that stops it and returns run's error.
func startServe(t *testing.T, env map[string]string) (string, func() error) {
	t.Helper()
	db := testenv.RandomName("exportd_test_")
	base := map[string]string{
		"EXPORTD_HTTP_ADDR": "127.0.0.1:0", "EXPORTD_NATS_LISTEN": "127.0.0.1:0", "EXPORTD_DATA_DIR": t.TempDir(),
		"EXPORTD_CLICKHOUSE_ADDR": testenv.ClickHouseAddr(), "EXPORTD_CLICKHOUSE_DB": db, "EXPORTD_DEMO_ROWS": "20000",
		"EXPORTD_LOG_FORMAT": "json",
	}
	for k, v := range env {
		base[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &testenv.LockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return base[k] }, out) }()
	var url string
	testenv.Eventually(t, 60*time.Second, "exportd listening", func() bool {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, out)
		default:
		}
		if m := listenRE.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			return true
		}
		return false
	})
	t.Cleanup(func() {
		cancel()
		<-done
		testenv.DropDatabase(t, db)
	})
	return url, func() error {
		cancel()
		select {
		case err := <-done:
			done <- err
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("run did not stop within 30s")
			return nil
		}
	}
}

// TestServe: the binary's own wiring serves the demo network, runs a job
// to success and shuts down cleanly when told.
func TestServe(t *testing.T) {
	url, stop := startServe(t, nil)
	code, body := testenv.Get(t, url+"/healthz")
	if code != 200 {
		t.Fatalf("healthz: got %d %s", code, body)
	}
	code, body = testenv.Get(t, url+"/v1/api/sensor-networks/array_of_things/download?features=temperature")
	if code != 200 {
		t.Fatalf("download: got %d %s", code, body)
	}
	var j schema.Job
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "job success", func() bool {
		_, body := testenv.Get(t, url+"/v1/api/jobs/"+j.Ticket)
		_ = json.Unmarshal(body, &j)
		return j.Status.Status == schema.StatusSuccess
	})
	if j.Status.Progress.Rows == 0 {
		t.Fatalf("got %d rows exported from the demo data, want some", j.Status.Progress.Rows)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: got %v, want nil after shutdown", err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"serve", "--replicas", "zero"}, {"serve", "--retention", "-1h"}} {
		if err := run(context.Background(), args, func(string) string { return "" }, &testenv.LockedBuffer{}); err == nil {
			t.Errorf("run %v: got nil, want an error", args)
		}
	}
}
