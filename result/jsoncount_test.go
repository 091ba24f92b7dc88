package result_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// countIDs are meta_ids of every digit count, from none to ten digits.
var countIDs = schema.MetaIDs{"n1": 7, "n2": 12345, "n\"3": math.MaxUint32, "ünï": 99}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestJSONCounter holds the count of a part's rows to the bytes a JSON and
// an NDJSON download render of the part's stored CSV, as the exporter
// counts it and a download renders it.
func TestJSONCounter(t *testing.T) {
	row := func(node string, sec float64, sensor, feature, prop string, v float64) schema.Row {
		return schema.Row{Node: node, TS: t0.Add(time.Duration(sec * float64(time.Second))), Sensor: sensor,
			Feature: feature, Property: prop, Value: v}
	}
	tests := []struct {
		name    string
		rows    []schema.Row
		wantObs int64
	}{
		{"empty part", nil, 0},
		{"one row", []schema.Row{row("n1", 0, "s", "f", "p", 1)}, 1},
		{"a reading", []schema.Row{row("n1", 0, "s", "f", "a", 1), row("n1", 0.4, "s", "f", "b", 2), row("n1", 0.9, "s", "f", "c", -3.25)}, 1},
		{"a property twice in a second", []schema.Row{row("n1", 0, "s", "f", "x", 1), row("n1", 0, "s", "f", "x", 2), row("n1", 0, "s", "f", "y", 3)}, 2},
		{"new second, sensor, feature, node", []schema.Row{row("n1", 0, "s", "f", "p", 1), row("n1", 1, "s", "f", "p", 1),
			row("n1", 1, "t", "f", "p", 1), row("n1", 1, "t", "g", "p", 1), row("n2", 1, "t", "g", "p", 1), row("n1", 1, "t", "g", "p", 1)}, 6},
		{"quoting and escapes", []schema.Row{row(`n"3`, 0, "a,b", `c"d`, "e\\f", 1), row(`n"3`, 0, "a,b", `c"d`, "\x01\t\r", 2),
			row(`n"3`, 0, "a,b", `c"d`, `"`, 3), row(`"`, 0, ",", ",", ",", 4)}, 2},
		{"unicode", []schema.Row{row("ünï", 0, "сенсор", "特征", "𝓅", 1), row("ünï", 0, "сенсор", "特征", "\xff\xfe", 2)}, 1},
		{"no value and huge ones", []schema.Row{row("n1", 0, "s", "f", "nan", math.NaN()), row("n1", 0, "s", "f", "inf", math.Inf(-1)),
			row("n1", 0, "s", "f", "max", math.MaxFloat64), row("n1", 0, "s", "f", "tiny", -math.SmallestNonzeroFloat64),
			row("n1", 0, "s", "f", "zero", math.Copysign(0, -1)), row("n1", 0, "s", "f", "big", 1e21)}, 1},
		{"across days and years of any width", []schema.Row{row("n1", -1, "s", "f", "p", 1), row("n1", 0, "s", "f", "p", 1),
			row("n1", 86399, "s", "f", "p", 1), row("n1", 86400, "s", "f", "p", 1), {Node: "n1", TS: time.Date(12026, 1, 1, 0, 0, 0, 0, time.UTC)},
			{Node: "n1", TS: time.Date(-44, 3, 15, 0, 0, 0, 0, time.UTC)}, {Node: "n1", TS: time.Date(-44, 3, 15, 0, 0, 1, 0, time.FixedZone("x", 3600))}}, 7},
		{"unknown node, empty names", []schema.Row{row("", 0, "", "", "", 0), row("", 0, "", "", "", 0)}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkCount(t, tt.rows, countIDs); got != tt.wantObs {
				t.Fatalf("got %d observations, want %d", got, tt.wantObs)
			}
		})
	}
	t.Run("a network's day", func(t *testing.T) {
		checkCount(t, networkRows(20_000), countIDs)
	})
	t.Run("more names than are kept", func(t *testing.T) {
		var rows []schema.Row
		for i := range 3 * 4096 {
			rows = append(rows, schema.Row{Node: "n" + strconv.Itoa(i%4500), TS: t0.Add(time.Duration(i/7) * time.Second), Sensor: "s",
				Feature: strconv.Itoa(i % 5000), Property: strings.Repeat("\"", i%3) + strconv.Itoa(i%4999), Value: float64(i)})
		}
		ids := schema.MetaIDs{}
		for i := range 4500 {
			ids["n"+strconv.Itoa(i)] = uint32(i * i * 211)
		}
		checkCount(t, rows, ids)
	})
}

// networkRows is n rows of a few nodes, sensors and properties, sorted as a
// part is, values of every kind.
func networkRows(n int) []schema.Row {
	rng := rand.New(rand.NewPCG(1, 2))
	nodes := []string{"n1", "n2", `n"3`, "ünï", "unknown"}
	sf := [][2]string{{"bmp180", "temperature"}, {"bmp180", "pressure"}, {"htu21d", "humidity"}, {"chemsense", "co"}}
	props := []string{"c", "f", "k", "hpa"}
	var rows []schema.Row
	for _, node := range nodes {
		for sec := 0; len(rows) < n*(1+indexOf(nodes, node))/len(nodes); sec += 1 + rng.IntN(30) {
			for _, p := range sf {
				for _, prop := range props[:1+rng.IntN(len(props))] {
					v := float64(rng.IntN(200000)-100000) / 100
					if rng.IntN(50) == 0 {
						v = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
					}
					rows = append(rows, schema.Row{Node: node, TS: t0.Add(time.Duration(sec) * time.Second), Sensor: p[0], Feature: p[1], Property: prop, Value: v})
					if rng.IntN(20) == 0 { // a repeat within the second
						rows = append(rows, rows[len(rows)-1])
					}
				}
			}
		}
	}
	return rows
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}

// checkCount encodes rows as the exporter does, counting them, renders the
// CSV as a download does, in JSON and NDJSON, and fails unless the count
// is the rendering's length. It returns the observations counted.
func checkCount(t *testing.T, rows []schema.Row, ids schema.MetaIDs) int64 {
	t.Helper()
	var enc result.CSVEncoder
	c := result.JSONCounter{MetaIDs: ids}
	var csv []byte
	for i := range rows {
		n := len(csv)
		csv = enc.AppendRow(csv, &rows[i])
		c.AddRow(&rows[i], csv[n:len(csv)-1])
	}
	c.Close()
	// PartEncoder, the exporter's, writes the same CSV and counts the same.
	pe := result.NewPartEncoder(ids)
	var fused []byte
	for i := range rows {
		fused = pe.AppendRow(fused, &rows[i])
	}
	pe.Close()
	if !bytes.Equal(fused, csv) {
		t.Fatalf("PartEncoder wrote %q, CSVEncoder %q", fused, csv)
	}
	if pe.JSONBytes() != c.Bytes() || pe.Observations() != c.Observations() {
		t.Fatalf("PartEncoder counted %d bytes, %d observations; JSONCounter %d, %d", pe.JSONBytes(), pe.Observations(),
			c.Bytes(), c.Observations())
	}
	for _, format := range []string{schema.FormatJSON, schema.FormatNDJSON} {
		var out bytes.Buffer
		w := result.NewFragmentWriter(&out, format, ids)
		if _, err := w.Write(csv); err != nil {
			t.Fatalf("got %v rendering %q, want none", err, csv)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("got %v rendering %q, want none", err, csv)
		}
		want := c.Bytes()
		if format == schema.FormatNDJSON {
			want -= c.Observations() // result.TextPart.Size
		}
		if got := int64(out.Len()); got != want {
			t.Fatalf("got %d bytes of %s rendered, %d counted, of %q (rendered %q)", got, format, want, csv, out.Bytes())
		}
	}
	return c.Observations()
}

// FuzzJSONCounter holds the count to the rendering on rows made of the
// fuzzer's bytes: names from a pool of plain, quoted, escaped and unicode
// ones and the fuzzer's own, times that share a second or not, any
// float64.
func FuzzJSONCounter(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0}, "x")
	f.Add([]byte{1, 0, 1, 1, 1, 1, 0, 1, 2, 9, 2, 2, 1, 1, 7}, `a,"b\`)
	f.Add([]byte{5, 3, 2, 5, 200, 0xff, 0xf0, 0, 0, 0, 0, 0, 1, 5, 3, 2, 5, 8}, "\x00ü\xff")
	f.Add([]byte{5, 5, 5, 0, 1, 5, 0x55, 5, 1, 2, 0, 5, 0, 0, 3}, "a\nb\r\n\"c,\r")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		pool := []string{"n1", "n2", `n"3`, "ünï", "", name, "a,b", "\\\t\"", "p", "q", "l\r\nm\n"}
		ids := schema.MetaIDs{"n1": 7, "n2": 12345, `n"3`: math.MaxUint32, name: uint32(len(data)) * 40503}
		var rows []schema.Row
		ts := t0
		for len(data) >= 5 && len(rows) < 1000 {
			r := schema.Row{Node: pool[int(data[0])%len(pool)], Sensor: pool[int(data[1]>>4)%len(pool)],
				Feature: pool[int(data[1]&15)%len(pool)], Property: pool[int(data[2])%len(pool)]}
			switch data[3] % 4 {
			case 1:
				ts = ts.Add(300 * time.Millisecond)
			case 2:
				ts = ts.Add(time.Duration(data[3]) * time.Second)
			case 3:
				ts = ts.Add(-time.Duration(data[3]) * time.Hour)
			}
			r.TS = ts
			r.Value = float64(int(data[4])-128) / 100
			data = data[5:]
			if r.Value == 0 && len(data) >= 8 { // any float64
				r.Value = math.Float64frombits(binary.LittleEndian.Uint64(data))
				data = data[8:]
			}
			rows = append(rows, r)
		}
		checkCount(t, rows, ids)
	})
}
