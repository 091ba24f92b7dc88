package exporter_test

import (
	"encoding/json"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

func TestPagedPlan(t *testing.T) {
	t0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	hist := make([]chstore.Bucket, 10) // 10 buckets of 100 rows, an hour apart
	for i := range hist {
		hist[i] = chstore.Bucket{From: t0.Add(time.Duration(i) * time.Hour), Rows: 100}
	}
	tests := []struct {
		name             string
		limit, offset    int
		capped           bool
		wantRows, wantSk int64
		wantFrom, wantTo time.Time
	}{
		{name: "a limit inside the first bucket", limit: 30, capped: true, wantRows: 30, wantFrom: t0, wantTo: t0.Add(time.Hour)},
		{name: "an offset and a limit across buckets", limit: 250, offset: 150, capped: true, wantRows: 250, wantSk: 50,
			wantFrom: t0.Add(time.Hour), wantTo: t0.Add(4 * time.Hour)},
		{name: "an offset alone", offset: 920, wantRows: 80, wantSk: 20, wantFrom: t0.Add(9 * time.Hour), wantTo: t0.Add(10 * time.Hour)},
		{name: "a limit past the rows", limit: 5000, capped: true, wantRows: 1000, wantFrom: t0, wantTo: t0.Add(10 * time.Hour)},
		{name: "an offset past the rows", offset: 1000},
		{name: "a limit and an offset that overflow together", limit: math.MaxInt64, offset: 990, capped: true, wantRows: 10, wantSk: 90,
			wantFrom: t0.Add(9 * time.Hour), wantTo: t0.Add(10 * time.Hour)},
		{name: "limit 0", capped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := schema.Query{Start: t0, End: t0.Add(10 * time.Hour), Limit: tt.limit, Offset: tt.offset, LimitSet: tt.capped && tt.limit == 0}
			plan := exporter.PagedPlan(&q, hist, 120, 64)
			var rows int64
			for i, s := range plan {
				if s.Part != i+1 || s.Take != s.Estimate || s.Take <= 0 || (i > 0 && s.Skip != 0) {
					t.Fatalf("part %d: %+v", i+1, s)
				}
				rows += s.Take
			}
			if rows != tt.wantRows {
				t.Fatalf("got %d rows in %+v, want %d", rows, plan, tt.wantRows)
			}
			if rows == 0 {
				return
			}
			if len(plan) < 2 && rows > 120 {
				t.Errorf("got %d parts for %d rows, want parts of about 120", len(plan), rows)
			}
			if plan[0].Skip != tt.wantSk || !plan[0].From.Equal(tt.wantFrom) || !plan[len(plan)-1].To.Equal(tt.wantTo) {
				t.Errorf("got skip %d, [%v, %v), want %d, [%v, %v)", plan[0].Skip, plan[0].From, plan[len(plan)-1].To,
					tt.wantSk, tt.wantFrom, tt.wantTo)
			}
		})
	}
}

// TestFilteredPagedExport: a bulk export with a filter, a limit and an
// offset holds exactly the rows of the direct ClickHouse query with the
// same condition, ORDER BY and LIMIT; the job's total and the manifest
// agree with it.
func TestFilteredPagedExport(t *testing.T) {
	svc, _ := seeded(t, 100_000, testenv.ServiceOptions{PartRows: 400})
	const direct = `SELECT node_id, ts, sensor, feature, property, value FROM observations
		WHERE network = 'array_of_things' AND ts >= toDateTime('2026-09-24 00:00:00') AND ts < toDateTime('2026-10-01 00:00:00')
		AND (feature = 'temperature' AND value > 20 OR feature = 'magnetic_field' AND (node_id, ts, sensor) IN
			(SELECT node_id, ts, sensor FROM observations WHERE feature = 'magnetic_field' AND property = 'x' AND value < -0.5))
		ORDER BY ts, node_id, sensor, feature, property`
	filter := `{"op":"or","val":[{"op":"gt","prop":"temperature","val":20},{"op":"lt","prop":"magnetic_field.x","val":-0.5}]}`
	all := testenv.DirectRows(t, svc.Store, direct)
	if len(all) < 3000 {
		t.Fatalf("fixture too small: %d rows", len(all))
	}
	for _, tt := range []struct {
		name          string
		limit, offset string
		want          []testenv.Obs
	}{
		{name: "filter only", want: all},
		{name: "filter, limit and offset", limit: "1500", offset: "777", want: all[777 : 777+1500]},
		{name: "an offset into the last rows", offset: "2500", want: all[2500:]},
		{name: "limit 0", limit: "0", want: []testenv.Obs{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := url.Values{"features": {"temperature,magnetic_field"}, "filter": {filter}}
			if tt.limit != "" {
				v.Set("limit", tt.limit)
			}
			if tt.offset != "" {
				v.Set("offset", tt.offset)
			}
			ticket := svc.Submit(t, "array_of_things", window+"&"+v.Encode())
			job := svc.Wait(t, ticket, time.Minute)
			if job.Status.Status != schema.StatusSuccess {
				t.Fatalf("got status %q (%v), want success", job.Status.Status, job.Result)
			}
			if q := job.Request.Query; q.Filter == nil || q.Limit != atoi(tt.limit) || q.Offset != atoi(tt.offset) {
				t.Fatalf("the ticket echoes %+v, want the filter, limit %q and offset %q", q, tt.limit, tt.offset)
			}
			if p := job.Status.Progress; len(tt.want) > 1000 && (p == nil || p.Total < 2) {
				t.Fatalf("got progress %+v, want several parts", p)
			}
			resp := get(t, svc.URL+"/v1/api/datadump/"+ticket+"?data_type=csv")
			got := testenv.ParseCSV(t, resp.Body)
			resp.Body.Close()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d rows, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("row %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			if rows := job.Result.(map[string]any)["rows"]; len(tt.want) > 0 && rows != float64(len(tt.want)) {
				t.Errorf("the job says %v rows, want %d", rows, len(tt.want))
			}
			code, body := testenv.Get(t, svc.URL+"/v1/api/jobs/"+ticket+"/manifest")
			var m schema.Manifest
			if code != 200 || json.Unmarshal(body, &m) != nil || m.Rows != int64(len(tt.want)) {
				t.Errorf("manifest: got %d with %d rows, want 200 with %d", code, m.Rows, len(tt.want))
			}
			// The manifest's request asks for the same rows again.
			again, err := url.Parse(m.Request)
			if err != nil || again.Query().Get("filter") == "" || again.Query().Get("limit") != tt.limit || again.Query().Get("offset") != tt.offset {
				t.Errorf("manifest request %s (%v): want the filter, limit %q and offset %q", m.Request, err, tt.limit, tt.offset)
			}
		})
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
