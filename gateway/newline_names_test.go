package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/testenv"
)

// odd names a node, sensor, feature or property of ClickHouse may have:
// line breaks, quotes and commas, which the stored CSV quotes.
var oddNames = []string{"a\nb", "c\r\nd", `e"f`, "g,h", "i\rj", "\n"}

// insertOdd inserts rows named by oddNames into the test database
// directly, a few readings in the last hour of the seeded week.
func insertOdd(t *testing.T, s *chstore.Store) {
	t.Helper()
	rows := make([]testenv.Obs, 60)
	for i := range rows {
		ts := ddSeedEnd.Add(-time.Hour + time.Duration(i/6)*time.Second)
		rows[i] = testenv.Obs{Node: oddNames[i%len(oddNames)], TS: ts.UTC().Format("2006-01-02T15:04:05"),
			Sensor: oddNames[(i+1)%len(oddNames)], Feature: oddNames[(i+2)%len(oddNames)],
			Property: oddNames[(i+3)%len(oddNames)], Value: float64(i) / 4}
	}
	testenv.InsertRaw(t, s, "array_of_things", rows)
}

// Names with line breaks, quotes and commas download in every format,
// each read by a standard parser as ClickHouse holds them; JSON's length
// is its bytes' and a range of it is its slice.
func TestNewlineNamesDownload(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 2000})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), 3000, ddSeedEnd); err != nil {
		t.Fatal(err)
	}
	insertOdd(t, svc.Store)
	want := testenv.DirectRows(t, svc.Store, `SELECT node_id, ts, sensor, feature, property, value FROM observations
		WHERE network = 'array_of_things' ORDER BY ts, node_id, sensor, feature, property`)
	ticket := pqJob(t, svc, "&data_type=csv")
	dump := svc.URL + "/v1/api/datadump/" + ticket

	_, csvBody := testenv.Do(t, "GET", dump)
	if !bytes.Contains(csvBody, []byte("\"c\r\nd\"")) {
		t.Fatalf("CSV lacks the quoted name \"c\\r\\nd\"")
	}
	// encoding/csv reads a quoted "\r\n" as "\n" (golang/go#21201).
	csvWant := make([]testenv.Obs, len(want))
	for i, o := range want {
		r := strings.NewReplacer("\r\n", "\n").Replace
		csvWant[i] = testenv.Obs{Node: r(o.Node), TS: o.TS, Sensor: r(o.Sensor), Feature: r(o.Feature), Property: r(o.Property), Value: o.Value}
	}
	sameObs(t, "CSV", testenv.ParseCSV(t, bytes.NewReader(csvBody)), csvWant)

	resp, js := testenv.Do(t, "GET", dump+"?data_type=json")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != strconv.Itoa(len(js)) {
		t.Fatalf("JSON: %d, Content-Length %q for %d bytes", resp.StatusCode, resp.Header.Get("Content-Length"), len(js))
	}
	if !bytes.Contains(js, []byte(`"c\r\nd"`)) {
		t.Fatalf("JSON lacks the escaped name \"c\\r\\nd\"")
	}
	sameObs(t, "JSON", jsonObs(t, js), want)
	lo, hi := len(js)/3, len(js)-7
	resp, part := testenv.Do(t, "GET", dump+"?data_type=json", "Range", fmt.Sprintf("bytes=%d-%d", lo, hi))
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, js[lo:hi+1]) {
		t.Fatalf("JSON range: %d, %d bytes, want the slice's %d", resp.StatusCode, len(part), hi+1-lo)
	}

	_, nd := testenv.Do(t, "GET", dump+"?data_type=ndjson")
	var ndObs []testenv.Obs
	for _, line := range strings.Split(strings.TrimSuffix(string(nd), "\n"), "\n") {
		ndObs = append(ndObs, jsonObs(t, []byte("["+line+"]"))...)
	}
	sameObs(t, "NDJSON", ndObs, want)

	// Parts cut into small chunks rendered on every core: cut between
	// readings, never at a name's line break.
	defer gateway.SetRenderChunk(300)()
	for format, whole := range map[string][]byte{"json": js, "ndjson": nd} {
		if _, got := testenv.Do(t, "GET", dump+"?data_type="+format); !bytes.Equal(got, whole) {
			t.Fatalf("%s in 300-byte chunks: %d bytes differ from the whole part's %d", format, len(got), len(whole))
		}
	}

	_, pq := testenv.Do(t, "GET", dump+"?data_type=parquet")
	path := filepath.Join(t.TempDir(), "odd.parquet")
	if err := os.WriteFile(path, pq, 0o644); err != nil {
		t.Fatal(err)
	}
	sameObs(t, "Parquet", duckRows(t, path), want)
}

// jsonObs decodes Plenario observations with encoding/json, one Obs a
// result.
func jsonObs(t *testing.T, data []byte) []testenv.Obs {
	t.Helper()
	var doc struct {
		Data []struct {
			Node, Datetime, Sensor, Feature string
			Results                         map[string]float64
		}
	}
	var list []struct {
		Node, Datetime, Sensor, Feature string
		Results                         map[string]float64
	}
	if err := json.Unmarshal(data, &list); err != nil {
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("JSON: %v in %.200q", err, data)
		}
		list = doc.Data
	}
	var out []testenv.Obs
	for _, o := range list {
		props := make([]string, 0, len(o.Results))
		for p := range o.Results {
			props = append(props, p)
		}
		slices.Sort(props) // the order of the direct query's
		for _, p := range props {
			out = append(out, testenv.Obs{Node: o.Node, TS: o.Datetime, Sensor: o.Sensor, Feature: o.Feature, Property: p, Value: o.Results[p]})
		}
	}
	return out
}
