package chstore_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// iterRows reads every row of q's window through a RowIter.
func iterRows(t *testing.T, s *chstore.Store, q *schema.Query) ([]testenv.Obs, error) {
	t.Helper()
	it, err := s.OpenRows(context.Background(), q, q.Start, q.End)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []testenv.Obs{}
	var r schema.Row
	for it.Next(&r) {
		out = append(out, testenv.Obs{Node: r.Node, TS: r.TS.UTC().Format("2006-01-02T15:04:05"), Sensor: r.Sensor,
			Feature: r.Feature, Property: r.Property, Value: r.Value})
	}
	return out, it.Err()
}

var rawQuery = schema.Query{Network: "raw", Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	End: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), AllNodes: true, AllSensors: true, AllFeatures: true}

// TestRowIterReadsWhatTheDriverReads: the export reader returns exactly the
// rows, in the order, that clickhouse-go returns for the same query, over
// several blocks, with values that need quoting, multibyte text, empty
// strings, a value longer than the reader's buffer, and NaN and infinities.
func TestRowIterReadsWhatTheDriverReads(t *testing.T) {
	s := testenv.MustOpenStore(t)
	odd := []string{"", "a,b", `say "hi"`, "two\nlines", "crlf\r\n", "ünïcødé ✓", "tab\there", `back\slash`, "nul\x00byte"}
	values := []float64{0, -0.5, 1e300, math.NaN(), math.Inf(1), math.Inf(-1), 5e-324}
	var rows []testenv.Obs
	for i := range 150_000 { // more than two blocks of 65 536
		rows = append(rows, testenv.Obs{Node: odd[i%len(odd)] + "-n", TS: rawQuery.Start.Add(time.Duration(i%5000) * time.Second).Format("2006-01-02T15:04:05"),
			Sensor: odd[(i/3)%len(odd)], Feature: odd[(i/7)%len(odd)], Property: odd[(i/11)%len(odd)], Value: values[i%len(values)] + float64(i)})
		if i%40_000 == 0 { // longer than the reader's buffer
			rows[i].Feature = strings.Repeat("long", 100_000)
		}
	}
	testenv.InsertRaw(t, s, "raw", rows)
	sql, args := chstore.ExportSQL(&rawQuery, rawQuery.Start, rawQuery.End)
	want := testenv.DirectRows(t, s, sql, args...)
	got, err := iterRows(t, s, &rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) || len(want) != len(rows) {
		t.Fatalf("got %d rows, the driver %d, want %d", len(got), len(want), len(rows))
	}
	for i := range want {
		if !sameObs(got[i], want[i]) {
			t.Fatalf("row %d: got %.200v, want %.200v", i, got[i], want[i])
		}
	}

	// Abandoned after one row, then read again: the pooled block is whole.
	it, err := s.OpenRows(context.Background(), &rawQuery, rawQuery.Start, rawQuery.End)
	if err != nil {
		t.Fatal(err)
	}
	var r schema.Row
	if !it.Next(&r) {
		t.Fatalf("no first row: %v", it.Err())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := iterRows(t, s, &rawQuery)
	if err != nil || len(again) != len(got) || !sameObs(again[len(again)-1], got[len(got)-1]) {
		t.Fatalf("read again: %d rows, %v; want %d", len(again), err, len(got))
	}
}

// sameObs compares a and b, NaN equal to NaN.
func sameObs(a, b testenv.Obs) bool {
	if math.IsNaN(a.Value) && math.IsNaN(b.Value) {
		a.Value, b.Value = 0, 0
	}
	return reflect.DeepEqual(a, b)
}

// TestRowIterErrors: a query ClickHouse refuses is an internal error, a
// ClickHouse that is not there is unavailable, and a cancelled read stops
// with the context's error.
func TestRowIterErrors(t *testing.T) {
	ctx := context.Background()
	s := testenv.MustOpenStore(t)
	n := chstore.DemoNetwork("array_of_things")
	if err := s.Seed(ctx, n, 100_000, seedEnd); err != nil {
		t.Fatal(err)
	}
	q := schema.Query{Network: n.Name, Start: seedEnd.Add(-7 * 24 * time.Hour), End: seedEnd, AllNodes: true, AllSensors: true, AllFeatures: true}

	it, err := s.OpenRows(ctx, &q, q.Start, q.End)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cit, err := s.OpenRows(cctx, &q, q.Start, q.End)
	if err != nil {
		t.Fatal(err)
	}
	var r schema.Row
	if !cit.Next(&r) {
		t.Fatalf("no first row: %v", cit.Err())
	}
	cancel()
	rows := 1
	for cit.Next(&r) {
		rows++
	}
	if !errors.Is(cit.Err(), context.Canceled) || rows >= 100_000 {
		t.Fatalf("cancelled: %d rows, %v; want fewer than 100000 and context.Canceled", rows, cit.Err())
	}
	cit.Close()
	// The other read, started before, is not disturbed.
	rows = 0
	for it.Next(&r) {
		rows++
	}
	if it.Err() != nil || rows != 100_000 {
		t.Fatalf("got %d rows, %v; want 100000", rows, it.Err())
	}

	dropped := testenv.MustOpenStore(t)
	if err := dropped.DropDatabase(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := iterRows(t, dropped, &q); schema.ErrorCode(err) != schema.Internal || !strings.Contains(err.Error(), "ClickHouse query failed") {
		t.Fatalf("no database: got %v (%v), want Internal", schema.ErrorCode(err), err)
	}

	p := testenv.MustStartProxy(t, testenv.ClickHouseAddr())
	cut, err := chstore.Open(ctx, chstore.Config{Addr: p.Addr, Database: s.Database()})
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Close()
	p.Cut()
	if _, err := iterRows(t, cut, &q); schema.ErrorCode(err) != schema.Unavailable {
		t.Fatalf("ClickHouse gone: got %v (%v), want Unavailable", schema.ErrorCode(err), err)
	}
}
