package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// BenchmarkGetDownload times `exportd get --no-follow` of a finished CSV
// job of 1 M rows (10 parts), asked for as identity bytes or as s2, with
// the CPU seconds of the whole process per download: get, the gateway and
// the NATS server all run in it.
func BenchmarkGetDownload(b *testing.B) {
	svc := testenv.StartService(b, testenv.ServiceOptions{PartRows: 100_000})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	end := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), 1_000_000, end); err != nil {
		b.Fatal(err)
	}
	q := "data_type=csv&start_datetime=" + end.Add(-30*24*time.Hour).Format(schema.DatetimeLayout) + "&end_datetime=" + end.Format(schema.DatetimeLayout)
	ticket := svc.Submit(b, "array_of_things", q)
	if st := svc.Wait(b, ticket, 5*time.Minute).Status.Status; st != schema.StatusSuccess {
		b.Fatalf("job %s", st)
	}
	for _, s2 := range []bool{false, true} {
		b.Run(map[bool]string{false: "identity", true: "s2"}[s2], func(b *testing.B) {
			defer func(was bool) { askS2 = was }(askS2)
			askS2 = s2
			out := filepath.Join(b.TempDir(), "get.csv")
			cpu0 := cputime.Self().Seconds()
			for b.Loop() {
				if err := run(ctx, []string{"get", "--server", svc.URL, "--quiet", "--no-follow", "--ticket", ticket, "--output", out},
					func(string) string { return "" }, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cputime.Self().Seconds()-cpu0)/float64(b.N), "cpu-s/op")
		})
	}
}
