package testenv

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/chstore"
)

// Obs is one observed value, the unit tests compare exports by.
type Obs struct {
	Node, TS, Sensor, Feature, Property string
	Value                               float64
}

// DirectRows runs a hand-written SELECT of (node_id, ts, sensor, feature,
// property, value) on the store's database over a connection of its own: the
// independent answer an export is checked against.
func DirectRows(tb testing.TB, s *chstore.Store, query string, args ...any) []Obs {
	tb.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ClickHouseAddr()}, Auth: clickhouse.Auth{Database: s.Database()}})
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query(context.Background(), query, args...)
	if err != nil {
		tb.Fatalf("direct query: %v", err)
	}
	defer rows.Close()
	out := []Obs{}
	for rows.Next() {
		var o Obs
		var ts time.Time
		if err := rows.Scan(&o.Node, &ts, &o.Sensor, &o.Feature, &o.Property, &o.Value); err != nil {
			tb.Fatal(err)
		}
		o.TS = ts.UTC().Format("2006-01-02T15:04:05")
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// ParseCSV reads an export's CSV: it checks the header and returns the rows.
func ParseCSV(tb testing.TB, r io.Reader) []Obs {
	tb.Helper()
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 6
	head, err := cr.Read()
	if err != nil {
		tb.Fatalf("csv header: %v", err)
	}
	if got := strings.Join(head, ","); got != "node_id,datetime,sensor,feature,property,value" {
		tb.Fatalf("csv header: got %q", got)
	}
	out := []Obs{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			tb.Fatalf("csv: %v", err)
		}
		v, err := strconv.ParseFloat(rec[5], 64)
		if err != nil {
			tb.Fatalf("csv value %q: %v", rec[5], err)
		}
		out = append(out, Obs{rec[0], rec[1], rec[2], rec[3], rec[4], v})
	}
}

// InsertRaw writes rows of network into the store's table as they are,
// over a connection of its own, past the loader's checks: names the
// loader would refuse or mend reach the table, for the readers to pass on
// whatever it holds.
func InsertRaw(tb testing.TB, s *chstore.Store, network string, rows []Obs) {
	tb.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ClickHouseAddr()}, Auth: clickhouse.Auth{Database: s.Database()}})
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	b, err := conn.PrepareBatch(context.Background(), "INSERT INTO observations (network, node_id, ts, sensor, feature, property, value)")
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range rows {
		ts, err := time.Parse("2006-01-02T15:04:05", r.TS)
		if err != nil {
			tb.Fatal(err)
		}
		if err := b.Append(network, r.Node, ts, r.Sensor, r.Feature, r.Property, r.Value); err != nil {
			tb.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		tb.Fatal(err)
	}
}
