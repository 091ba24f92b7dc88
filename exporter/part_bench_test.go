package exporter_test

import (
	"context"
	"io"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// benchRows is the size of the part the benchmarks export.
const benchRows = 200_000

// BenchmarkPartWrite is the exporter's hot path, one layer at a time, on a
// part of benchRows rows of the real ClickHouse:
//
//	scan:  the driver decodes rows into schema.Row (RowIter.Next)
//	csv:        scan + CSV encoding, discarded
//	csv+json:   scan + CSV and JSON fragment encoding, discarded
//	store:      scan + CSV, compressed into the JetStream object store of an
//	            embedded nats-server (file storage, 1 MiB chunks)
//	store+json: the same with the JSON fragment, as Exporter.export does it
//	stored/…:   scan and store+csv of the slice read as the exporter reads
//	            it, in the table's order (OpenStoredSlice), once a read
//	            has taught the store the names
//
// Each reports rows/s, allocs/row and B/row. Run with
//
//	go test ./exporter -run '^$' -bench PartWrite -benchtime 5x -cpuprofile cpu.out
func BenchmarkPartWrite(b *testing.B) {
	ctx := context.Background()
	store := testenv.MustOpenStore(b)
	n := chstore.DemoNetwork("array_of_things")
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := store.Seed(ctx, n, benchRows, end); err != nil {
		b.Fatal(err)
	}
	q, err := schema.ParseQuery(schema.Download, url.Values{"start_datetime": {"2025-12-20T00:00:00"},
		"end_datetime": {"2026-01-01T00:00:00"}}, n, end)
	if err != nil {
		b.Fatal(err)
	}
	opener := store.OpenRows
	open := func(b *testing.B) *chstore.RowIter {
		it, err := opener(ctx, &q, q.Start, q.End)
		if err != nil {
			b.Fatal(err)
		}
		return it
	}
	stored := func(ctx context.Context, q *schema.Query, from, to time.Time) (*chstore.RowIter, error) {
		return store.OpenStoredSlice(ctx, q, from, to, 0, 0)
	}
	check := func(b *testing.B, got int64) {
		if got != benchRows {
			b.Fatalf("got %d rows, want %d", got, benchRows)
		}
	}

	scan := func(b *testing.B) {
		perRow(b, func() {
			it := open(b)
			var r schema.Row
			var rows int64
			for it.Next(&r) {
				rows++
			}
			if err := it.Err(); err != nil {
				b.Fatal(err)
			}
			it.Close()
			check(b, rows)
		})
	}
	b.Run("scan", scan)
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			perRow(b, func() {
				it := open(b)
				sink := &discard{pq: result.NewParquetWriter(io.Discard)}
				rows, err := exporter.EncodePartForBench(it, sink, m.parquet, n.MetaIDs(nil))
				if err != nil {
					b.Fatal(err)
				}
				if err := sink.pq.Close(); err != nil {
					b.Fatal(err)
				}
				it.Close()
				check(b, rows)
			})
		})
	}
	ns := testenv.MustStartNATS(b)
	bus, err := events.Open(ctx, testenv.MustConnect(b, ns), events.Config{})
	if err != nil {
		b.Fatal(err)
	}
	storeCSV := func(m benchMode) func(b *testing.B) {
		return func(b *testing.B) {
			ticket := "0123456789abcdef0123456789abcdef"
			parts := 0
			perRow(b, func() {
				it := open(b)
				// A part of its own every time (a part stored whole is
				// never replaced), all deleted after the run.
				parts++
				w := bus.NewPartWriter(ctx, ticket, parts)
				if m.parquet {
					w.WithParquet()
				}
				rows, err := exporter.EncodePartForBench(it, w, m.parquet, n.MetaIDs(nil))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := w.Close(rows); err != nil {
					b.Fatal(err)
				}
				it.Close()
				check(b, rows)
			})
			if err := bus.DeleteParts(ctx, ticket, parts); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, m := range benchModes {
		b.Run("store+"+m.name, storeCSV(m))
	}
	opener = stored
	taught := false
	teach := func(b *testing.B) { // one read spelt out, before any is timed
		if !taught {
			it := open(b)
			var r schema.Row
			for it.Next(&r) {
			}
			it.Close()
			taught = true
		}
	}
	b.Run("stored/scan", func(b *testing.B) { teach(b); scan(b) })
	b.Run("stored/store+csv", func(b *testing.B) { teach(b); storeCSV(benchModes[0])(b) })
}

// benchModes are the stored forms a part is made in: CSV (its JSON size
// counted), with Parquet (a job submitted as Parquet).
var benchModes = []benchMode{{"csv", false}, {"csv+parquet", true}}

type benchMode struct {
	name    string
	parquet bool
}

// discard is a sink that keeps nothing; Parquet rows are still encoded.
type discard struct{ pq *result.ParquetWriter }

func (*discard) WriteCSV([]byte) error                    { return nil }
func (*discard) Rendered(int64, int64)                    {}
func (d *discard) WriteParquet(r result.ParquetRow) error { return d.pq.Append(r) }

// perRow runs one part per iteration and reports per-row figures. Wall
// time includes ClickHouse's share of the shared cores; cpu-ns/row is this
// process's CPU (user and system, every goroutine and the collector), the
// exporter's cost of a row whatever else runs on the machine.
func perRow(b *testing.B, part func()) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cputime.Self()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		part()
	}
	b.StopTimer()
	cpu := cputime.Self() - cpu0
	runtime.ReadMemStats(&after)
	rows := float64(benchRows) * float64(b.N)
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/rows, "cpu-ns/row")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/rows, "allocs/row")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/rows, "B/row")
}
