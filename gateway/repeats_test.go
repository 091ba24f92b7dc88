package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// repeatEnd is the end of the data with readings that share a second.
var repeatEnd = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)

// insertRepeats stores, for 3 nodes over 300 seconds, readings that share
// a second as real sensors report them: the temperature twice (two
// values), the magnetic field with x twice, and one plain humidity. It
// returns the rows ClickHouse holds, counted directly.
func insertRepeats(t *testing.T, svc *testenv.Service) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := chstore.DemoNetwork("repeats")
	if err := svc.Store.SaveNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()}, Auth: clickhouse.Auth{Database: svc.Store.Database()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	b, err := conn.PrepareBatch(ctx, "INSERT INTO observations (network, node_id, ts, sensor, feature, property, value)")
	if err != nil {
		t.Fatal(err)
	}
	add := func(node string, ts time.Time, sensor, feature, prop string, v float64) {
		if err := b.Append("repeats", node, ts, sensor, feature, prop, v); err != nil {
			t.Fatal(err)
		}
	}
	for s := range 300 {
		ts := repeatEnd.Add(-time.Duration(300-s) * time.Second)
		for k := range 3 {
			node := n.Nodes[k].ID
			add(node, ts, "tmp112", "temperature", "temperature", 14.11+float64(s%7))
			add(node, ts, "tmp112", "temperature", "temperature", 21.54+float64(s%5))
			add(node, ts, "hmc5883l", "magnetic_field", "x", float64(s))
			add(node, ts, "hmc5883l", "magnetic_field", "x", float64(-s))
			add(node, ts, "hmc5883l", "magnetic_field", "y", 0.5)
			add(node, ts, "hmc5883l", "magnetic_field", "z", 0.25)
			add(node, ts, "htu21d", "relative_humidity", "humidity", 40)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	var count uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM observations WHERE network = 'repeats'").Scan(&count); err != nil {
		t.Fatal(err)
	}
	return int(count)
}

// Every format carries every reading that shares a second with another of
// its property, and its JSON reads strictly (no key twice in an object):
// the CSV (a line per value), the JSON download and its NDJSON, rendered
// from the CSV across parts, and /query.
func TestReadingsThatShareASecond(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 1000})
	want := insertRepeats(t, svc)
	window := "start_datetime=" + repeatEnd.Add(-time.Hour).Format(schema.DatetimeLayout) +
		"&end_datetime=" + repeatEnd.Format(schema.DatetimeLayout)
	ticket := svc.Submit(t, "repeats", window)
	if job := svc.Wait(t, ticket, time.Minute); job.Status.Status != schema.StatusSuccess {
		t.Fatalf("got status %s (%v), want success", job.Status.Status, job.Result)
	}
	if job := svc.Job(t, ticket); job.Status.Progress == nil || job.Status.Progress.Total < 2 {
		t.Fatalf("got progress %+v, want the export in several parts", job.Status.Progress)
	}
	dump := svc.URL + "/v1/api/datadump/" + ticket
	for _, format := range []string{schema.FormatCSV, schema.FormatJSON, schema.FormatNDJSON} {
		resp, body := testenv.Do(t, "GET", dump+"?data_type="+format)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: got status %d, want 200: %.300s", format, resp.StatusCode, body)
		}
		got := bytes.Count(body, []byte("\n")) - 1 // CSV: the lines past the header
		if format != schema.FormatCSV {
			var err error
			if got, err = testenv.ResultValues(body); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
		}
		if got != want {
			t.Errorf("%s: got %d values, want %d, as ClickHouse counts them", format, got, want)
		}
	}
	code, body := testenv.Get(t, svc.URL+"/v1/api/sensor-networks/repeats/query?feature=temperature&limit=10000&"+window)
	if code != http.StatusOK {
		t.Fatalf("/query: got %d %.300s, want 200", code, body)
	}
	got, err := testenv.ResultValues(body)
	if err != nil {
		t.Fatalf("/query: %v", err)
	}
	if wantTemp := want * 2 / 7; got != wantTemp {
		t.Errorf("/query: got %d temperature values, want %d", got, wantTemp)
	}
}
