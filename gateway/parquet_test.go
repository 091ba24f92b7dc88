package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/duckdb"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// pqJob exports the datadump tests' demo rows with extra query arguments
// and waits for success.
func pqJob(t *testing.T, svc *testenv.Service, extra string) string {
	t.Helper()
	q := "start_datetime=" + ddSeedEnd.Add(-7*24*time.Hour).Format(schema.DatetimeLayout) +
		"&end_datetime=" + ddSeedEnd.Format(schema.DatetimeLayout) + extra
	ticket := svc.Submit(t, "array_of_things", q)
	if j := svc.Wait(t, ticket, time.Minute); j.Status.Status != schema.StatusSuccess {
		t.Fatalf("export ended %s: %+v", j.Status.Status, j.Result)
	}
	return ticket
}

// duckRows reads a Parquet file with DuckDB, in export order.
func duckRows(t *testing.T, path string) []testenv.Obs {
	t.Helper()
	rows := duckdb.Query(t, fmt.Sprintf(`SELECT node_id, epoch_us(datetime) AS us, sensor, feature, property, value
		FROM read_parquet('%s')`, path))
	out := make([]testenv.Obs, len(rows))
	for i, r := range rows {
		us, err := strconv.ParseInt(fmt.Sprint(r["us"]), 10, 64)
		if err != nil {
			t.Fatalf("row %d: datetime %v", i, r["us"])
		}
		v, _ := r["value"].(float64)
		out[i] = testenv.Obs{Node: r["node_id"].(string), TS: time.UnixMicro(us).UTC().Format(schema.DatetimeLayout),
			Sensor: r["sensor"].(string), Feature: r["feature"].(string), Property: r["property"].(string), Value: v}
	}
	return out
}

func sameObs(t *testing.T, what string, got, want []testenv.Obs) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, ClickHouse has %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: row %d is %+v, ClickHouse has %+v", what, i, got[i], want[i])
		}
	}
}

// A job submitted as Parquet downloads as one Parquet file that DuckDB
// reads with the rows ClickHouse holds, typed; the file has a length and
// byte ranges, footer first as readers ask; a CSV job is fetched as Parquet
// too, converted as it is sent.
func TestParquetDownload(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 2000})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), ddRows, ddSeedEnd); err != nil {
		t.Fatal(err)
	}
	want := testenv.DirectRows(t, svc.Store, `SELECT node_id, ts, sensor, feature, property, value FROM observations
		WHERE network = 'array_of_things' ORDER BY ts, node_id, sensor, feature, property`)
	if len(want) != ddRows {
		t.Fatalf("ClickHouse holds %d rows, want %d", len(want), ddRows)
	}
	dir := t.TempDir()

	ticket := pqJob(t, svc, "&data_type=parquet")
	dump := svc.URL + "/v1/api/datadump/" + ticket
	resp, file := testenv.Do(t, "GET", dump) // the job's own format
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/vnd.apache.parquet" ||
		resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Content-Length") != strconv.Itoa(len(file)) ||
		resp.Header.Get("Content-Disposition") != "attachment; filename=array_of_things.datadump.parquet" {
		t.Fatalf("GET %s: %d %v", dump, resp.StatusCode, resp.Header)
	}
	path := filepath.Join(dir, "stored.parquet")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	sameObs(t, "stored Parquet", duckRows(t, path), want)
	per := float64(len(file)) / ddRows
	t.Logf("Parquet: %d bytes, %.1f a row", len(file), per)
	if per > 12 {
		t.Errorf("%.1f bytes a row, want at most 12", per)
	}
	types := map[string]string{}
	for _, r := range duckdb.Query(t, fmt.Sprintf(`DESCRIBE SELECT * FROM read_parquet('%s')`, path)) {
		types[r["column_name"].(string)] = r["column_type"].(string)
	}
	for col, typ := range map[string]string{"node_id": "VARCHAR", "datetime": "TIMESTAMP WITH TIME ZONE", "meta_id": "DOUBLE",
		"sensor": "VARCHAR", "feature": "VARCHAR", "property": "VARCHAR", "value": "DOUBLE"} {
		if types[col] != typ {
			t.Errorf("column %s: %q, want %q", col, types[col], typ)
		}
	}

	// A reader's way: the last 8 bytes, the footer they name, then the rest.
	get := func(rng string) []byte {
		t.Helper()
		resp, body := testenv.Do(t, "GET", dump, "Range", rng)
		if resp.StatusCode != http.StatusPartialContent {
			t.Fatalf("Range %s: status %d", rng, resp.StatusCode)
		}
		return body
	}
	trailer := get("bytes=-8")
	if string(trailer[4:]) != "PAR1" || string(trailer) != string(file[len(file)-8:]) {
		t.Fatalf("last 8 bytes %q", trailer)
	}
	n := int(trailer[0]) | int(trailer[1])<<8 | int(trailer[2])<<16 | int(trailer[3])<<24
	footerAt := len(file) - 8 - n
	if got := get(fmt.Sprintf("bytes=%d-", footerAt)); string(got) != string(file[footerAt:]) {
		t.Fatalf("footer range: %d bytes differ from the file's", len(got))
	}
	mid := len(file) / 3
	if got := get(fmt.Sprintf("bytes=%d-%d", mid, footerAt-1)); string(got) != string(file[mid:footerAt]) {
		t.Fatalf("middle range differs from the file's")
	}

	// A CSV job, fetched as Parquet: converted as it is sent, same rows.
	csvTicket := pqJob(t, svc, "&data_type=csv")
	resp, conv := testenv.Do(t, "GET", svc.URL+"/v1/api/datadump/"+csvTicket+"?data_type=parquet")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Accept-Ranges") != "none" {
		t.Fatalf("converted Parquet: %d %v", resp.StatusCode, resp.Header)
	}
	cpath := filepath.Join(dir, "converted.parquet")
	if err := os.WriteFile(cpath, conv, 0o644); err != nil {
		t.Fatal(err)
	}
	sameObs(t, "converted Parquet", duckRows(t, cpath), want)

	// The Parquet job's CSV is the same rows as any job's.
	_, csvBody := testenv.Do(t, "GET", dump+"?data_type=csv")
	sameObs(t, "CSV of the Parquet job", testenv.ParseCSV(t, bytes.NewReader(csvBody)), want)
}

// The manifest of a Parquet job lists each part's Parquet file, with the
// digest of its bytes as stored, and offers Parquet with ranges.
func TestParquetManifest(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 2000})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), ddRows, ddSeedEnd); err != nil {
		t.Fatal(err)
	}
	ticket := pqJob(t, svc, "&data_type=parquet")
	var m schema.Manifest
	ddGetJSON(t, svc.URL+"/v1/api/jobs/"+ticket+"/manifest", &m)
	if len(m.Parts) < 2 {
		t.Fatalf("%d parts, want several", len(m.Parts))
	}
	for _, p := range m.Parts {
		r, err := svc.Bus.OpenPartParquet(ctx, ticket, p.Part)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if p.Parquet == nil || p.Parquet.Bytes != int64(len(b)) || p.Parquet.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("part %d: manifest says %+v, stored file has %d bytes, sha256 %x", p.Part, p.Parquet, len(b), sum)
		}
	}
	var offered bool
	for _, o := range m.Output {
		offered = offered || o.Format == schema.FormatParquet && o.Ranges && o.MediaType == "application/vnd.apache.parquet"
	}
	if !offered {
		t.Fatalf("manifest output %+v offers no ranged Parquet", m.Output)
	}
}
