package exporter_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestExportOfLateDataIsSorted: parts are read in the order the table
// stores them (no sort in ClickHouse); when data arrived late, in a data
// part of its own that overlaps the others in time, the download is still
// exactly ClickHouse's sorted rows, as CSV and as JSON.
func TestExportOfLateDataIsSorted(t *testing.T) {
	ctx := context.Background()
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 2000})
	n := chstore.DemoNetwork("late")
	if err := svc.Store.SaveNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()}, Auth: clickhouse.Auth{Database: svc.Store.Database()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Each insert stays a data part of its own: a merge would sort them.
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+svc.Store.Database()+".observations"); err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	insert := func(from time.Time, seconds, step int) {
		b, err := conn.PrepareBatch(ctx, "INSERT INTO observations (network, node_id, ts, sensor, feature, property, value)")
		if err != nil {
			t.Fatal(err)
		}
		for s := 0; s < seconds; s += step {
			for k := 2; k >= 0; k-- {
				if err := b.Append("late", n.Nodes[k].ID, from.Add(time.Duration(s)*time.Second), "tmp112", "temperature", "temperature", float64(s%97)/4); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	insert(end.Add(-2*time.Hour), 7200, 2)   // every other second of two hours
	insert(end.Add(-2*time.Hour+1), 7200, 2) // the seconds between, arriving late
	window := "start_datetime=" + end.Add(-3*time.Hour).Format(schema.DatetimeLayout) + "&end_datetime=" + end.Format(schema.DatetimeLayout)
	ticket := svc.Submit(t, "late", window)
	if job := svc.Wait(t, ticket, time.Minute); job.Status.Status != schema.StatusSuccess {
		t.Fatalf("got status %s (%v), want success", job.Status.Status, job.Result)
	}
	if job := svc.Job(t, ticket); job.Status.Progress == nil || job.Status.Progress.Total < 2 {
		t.Fatalf("got progress %+v, want the export in several parts", job.Status.Progress)
	}
	want := testenv.DirectRows(t, svc.Store, `SELECT node_id, ts, sensor, feature, property, value FROM observations
		WHERE network = 'late' ORDER BY ts, node_id, sensor, feature, property`)
	resp := get(t, svc.URL+"/v1/api/datadump/"+ticket+"?data_type=csv")
	got := testenv.ParseCSV(t, resp.Body)
	resp.Body.Close()
	if len(got) != len(want) || len(want) != 3*7200 {
		t.Fatalf("got %d rows, ClickHouse %d, want %d", len(got), len(want), 3*7200)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if resp, body := testenv.Do(t, http.MethodGet, svc.URL+"/v1/api/datadump/"+ticket+"?data_type=ndjson"); resp.StatusCode != http.StatusOK {
		t.Fatalf("NDJSON: got %d, want 200", resp.StatusCode)
	} else if values, err := testenv.ResultValues(body); err != nil || values != len(want) {
		t.Fatalf("NDJSON: got %d values (%v), want %d", values, err, len(want))
	}
}
