package aot_test

import (
	"bytes"
	"compress/gzip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/plenario-next/exportd/aot"
	"github.com/plenario-next/exportd/aot/aottest"
)

// TestReaderCRLineEnds: a digest whose every file ends its lines with a
// lone CR (the old Mac's line end, which Excel for Mac wrote CSV with)
// reads as the same digest with LF: every line counted and read, the
// metadata's nodes and sensors found. It read as 0 lines (the whole data
// file one "line", taken for the header) and its metadata as one row.
func TestReaderCRLineEnds(t *testing.T) {
	cr := func(b []byte) []byte {
		return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r"))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(aottest.Header + "\r" + strings.Join(aottest.QuirkLines(), "\r") + "\r"))
	_ = zw.Close()
	d := aottest.Digest{Data: gz.Bytes(), Nodes: cr(aot.ChicagoNodesCSV), Sensors: cr(aot.ChicagoSensorsCSV),
		Provenance: cr([]byte(aottest.Provenance))}
	dir, err := d.WriteDir(filepath.Join(t.TempDir(), "digest"))
	if err != nil {
		t.Fatal(err)
	}
	rows, r := readAll(t, dir, 0)
	if !reflect.DeepEqual(rows, aottest.QuirkRows()) {
		t.Errorf("got rows\n%v\nwant\n%v", rows, aottest.QuirkRows())
	}
	if got, want := r.Counts(), aottest.QuirkCounts(); got != want {
		t.Errorf("got counts %+v, want %+v", got, want)
	}
	dg, err := aot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(dg.Nodes) != 126 || dg.Project != "AoT_Chicago.complete" {
		t.Errorf("got %d nodes, project %q; want nodes.csv's 126 and provenance.csv's project", len(dg.Nodes), dg.Project)
	}
	if n := dg.Network("aot_chicago"); len(n.Sensors) < 10 {
		t.Errorf("got %d sensors, want sensors.csv's", len(n.Sensors))
	}
}
