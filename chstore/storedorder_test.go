package chstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// storedRows reads q's window through OpenStoredSlice.
func storedRows(t *testing.T, s *chstore.Store, q *schema.Query, skip, take int64) ([]testenv.Obs, error) {
	t.Helper()
	out, _, err := storedRowsCoded(t, s, q, skip, take)
	return out, err
}

// storedRowsCoded is storedRows, saying whether the read was coded.
func storedRowsCoded(t *testing.T, s *chstore.Store, q *schema.Query, skip, take int64) ([]testenv.Obs, bool, error) {
	t.Helper()
	it, err := s.OpenStoredSlice(context.Background(), q, q.Start, q.End, skip, take)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := []testenv.Obs{}
	var r schema.Row
	for it.Next(&r) {
		out = append(out, testenv.Obs{Node: r.Node, TS: r.TS.UTC().Format("2006-01-02T15:04:05"), Sensor: r.Sensor,
			Feature: r.Feature, Property: r.Property, Value: r.Value})
	}
	return out, it.Coded(), it.Err()
}

// rawBatch is n rows of distinct keys from start on, a second apart, over
// three nodes and two properties in no sorted order.
func rawBatch(start time.Time, n int) []testenv.Obs {
	var rows []testenv.Obs
	for i := range n {
		rows = append(rows, testenv.Obs{Node: fmt.Sprintf("node-%d", 2-i%3), TS: start.Add(time.Duration(i/6) * time.Second).Format("2006-01-02T15:04:05"),
			Sensor: "s", Feature: "f", Property: []string{"y", "x"}[(i/3)%2], Value: float64(i)})
	}
	return rows
}

// TestStoredSliceOrder: a slice read in the table's order gives exactly
// the rows of the sorted read while its data parts follow each other in
// time; when a part inserted later holds earlier rows, the read ends with
// ErrOutOfOrder, never with rows out of order; a skip or take is read
// sorted.
func TestStoredSliceOrder(t *testing.T) {
	ctx := context.Background()
	s := testenv.MustOpenStore(t)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()}, Auth: clickhouse.Auth{Database: s.Database()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Parts stay as inserted: a merge would sort them into one.
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+s.Database()+".observations"); err != nil {
		t.Fatal(err)
	}
	q := rawQuery
	testenv.InsertRaw(t, s, "raw", rawBatch(q.Start, 90_000))                 // 15 000 s from the window's start
	testenv.InsertRaw(t, s, "raw", rawBatch(q.Start.Add(5*time.Hour), 6_000)) // the next part, later still
	sorted, err := iterRows(t, s, &q)
	if err != nil || len(sorted) != 96_000 {
		t.Fatalf("sorted read: %d rows, %v", len(sorted), err)
	}
	got, err := storedRows(t, s, &q, 0, 0)
	if err != nil {
		t.Fatalf("parts in time order: %v", err)
	}
	if len(got) != len(sorted) {
		t.Fatalf("got %d rows, want %d", len(got), len(sorted))
	}
	for i := range sorted {
		if got[i] != sorted[i] {
			t.Fatalf("row %d: got %+v, want %+v", i, got[i], sorted[i])
		}
	}

	// Late data: a part with rows before the others' last.
	testenv.InsertRaw(t, s, "raw", rawBatch(q.Start.Add(time.Hour), 600))
	got, err = storedRows(t, s, &q, 0, 0)
	if !errors.Is(err, chstore.ErrOutOfOrder) {
		t.Fatalf("overlapping parts: got %d rows and %v, want %v", len(got), err, chstore.ErrOutOfOrder)
	}
	sorted, err = iterRows(t, s, &q)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(got); i++ { // what came before the error was in order
		if got[i].TS < got[i-1].TS {
			t.Fatalf("row %d at %s after %s", i, got[i].TS, got[i-1].TS)
		}
	}
	got, err = storedRows(t, s, &q, 10, 500)
	if err != nil || len(got) != 500 || got[0] != sorted[10] || got[499] != sorted[509] {
		t.Fatalf("skip 10, take 500: %d rows, %v; want rows 10 to 509 of the sorted read", len(got), err)
	}
}
