package result_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/duckdb"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// demoRows makes n rows in export order, shaped like the demo network's.
func demoRows(first time.Time, n int) []result.ParquetRow {
	props := []struct{ sensor, feature, property string }{
		{"bmp180", "atmospheric_pressure", "pressure"}, {"bmp180", "temperature", "temperature"},
		{"hmc5883l", "magnetic_field", "x"}, {"hmc5883l", "magnetic_field", "y"}, {"hmc5883l", "magnetic_field", "z"},
		{"htu21d", "relative_humidity", "humidity"}, {"tsl250rd", "light_intensity", "intensity"},
	}
	rows := make([]result.ParquetRow, 0, n)
	for i := 0; len(rows) < n; i++ {
		p := props[i%len(props)]
		node := (i / len(props)) % 100
		tick := i / (len(props) * 100)
		rows = append(rows, result.ParquetRow{
			NodeID: fmt.Sprintf("001e0610%04x", 0xb000+node), Datetime: first.Add(time.Duration(tick) * 10 * time.Second),
			MetaID: float64(node + 1), Sensor: p.sensor, Feature: p.feature, Property: p.property,
			Value: math.Round(math.Sin(float64(i))*10000) / 100,
		})
	}
	return rows
}

// writePart encodes rows as one part's stored Parquet file.
func writePart(tb testing.TB, rows []result.ParquetRow) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := result.NewParquetWriter(&buf)
	for _, r := range rows {
		if err := w.Append(r); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if w.Size() != int64(buf.Len()) {
		tb.Fatalf("Size() %d, want %d", w.Size(), buf.Len())
	}
	return buf.Bytes()
}

// stitch returns the whole file made of the stored parts, through the
// layout, and the layout.
func stitch(tb testing.TB, stored [][]byte) ([]byte, *result.Layout) {
	tb.Helper()
	var parts []result.ParquetPart
	for _, s := range stored {
		f, err := result.ParquetFooter(s)
		if err != nil {
			tb.Fatal(err)
		}
		parts = append(parts, result.ParquetPart{Size: int64(len(s)), Footer: f})
	}
	l, err := result.ParquetLayout(parts)
	if err != nil {
		tb.Fatal(err)
	}
	return read(l, stored, 0, l.Size()), l
}

// read serves bytes [start, end) of a layout from the stored parts.
func read(l *result.Layout, stored [][]byte, start, end int64) []byte {
	var out []byte
	for _, s := range l.Slice(start, end) {
		if s.Part < 0 {
			out = append(out, s.Literal...)
		} else {
			out = append(out, stored[s.Part][s.Offset:s.Offset+s.Len]...)
		}
	}
	return out
}

func TestParquetPartsReadByDuckDB(t *testing.T) {
	first := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	all := demoRows(first, 70_000)
	cuts := []int{0, 30_000, 30_000, 55_000, 70_000} // the second part is empty
	var stored [][]byte
	for i := 0; i+1 < len(cuts); i++ {
		stored = append(stored, writePart(t, all[cuts[i]:cuts[i+1]]))
	}
	file, l := stitch(t, stored)
	if int64(len(file)) != l.Size() {
		t.Fatalf("file of %d bytes, layout says %d", len(file), l.Size())
	}
	path := filepath.Join(t.TempDir(), "job.parquet")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, r := range all {
		sum += r.Value
	}
	got := duckdb.Query(t, fmt.Sprintf(`SELECT count(*) AS n, round(sum(value), 2) AS s, min(datetime) AS lo, max(datetime) AS hi,
		count(DISTINCT node_id) AS nodes, sum(meta_id) AS m FROM read_parquet('%s')`, path))[0]
	want := map[string]any{"n": "70000", "s": math.Round(sum*100) / 100, "lo": "2026-11-20 00:00:00+00",
		"hi": all[len(all)-1].Datetime.Format("2006-01-02 15:04:05") + "+00", "nodes": "100"}
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	types := map[string]string{}
	for _, r := range duckdb.Query(t, fmt.Sprintf(`DESCRIBE SELECT * FROM read_parquet('%s')`, path)) {
		types[r["column_name"].(string)] = r["column_type"].(string)
	}
	wantTypes := map[string]string{"node_id": "VARCHAR", "datetime": "TIMESTAMP WITH TIME ZONE", "meta_id": "DOUBLE",
		"sensor": "VARCHAR", "feature": "VARCHAR", "property": "VARCHAR", "value": "DOUBLE"}
	for k, v := range wantTypes {
		if types[k] != v {
			t.Errorf("column %s: got type %q, want %q", k, types[k], v)
		}
	}
	// Every row, in order, equal to what was written.
	rows := duckdb.Query(t, fmt.Sprintf(`SELECT node_id, epoch_us(datetime) AS us, sensor, feature, property, value
		FROM read_parquet('%s') WHERE (node_id, property) IN (('001e0610b007', 'x'), ('001e0610b063', 'intensity'))`, path))
	var wantRows []string
	for _, r := range all {
		if (r.NodeID == "001e0610b007" && r.Property == "x") || (r.NodeID == "001e0610b063" && r.Property == "intensity") {
			wantRows = append(wantRows, fmt.Sprint(r.NodeID, r.Datetime.UnixMicro(), r.Sensor, r.Feature, r.Property, r.Value))
		}
	}
	if len(rows) != len(wantRows) {
		t.Fatalf("got %d rows of two series, want %d", len(rows), len(wantRows))
	}
	for i, r := range rows {
		us, _ := strconv.ParseInt(r["us"].(string), 10, 64)
		if g := fmt.Sprint(r["node_id"], us, r["sensor"], r["feature"], r["property"], r["value"]); g != wantRows[i] {
			t.Fatalf("row %d: got %s, want %s", i, g, wantRows[i])
		}
	}
	// Row groups carry statistics by time: a reader skips those out of range.
	st := duckdb.Query(t, fmt.Sprintf(`SELECT count(*) AS groups, count(stats_min_value) + count(stats_max_value) AS with_stats
		FROM parquet_metadata('%s') WHERE path_in_schema = 'datetime'`, path))[0]
	if g, _ := strconv.Atoi(fmt.Sprint(st["groups"])); g == 0 || fmt.Sprint(st["with_stats"]) != strconv.Itoa(2*g) {
		t.Errorf("datetime statistics in %v of %v row groups", st["with_stats"], st["groups"])
	}
}

// Every range of the layout is the same bytes as that range of the file.
func TestParquetLayoutSlices(t *testing.T) {
	first := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	all := demoRows(first, 3000)
	stored := [][]byte{writePart(t, all[:1000]), writePart(t, all[1000:1000]), writePart(t, all[1000:])}
	file, l := stitch(t, stored)
	size := l.Size()
	for _, r := range [][2]int64{{0, 1}, {0, 4}, {3, 9}, {size - 8, size}, {size - 1, size}, {100, size - 100}, {-5, size + 5}, {50, 50}} {
		lo, hi := max(r[0], 0), min(r[1], size)
		want := file[lo:max(lo, hi)]
		if got := read(l, stored, r[0], r[1]); !bytes.Equal(got, want) {
			t.Errorf("bytes [%d,%d): got %d bytes, want %d", r[0], r[1], len(got), len(want))
		}
	}
}

func TestParquetNoParts(t *testing.T) {
	file, _ := stitch(t, nil)
	path := filepath.Join(t.TempDir(), "empty.parquet")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	got := duckdb.Query(t, fmt.Sprintf(`SELECT count(*) AS n FROM read_parquet('%s')`, path))
	if got[0]["n"] != "0" {
		t.Fatalf("got %v rows, want 0", got[0]["n"])
	}
}

func TestParquetFooterRejectsOtherBytes(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("PAR1"), []byte("not a parquet file"), append([]byte{0xff, 0xff, 0xff, 0x7f}, "PAR1"...)} {
		if _, err := result.ParquetFooter(b); err == nil {
			t.Errorf("ParquetFooter(%q): no error", b)
		}
	}
}

func BenchmarkParquetWriter(b *testing.B) {
	rows := demoRows(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 250_000)
	b.ResetTimer()
	var size int
	for i := 0; i < b.N; i++ {
		size = len(writePart(b, rows))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
	b.ReportMetric(float64(size)/float64(len(rows)), "bytes/row")
}

// A part converted from its stored CSV is the same file as the part
// written from its rows.
func TestCSVToParquet(t *testing.T) {
	rows := demoRows(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 20_000)
	rows[7].Sensor, rows[8].Feature = `odd,"name"`, "a\nb" // quoted CSV fields
	var enc result.CSVEncoder
	var csv []byte
	for _, r := range rows {
		csv = enc.AppendRow(csv, &schema.Row{Node: r.NodeID, TS: r.Datetime, Sensor: r.Sensor, Feature: r.Feature, Property: r.Property, Value: r.Value})
	}
	var got bytes.Buffer
	n, err := result.CSVToParquet(&got, bytes.NewReader(csv), func(node string) float64 {
		id, _ := strconv.ParseInt(node[8:], 16, 64)
		return float64(id - 0xb000 + 1)
	})
	if err != nil || n != int64(len(rows)) {
		t.Fatalf("CSVToParquet: %d rows, %v; want %d rows", n, err, len(rows))
	}
	if want := writePart(t, rows); !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("converted part of %d bytes differs from the written one of %d", got.Len(), len(want))
	}
	if _, err := result.CSVToParquet(io.Discard, strings.NewReader("a,b,c\n"), nil); !errors.Is(err, result.ErrBadCSV) {
		t.Fatalf("a bad line: got %v, want ErrBadCSV", err)
	}
}
