package exporter_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
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

// TestExportOfANewName: a node loaded after a job has taught the exporter
// the network's names (so that it reads them as codes) is in the next
// job's download all the same, every row as ClickHouse sorts them, the
// part with it read again at once with its names spelt out.
func TestExportOfANewName(t *testing.T) {
	ctx := context.Background()
	var logs testenv.LockedBuffer
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 2000, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	n := chstore.DemoNetwork("fresh")
	if err := svc.Store.SaveNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	rows := func(from time.Time, nodes ...string) []testenv.Obs {
		var out []testenv.Obs
		for s := 0; s < 3000; s++ {
			for _, node := range nodes {
				out = append(out, testenv.Obs{Node: node, TS: from.Add(time.Duration(s) * time.Second).Format("2006-01-02T15:04:05"),
					Sensor: "tmp112", Feature: "temperature", Property: "temperature", Value: float64(s%97) / 4})
			}
		}
		return out
	}
	testenv.InsertRaw(t, svc.Store, "fresh", rows(end.Add(-3*time.Hour), n.Nodes[0].ID, n.Nodes[1].ID))
	for i, job := range []string{"first", "after a new node"} {
		// a window of its own, a second longer: the same request is the same job
		window := "start_datetime=" + end.Add(-3*time.Hour).Format(schema.DatetimeLayout) + "&end_datetime=" +
			end.Add(time.Duration(i)*time.Second).Format(schema.DatetimeLayout)
		if i == 1 { // later rows, a data part of its own after the others
			testenv.InsertRaw(t, svc.Store, "fresh", rows(end.Add(-time.Hour), n.Nodes[1].ID, "a node new"))
		}
		ticket := svc.Submit(t, "fresh", window)
		if got := svc.Wait(t, ticket, time.Minute); got.Status.Status != schema.StatusSuccess {
			t.Fatalf("%s job: got status %s (%v), want success", job, got.Status.Status, got.Result)
		}
		want := testenv.DirectRows(t, svc.Store, `SELECT node_id, ts, sensor, feature, property, value FROM observations
			WHERE network = 'fresh' ORDER BY ts, node_id, sensor, feature, property`)
		resp := get(t, svc.URL+"/v1/api/datadump/"+ticket+"?data_type=csv")
		got := testenv.ParseCSV(t, resp.Body)
		resp.Body.Close()
		if len(got) != len(want) || len(want) != 6000*(i+1) {
			t.Fatalf("%s job: got %d rows, ClickHouse %d, want %d", job, len(got), len(want), 6000*(i+1))
		}
		for k := range want {
			if got[k] != want[k] {
				t.Fatalf("%s job: row %d: got %+v, want %+v", job, k, got[k], want[k])
			}
		}
	}
	if l := logs.String(); !strings.Contains(l, "names spelt out") || strings.Contains(l, "level=ERROR") {
		t.Fatalf("got logs\n%s\nwant a part read again with its names spelt out, and no error", l)
	}
}
