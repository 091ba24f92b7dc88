package exporter_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

var seedEnd = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

const window = "start_datetime=2026-09-24T00:00:00&end_datetime=2026-10-01T00:00:00"

func seeded(t *testing.T, rows int64, o testenv.ServiceOptions) (*testenv.Service, *schema.Network) {
	t.Helper()
	svc := testenv.StartService(t, o)
	n := chstore.DemoNetwork("array_of_things")
	if err := svc.Store.Seed(context.Background(), n, rows, seedEnd); err != nil {
		t.Fatal(err)
	}
	return svc, n
}

// TestExportMatchesClickHouse is the foundation's promise: what a filtered
// export downloads is, row for row, what ClickHouse holds for that filter.
func TestExportMatchesClickHouse(t *testing.T) {
	svc, n := seeded(t, 200_000, testenv.ServiceOptions{PartRows: 300})
	nodes := []string{n.Nodes[1].ID, n.Nodes[42].ID, n.Nodes[77].ID}
	q := url.Values{}
	q.Set("features", "temperature,magnetic_field.z")
	q.Set("nodes", strings.Join(nodes, ","))
	q.Set("sensors", "htu21d,hmc5883l,tmp112")
	q.Set("start_datetime", "2026-09-26T06:00:00")
	q.Set("end_datetime", "2026-09-29T18:30:00")
	q.Set("data_type", "csv") // named at submit: the result link says so
	ticket := svc.Submit(t, "array_of_things", q.Encode())
	job := svc.Wait(t, ticket, time.Minute)
	if job.Status.Status != schema.StatusSuccess {
		t.Fatalf("got status %q (%v), want success", job.Status.Status, job.Result)
	}
	if job.Status.Progress == nil || job.Status.Progress.Total < 2 || job.Status.Progress.Done != job.Status.Progress.Total {
		t.Fatalf("got progress %+v, want several parts, all done", job.Status.Progress)
	}
	res := job.Result.(map[string]any)
	dump := svc.URL + "/v1/api/datadump/" + ticket
	if wantURL := dump + "?data_type=csv"; res["url"] != wantURL {
		t.Fatalf("got result url %v, want %s", res["url"], wantURL)
	}

	want := testenv.DirectRows(t, svc.Store, `SELECT node_id, ts, sensor, feature, property, value FROM observations
		WHERE network = 'array_of_things' AND ts >= toDateTime('2026-09-26 06:00:00') AND ts < toDateTime('2026-09-29 18:30:00')
		AND node_id IN (?, ?, ?) AND sensor IN ('htu21d', 'hmc5883l', 'tmp112')
		AND (feature = 'temperature' OR (feature = 'magnetic_field' AND property = 'z'))
		ORDER BY ts, node_id, sensor, feature, property`, nodes[0], nodes[1], nodes[2])
	if len(want) < 1000 {
		t.Fatalf("fixture too small: %d rows", len(want))
	}

	resp := get(t, res["url"].(string))
	if cd := resp.Header.Get("Content-Disposition"); cd != "attachment; filename=array_of_things.datadump.csv" {
		t.Fatalf("got Content-Disposition %q", cd)
	}
	got := testenv.ParseCSV(t, resp.Body)
	resp.Body.Close()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: got %+v, want %+v", i, got[i], want[i])
		}
	}

	// JSON: the same values, grouped into Plenario observations, in
	// Plenario's envelope.
	resp = get(t, dump+"?data_type=json")
	var env struct{ Data []schema.Observation }
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("json download is not valid JSON: %v", err)
	}
	resp.Body.Close()
	obs := env.Data
	var flat []testenv.Obs
	for _, o := range obs {
		props := make([]string, 0, len(o.Results))
		for p := range o.Results {
			props = append(props, p)
		}
		sort.Strings(props)
		for _, p := range props {
			flat = append(flat, testenv.Obs{Node: o.Node, TS: o.Datetime, Sensor: o.Sensor, Feature: o.Feature, Property: p, Value: o.Results[p]})
		}
	}
	if !reflect.DeepEqual(flat, want) {
		t.Fatalf("json rows differ from ClickHouse: got %d values, want %d", len(flat), len(want))
	}
}

func get(t *testing.T, u string) *http.Response {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: got %d, want 200", u, resp.StatusCode)
	}
	return resp
}

// TestEmptyExportSucceeds: an export that matches nothing succeeds with a
// header-only CSV and an envelope of no data (the original never finished).
func TestEmptyExportSucceeds(t *testing.T) {
	svc, _ := seeded(t, 5_000, testenv.ServiceOptions{})
	ticket := svc.Submit(t, "array_of_things", "features=temperature&start_datetime=2020-01-01&end_datetime=2020-01-02")
	job := svc.Wait(t, ticket, 30*time.Second)
	if job.Status.Status != schema.StatusSuccess {
		t.Fatalf("got status %q, want success", job.Status.Status)
	}
	_, body := testenv.Get(t, svc.URL+"/v1/api/datadump/"+ticket+"?data_type=csv")
	if string(body) != schema.CSVHeader {
		t.Fatalf("got %q, want the header alone", body)
	}
	_, body = testenv.Get(t, svc.URL+"/v1/api/datadump/"+ticket+"?data_type=json")
	var env struct{ Data *[]schema.Observation }
	if err := json.Unmarshal(body, &env); err != nil || env.Data == nil || len(*env.Data) != 0 || !strings.HasPrefix(string(body), `{"data":[],"startTime":`) {
		t.Fatalf("got %q (%v), want an envelope with data []", body, err)
	}
	if _, body = testenv.Get(t, svc.URL+"/v1/api/datadump/"+ticket+"?data_type=ndjson"); len(body) != 0 {
		t.Fatalf("got NDJSON %q, want nothing", body)
	}
}

// TestBadRequestsAreRefusedAtSubmit: names that name nothing are a 400 in
// Plenario's shape before any ticket exists.
func TestBadRequestsAreRefusedAtSubmit(t *testing.T) {
	svc, _ := seeded(t, 1_000, testenv.ServiceOptions{})
	tests := []struct {
		name, path string
		want       map[string][]string
	}{
		{"unknown network", "/v1/api/sensor-networks/nowhere/download", map[string][]string{"network": {"Invalid network name: nowhere"}}},
		{"unknown feature", "/v1/api/sensor-networks/array_of_things/download?features=temperature,bogus",
			map[string][]string{"features": {"Invalid feature of interest name: bogus"}}},
		{"unknown property", "/v1/api/sensor-networks/array_of_things/download?features=temperature.bogus",
			map[string][]string{"features": {"Invalid feature of interest name: temperature.bogus"}}},
		{"bad datetime and filter", "/v1/api/sensor-networks/array_of_things/download?start_datetime=soon&colour=red",
			map[string][]string{"start_datetime": {"Not a valid datetime."}, "colour": {"Not a valid filter"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := testenv.Get(t, svc.URL+tt.path)
			if code != 400 {
				t.Fatalf("got %d %s, want 400", code, body)
			}
			var e struct {
				Meta  struct{ Query map[string]string } `json:"meta"`
				Error map[string][]string               `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(e.Error, tt.want) {
				t.Fatalf("got error %v, want %v", e.Error, tt.want)
			}
		})
	}
	code, body := testenv.Get(t, svc.URL+"/v1/api/jobs/"+strings.Repeat("ab", 16))
	if code != 404 || !strings.Contains(string(body), `"error":"Job not found."`) {
		t.Fatalf("unknown ticket: got %d %s, want 404 Job not found.", code, body)
	}
}

// TestDataTypeChosenAtSubmit: the format named at submit is echoed in the
// ticket and is what the result link serves unless the download names
// another.
func TestDataTypeChosenAtSubmit(t *testing.T) {
	svc, _ := seeded(t, 5_000, testenv.ServiceOptions{})
	code, body := testenv.Get(t, svc.URL+"/v1/api/sensor-networks/array_of_things/download?features=temperature&data_type=xml")
	if code != 400 || !strings.Contains(string(body), `"data_type":["Must be one of: csv, json, ndjson, parquet."]`) {
		t.Fatalf("data_type=xml: got %d %s, want 400 on data_type", code, body)
	}
	ticket := svc.Submit(t, "array_of_things", "features=temperature&data_type=NDJSON&"+window)
	j := svc.Wait(t, ticket, 30*time.Second)
	if j.Status.Status != schema.StatusSuccess || j.Request.Query.DataType != schema.FormatNDJSON {
		t.Fatalf("got status %q data_type %q, want success ndjson", j.Status.Status, j.Request.Query.DataType)
	}
	resp := get(t, svc.URL+"/v1/api/datadump/"+ticket)
	resp.Body.Close()
	if cd := resp.Header.Get("Content-Disposition"); cd != "attachment; filename=array_of_things.datadump.ndjson" {
		t.Fatalf("default download: got Content-Disposition %q, want the ndjson file", cd)
	}
	resp = get(t, svc.URL+"/v1/api/datadump/"+ticket+"?data_type=csv")
	resp.Body.Close()
	if cd := resp.Header.Get("Content-Disposition"); cd != "attachment; filename=array_of_things.datadump.csv" {
		t.Fatalf("csv download: got Content-Disposition %q", cd)
	}
}

// TestWideWindowIsCutEvenly: asking for everything (a window of decades
// around days of data) is cut into parts as even as a tight window's, not
// one part of every row, and the parts hold exactly what ClickHouse does.
func TestWideWindowIsCutEvenly(t *testing.T) {
	const rows, partRows = 200_000, 20_000
	svc, _ := seeded(t, rows, testenv.ServiceOptions{PartRows: partRows})
	ticket := svc.Submit(t, "array_of_things", "start_datetime=2000-01-01&end_datetime=2040-01-01")
	job := svc.Wait(t, ticket, time.Minute)
	if job.Status.Status != schema.StatusSuccess || job.Status.Progress == nil {
		t.Fatalf("got %+v, want success", job.Status)
	}
	if p := job.Status.Progress; p.Total < rows/partRows/2 || p.Rows != rows {
		t.Fatalf("%d rows in %d parts, want %d rows in about %d", p.Rows, p.Total, rows, rows/partRows)
	}
	var m schema.Manifest
	code, body := testenv.Get(t, svc.URL+"/v1/api/jobs/"+ticket+"/manifest")
	if code != 200 || json.Unmarshal(body, &m) != nil {
		t.Fatalf("manifest: %d %s", code, body)
	}
	for _, p := range m.Parts {
		if p.Rows > 2*partRows {
			t.Errorf("part %d holds %d rows, want about %d", p.Part, p.Rows, partRows)
		}
	}
}
