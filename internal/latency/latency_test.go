package latency_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/latency"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := latency.Summarize(ds)
	want := latency.Stats{N: 100, Median: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := latency.Summarize(nil); got != (latency.Stats{}) {
		t.Errorf("empty: got %v", got)
	}
	if got := latency.Summarize([]time.Duration{7}); got.Median != 7 || got.P99 != 7 {
		t.Errorf("one: got %v", got)
	}
}

// Measure on a real export: samples on both paths, delays that are
// positive and well under a second on an idle loopback.
func TestMeasureARealJob(t *testing.T) {
	end := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	store := testenv.MustOpenStore(t)
	if err := store.Seed(context.Background(), chstore.DemoNetwork("array_of_things"), 30_000, end); err != nil {
		t.Fatal(err)
	}
	svc := testenv.StartService(t, testenv.ServiceOptions{Store: store, PartRows: 3_000})
	submit := func(ctx context.Context) (string, error) {
		u := fmt.Sprintf("%s/v1/api/sensor-networks/array_of_things/download?start_datetime=%s&end_datetime=%s",
			svc.URL, end.Add(-7*24*time.Hour).Format(schema.DatetimeLayout), end.Format(schema.DatetimeLayout))
		resp, err := http.Get(u)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var j schema.Job
		return j.Ticket, json.NewDecoder(resp.Body).Decode(&j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := latency.Measure(ctx, svc.Connect(t, svc.Auth.Subscriber), svc.URL, 3, submit)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SSE %s; NATS %s", r.SSE, r.NATS)
	if r.NATS.N < 5 {
		t.Errorf("got %d NATS samples, want one per event after queued (started, 10 part_done, succeeded)", r.NATS.N)
	}
	for _, s := range []latency.Stats{r.SSE, r.NATS} {
		if s.N > 0 && (s.Median <= 0 || s.Max > 10*time.Second) {
			t.Errorf("implausible delays %v", s)
		}
	}
}
