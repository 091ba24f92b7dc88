package aot_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/aot"
	"github.com/plenario-next/exportd/aot/aottest"
	"github.com/plenario-next/exportd/schema"
)

// readAll opens the digest at path and reads every row.
func readAll(t *testing.T, path string, from int64) ([]aottest.Row, *aot.Reader) {
	t.Helper()
	d, err := aot.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Data()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	r.From = from
	var out []aottest.Row
	var row schema.Row
	for r.Next(&row) {
		out = append(out, aottest.Row{Node: row.Node, TS: row.TS.Format(schema.DatetimeLayout), Sensor: row.Sensor, Feature: row.Feature, Property: row.Property, Value: row.Value})
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out, r
}

func quirkDigest() aottest.Digest { return aottest.Digest{Data: aottest.Gzip(aottest.QuirkLines())} }

func TestReaderQuirks(t *testing.T) {
	dir := t.TempDir()
	d := quirkDigest()
	if _, err := d.WriteDir(filepath.Join(dir, "digest")); err != nil {
		t.Fatal(err)
	}
	for _, dataFirst := range []bool{true, false} {
		if _, err := d.WriteTar(filepath.Join(dir, map[bool]string{true: "first.tar", false: "last.tar"}[dataFirst]), dataFirst); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"digest", "digest/data.csv.gz", "first.tar", "last.tar"} {
		t.Run(path, func(t *testing.T) {
			rows, r := readAll(t, filepath.Join(dir, path), 0)
			if !reflect.DeepEqual(rows, aottest.QuirkRows()) {
				t.Errorf("got rows\n%v\nwant\n%v", rows, aottest.QuirkRows())
			}
			if got, want := r.Counts(), aottest.QuirkCounts(); got != want {
				t.Errorf("got counts %+v, want %+v", got, want)
			}
			want := map[string][]string{"001e0610ba46": {"metsense.htu21d", "wagman.htu21d"}, "001e0610ba3b": {"metsense.bmp180"},
				"001e0610f02f": {"lightsense.hmc5883l", "metsense.tsys01"}}
			if got := r.NodeSensors(); !reflect.DeepEqual(got, want) {
				t.Errorf("got node sensors %v, want %v", got, want)
			}
		})
	}
	t.Run("from a checkpoint", func(t *testing.T) {
		from := time.Date(2018, 4, 1, 0, 0, 2, 0, time.UTC).Unix()
		rows, r := readAll(t, filepath.Join(dir, "digest"), from)
		if len(rows) != 2 || rows[0].TS != "2018-04-01T00:00:02" {
			t.Errorf("got %v, want the two readings from 00:00:02 on", rows)
		}
		if c := r.Counts(); c.Before != 11 || c.Malformed != 4 || c.Lines != int64(len(aottest.Quirks)) {
			t.Errorf("got %+v, want 11 lines before the checkpoint (malformed ones counted as such)", c)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, d aottest.Digest) string {
		p, err := d.WriteDir(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	noNodes := write("nonodes", aottest.Digest{Data: aottest.Gzip(nil), Skip: map[string]bool{aot.NodesFile: true}})
	if _, err := aot.Open(noNodes); !errors.Is(err, aot.ErrMissing) || !strings.Contains(err.Error(), "nodes.csv") {
		t.Errorf("no nodes.csv: got %v, want ErrMissing naming nodes.csv", err)
	}
	noData := write("nodata", aottest.Digest{Skip: map[string]bool{aot.DataFile: true}})
	if _, err := aot.Open(noData); !errors.Is(err, aot.ErrMissing) {
		t.Errorf("no data: got %v, want ErrMissing", err)
	}
	badNodes := write("badnodes", aottest.Digest{Data: aottest.Gzip(nil), Nodes: []byte("node_id,lat,lon\nx,north,1\n")})
	if _, err := aot.Open(badNodes); !errors.Is(err, aot.ErrBadMetadata) {
		t.Errorf("bad nodes.csv: got %v, want ErrBadMetadata", err)
	}
	notGzip := write("notgzip", aottest.Digest{Data: []byte("timestamp,node_id\n")})
	d, err := aot.Open(notGzip)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Data(); err == nil || !strings.Contains(err.Error(), "data.csv.gz") {
		t.Errorf("not gzip: got %v, want an error naming data.csv.gz", err)
	}
	// A gzip cut short is an error of the reader, after the rows before it.
	gz := aottest.Gzip(aottest.QuirkLines())
	cut := write("cut", aottest.Digest{Data: gz[:len(gz)-12]})
	if d, err = aot.Open(cut); err != nil {
		t.Fatal(err)
	}
	r, err := d.Data()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var row schema.Row
	for r.Next(&row) {
	}
	if r.Err() == nil {
		t.Error("a truncated gzip read without error")
	}
	if _, err := aot.Open(filepath.Join(dir, "nowhere")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no such path: got %v", err)
	}
}

func TestNetwork(t *testing.T) {
	dir := t.TempDir()
	p, err := quirkDigest().WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := aot.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	name, err := d.DefaultNetwork()
	if err != nil || name != "aot_chicago" {
		t.Fatalf("got network %q, %v, want aot_chicago", name, err)
	}
	n := d.Network(name)
	if len(n.Nodes) != 126 {
		t.Errorf("got %d nodes, want nodes.csv's 126", len(n.Nodes))
	}
	x, ok := n.Node("001e0610890f")
	if !ok || x.Address != "UChicago, Smart Museum Chicago IL" || x.Lat != 41.793278 || x.Lon != -87.600117 ||
		x.Info["vsn"] != "074" || x.Info["start_timestamp"] != "2018-04-12T00:00:00" || x.Info["end_timestamp"] != nil {
		t.Errorf("got node %+v", x)
	}
	names := map[string]bool{}
	for _, s := range n.Sensors {
		if names[s.Name] {
			t.Errorf("sensor %s twice", s.Name)
		}
		names[s.Name] = true
	}
	if !names["metsense.htu21d"] || !names["wagman.htu21d"] {
		t.Errorf("got sensors %v, want metsense.htu21d and wagman.htu21d", names)
	}
	s, _ := n.Sensor("metsense.htu21d")
	if !reflect.DeepEqual(s.Properties, []string{"humidity.humidity", "temperature.temperature"}) {
		t.Errorf("got properties %v", s.Properties)
	}
	rng := s.Info["properties"].(map[string]any)["temperature.temperature"].(map[string]any)
	if rng["min"] != -40.0 || rng["max"] != 125.0 || rng["unit"] != "C" {
		t.Errorf("got range %v", rng)
	}
	for _, tt := range []struct{ feature, property, unit string }{
		{"temperature", "temperature", "C"}, {"disk_usage", "boot", "bytes|ratio"}, {"magnetic_field", "magnetic_field_x", "mG"},
	} {
		f, ok := n.Feature(tt.feature)
		p, pok := f.Property(tt.property)
		if !ok || !pok || p.Unit != tt.unit || p.Type != "float" {
			t.Errorf("%s.%s: got %+v, want unit %s", tt.feature, tt.property, p, tt.unit)
		}
	}
}

func TestNetworkName(t *testing.T) {
	for in, want := range map[string]string{"AoT_Chicago.complete": "aot_chicago", "AoT_Detroit.public": "aot_detroit", "AoT-NYC": "aot_nyc", "": ""} {
		if got := aot.NetworkName(in); got != want {
			t.Errorf("NetworkName(%q): got %q, want %q", in, got, want)
		}
	}
}

// TestReaderHeaderBOM: a data.csv.gz whose header starts with a byte-order
// mark (as a spreadsheet saves CSV), with CRLF line ends, reads its header
// as the header: the report counts the data lines only, none malformed.
func TestReaderHeaderBOM(t *testing.T) {
	line := "2018/04/01 00:00:03,001e0610f02f,metsense,tsys01,temperature,1,1e3"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("\ufeff" + aottest.Header + "\r\n" + line + "\r\n"))
	_ = zw.Close()
	dir := t.TempDir()
	if _, err := (aottest.Digest{Data: gz.Bytes()}).WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	rows, r := readAll(t, dir, 0)
	if c := r.Counts(); len(rows) != 1 || c.Lines != 1 || c.Malformed != 0 {
		t.Errorf("got %d rows, counts %+v; want one line, read, none malformed", len(rows), c)
	}
}

// TestNetworkNonFiniteRange: a sensors.csv whose hrf_minval or hrf_maxval
// is NaN or Inf (strconv reads both) gives a network whose metadata is
// still JSON, the range left out as an unreadable one is: JSON has no NaN,
// and a sensor whose info could not be encoded was stored with none.
func TestNetworkNonFiniteRange(t *testing.T) {
	sensors := "ontology,subsystem,sensor,parameter,hrf_unit,hrf_minval,hrf_maxval,datasheet\n" +
		"/sensing/meteorology/temperature,metsense,tsys01,temperature,C,NaN,Inf,https://example.org/tsys01.pdf\n"
	dir := t.TempDir()
	if _, err := (aottest.Digest{Data: aottest.Gzip(nil), Sensors: []byte(sensors)}).WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	d, err := aot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := d.Network("aot_chicago")
	s, ok := n.Sensor("metsense.tsys01")
	if !ok {
		t.Fatal("no metsense.tsys01")
	}
	if b, err := json.Marshal(s.Info); err != nil || !strings.Contains(string(b), "tsys01.pdf") {
		t.Errorf("the sensor's info as JSON: %s, %v; want it with its datasheet", b, err)
	}
}
