package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/aot"
	"github.com/plenario-next/exportd/aot/aottest"
	"github.com/plenario-next/exportd/internal/testenv"
)

// runLoad runs `exportd load --json` into db as main would.
func runLoad(t *testing.T, db string, args ...string) (loadReport, error) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := map[string]string{"EXPORTD_CLICKHOUSE_ADDR": testenv.ClickHouseAddr(), "EXPORTD_CLICKHOUSE_DB": db}
	err := run(ctx, append([]string{"load", "--json"}, args...), func(k string) string { return env[k] }, &out)
	var r loadReport
	if err == nil {
		if jerr := json.Unmarshal(out.Bytes(), &r); jerr != nil {
			t.Fatalf("--json printed %q: %v", out.String(), jerr)
		}
	}
	return r, err
}

// wantSkipped is the skip counts of the quirk digest.
func wantSkipped(alreadyLoaded int64) map[string]int64 {
	c := aottest.QuirkCounts()
	return map[string]int64{"malformed": c.Malformed, "already_loaded": alreadyLoaded, "unknown_node": c.UnknownNode,
		"unknown_sensor": c.UnknownSensor, "na": c.NA, "not_numeric": c.NotNumeric, "duplicate": c.Duplicate, "out_of_order": 0}
}

func quirkObs() []testenv.Obs {
	var out []testenv.Obs
	for _, r := range aottest.QuirkRows() {
		out = append(out, testenv.Obs{Node: r.Node, TS: r.TS, Sensor: r.Sensor, Feature: r.Feature, Property: r.Property, Value: r.Value})
	}
	return sortedObs(out)
}

const loadedSelect = "SELECT node_id, ts, sensor, feature, property, value FROM observations WHERE network = 'aot_chicago'"

// TestLoad loads the quirk digest, checks what was stored and skipped, the
// metadata through the API and an export against ClickHouse, then loads it
// again.
func TestLoad(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 2})
	dir, err := aottest.Digest{Data: aottest.Gzip(aottest.QuirkLines())}.WriteDir(filepath.Join(t.TempDir(), aottest.Folder))
	if err != nil {
		t.Fatal(err)
	}
	r, err := runLoad(t, svc.Store.Database(), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := quirkObs()
	if r.Network != "aot_chicago" || r.Lines != int64(len(aottest.Quirks)) || r.Loaded != int64(len(want)) ||
		!reflect.DeepEqual(r.Skipped, wantSkipped(0)) || r.LoadedUntil != "2018-04-01T00:00:04" {
		t.Fatalf("got report %+v, want %d lines, %d loaded, skipped %v, loaded until 2018-04-01T00:00:04", r, len(aottest.Quirks), len(want), wantSkipped(0))
	}
	if got := sortedObs(testenv.DirectRows(t, svc.Store, loadedSelect)); !reflect.DeepEqual(got, want) {
		t.Fatalf("ClickHouse holds\n%v\nwant\n%v", got, want)
	}

	t.Run("metadata", func(t *testing.T) {
		api := svc.URL + "/v1/api/sensor-networks/aot_chicago"
		var node struct {
			Data []struct {
				Geometry struct {
					Coordinates []float64 `json:"coordinates"`
				} `json:"geometry"`
				Properties struct {
					ID, Address string
					Sensors     []string
					Info        map[string]any
				} `json:"properties"`
			} `json:"data"`
		}
		getOK(t, api+"/nodes/001e0610ba46", &node)
		p := node.Data[0].Properties
		if len(node.Data) != 1 || !reflect.DeepEqual(node.Data[0].Geometry.Coordinates, []float64{-87.627678, 41.878377}) ||
			p.Address != "State St & Jackson Blvd Chicago IL" || p.Info["vsn"] != "004" || p.Info["start_timestamp"] != "2017-10-09T00:00:00" ||
			!reflect.DeepEqual(p.Sensors, []string{"metsense.htu21d", "wagman.htu21d"}) {
			t.Errorf("got node %+v", node)
		}
		var sensor struct {
			Data []struct {
				Name       string
				Properties []string
				Info       map[string]any
			} `json:"data"`
		}
		getOK(t, api+"/sensors/wagman.htu21d", &sensor)
		if len(sensor.Data) != 1 || sensor.Data[0].Info["subsystem"] != "wagman" ||
			!reflect.DeepEqual(sensor.Data[0].Properties, []string{"humidity.humidity", "temperature.temperature"}) {
			t.Errorf("got sensor %+v", sensor)
		}
		var feature struct {
			Data []struct {
				Name       string
				Properties []map[string]any
			} `json:"data"`
		}
		getOK(t, api+"/features/magnetic_field", &feature)
		if len(feature.Data) != 1 || len(feature.Data[0].Properties) != 3 || feature.Data[0].Properties[0]["name"] != "magnetic_field_x" ||
			feature.Data[0].Properties[0]["unit"] != "mG" {
			t.Errorf("got feature %+v", feature)
		}
	})

	t.Run("export", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "aot.csv")
		err, lines := runGet(t, svc.URL, "--network", "aot_chicago", "--start", "2018-03-31", "--end", "2018-04-02", "--output", file)
		if err != nil {
			t.Fatalf("get: %v (%v)", err, lastEvent(lines))
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := sortedObs(testenv.ParseCSV(t, f)); !reflect.DeepEqual(got, want) {
			t.Errorf("the export holds\n%v\nwant\n%v", got, want)
		}
	})

	t.Run("again", func(t *testing.T) {
		r, err := runLoad(t, svc.Store.Database(), dir)
		if err != nil {
			t.Fatal(err)
		}
		// Everything with a readable timestamp is before the checkpoint now.
		c := aottest.QuirkCounts()
		if r.Loaded != 0 || r.Skipped["already_loaded"] != c.Lines-c.Malformed {
			t.Errorf("second load: %+v, want nothing loaded", r)
		}
		if n := len(testenv.DirectRows(t, svc.Store, loadedSelect)); n != len(want) {
			t.Errorf("after the second load ClickHouse holds %d rows, want %d", n, len(want))
		}
	})
}

func getOK(t *testing.T, u string, v any) {
	t.Helper()
	code, body := testenv.Get(t, u)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// TestLoadForms loads the tar (data entry first), the tar (last) and the
// lone data.csv.gz, and fails clearly on broken digests.
func TestLoadForms(t *testing.T) {
	tmp := t.TempDir()
	d := aottest.Digest{Data: aottest.Gzip(aottest.QuirkLines())}
	dir, err := d.WriteDir(filepath.Join(tmp, "dir"))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := d.WriteTar(filepath.Join(tmp, "first.tar"), true)
	last, _ := d.WriteTar(filepath.Join(tmp, "last.tar"), false)
	for _, path := range []string{first, last, filepath.Join(dir, aot.DataFile)} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			s := testenv.MustOpenStore(t)
			r, err := runLoad(t, s.Database(), "--network", "chicago", path)
			if err != nil {
				t.Fatal(err)
			}
			if r.Network != "chicago" || r.Loaded != int64(len(aottest.QuirkRows())) || !reflect.DeepEqual(r.Skipped, wantSkipped(0)) {
				t.Errorf("got %+v", r)
			}
		})
	}

	noNodes, _ := aottest.Digest{Data: d.Data, Skip: map[string]bool{aot.NodesFile: true}}.WriteDir(filepath.Join(tmp, "nonodes"))
	badGzip, _ := aottest.Digest{Data: []byte("2018/03/31 23:59:58,001e0610ba46,metsense,htu21d,temperature,5436,14.11\n")}.WriteDir(filepath.Join(tmp, "badgzip"))
	for _, tt := range []struct{ name, path, want string }{
		{"missing nodes.csv", noNodes, "missing file: nodes.csv"},
		{"not gzip", badGzip, "data.csv.gz: gzip: invalid header"},
		{"no such path", filepath.Join(tmp, "nowhere"), "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := testenv.MustOpenStore(t)
			_, err := runLoad(t, s.Database(), tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || exitCode(err) == 0 {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if has, _ := s.HasData(context.Background(), "aot_chicago"); has {
				t.Error("a broken digest stored rows")
			}
		})
	}
	// A data file cut short (a download broken off) keeps what it stored
	// and says so, and the whole digest then loads the rest.
	cut, _ := aottest.Digest{Data: d.Data[:len(d.Data)-12]}.WriteDir(filepath.Join(tmp, "cut"))
	s := testenv.MustOpenStore(t)
	if _, err := runLoad(t, s.Database(), cut); err == nil || exitCode(err) == 0 ||
		!strings.Contains(err.Error(), "unexpected EOF") || !strings.Contains(err.Error(), "is stored") {
		t.Errorf("a data file cut short: got %v, want an error saying what is stored", err)
	}
	if r, err := runLoad(t, s.Database(), dir); err != nil || r.Loaded+r.Skipped["already_loaded"] < int64(len(aottest.QuirkRows())) {
		t.Errorf("the whole digest after: got %+v, %v", r, err)
	}
	if _, err := runLoad(t, "unused", "--network", "a b/c", dir); err == nil || !strings.Contains(err.Error(), "bad --network") {
		t.Errorf("a network name with a space and a slash: got %v, want refused", err)
	}
}

// TestServeLoads: EXPORTD_LOAD makes serve load the digest at start, in the
// background, while the API is up.
func TestServeLoads(t *testing.T) {
	dir, err := aottest.Digest{Data: aottest.Gzip(aottest.QuirkLines())}.WriteDir(filepath.Join(t.TempDir(), aottest.Folder))
	if err != nil {
		t.Fatal(err)
	}
	url, stop := startServe(t, map[string]string{"EXPORTD_LOAD": dir, "EXPORTD_DEMO_ROWS": "0"})
	u := url + "/v1/api/sensor-networks/aot_chicago/query?feature=temperature&start_datetime=2018-03-31&end_datetime=2018-04-02"
	var r struct {
		Data []json.RawMessage `json:"data"`
	}
	// The readings of temperature: two of metsense.htu21d in one second,
	// one of wagman.htu21d, metsense.bmp180's and metsense.tsys01's.
	testenv.Eventually(t, time.Minute, "the digest's temperatures served", func() bool {
		code, body := testenv.Get(t, u)
		return code == http.StatusOK && json.Unmarshal(body, &r) == nil && len(r.Data) >= 4
	})
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}
