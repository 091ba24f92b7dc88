package result_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// seedRows are rows as make bench's data has them (chstore.Seed, in the
// export's order): every second, each of 100 nodes reports nine values,
// magnetic_field's three in one reading, so eight observations a node and
// second; values in hundredths in the ranges of chstore's demoValue.
func seedRows(n int) []schema.Row {
	perNode := []struct {
		sensor, feature, prop string
		from, span            float64
	}{
		{"bmp180", "atmospheric_pressure", "pressure", 1000, 30}, {"bmp180", "temperature", "temperature", -10, 40},
		{"hmc5883l", "magnetic_field", "x", -1, 2}, {"hmc5883l", "magnetic_field", "y", -1, 2}, {"hmc5883l", "magnetic_field", "z", -1, 2},
		{"htu21d", "relative_humidity", "humidity", 20, 70}, {"htu21d", "temperature", "temperature", -10, 40},
		{"tmp112", "temperature", "temperature", -10, 40}, {"tsl250rd", "light_intensity", "intensity", 0, 1000},
	}
	rows := make([]schema.Row, 0, n)
	rnd := uint64(1)
	for tick := 0; len(rows) < n; tick++ {
		for node := 0; node < 100 && len(rows) < n; node++ {
			id := fmt.Sprintf("001e0610%04x", 0xb000+node)
			for _, v := range perNode {
				rnd = rnd*6364136223846793005 + 1442695040888963407
				x := math.Round((v.from+v.span*float64(rnd>>11)/(1<<53))*100) / 100
				rows = append(rows, schema.Row{Node: id, TS: ts0.Add(time.Duration(tick) * time.Second),
					Sensor: v.sensor, Feature: v.feature, Property: v.prop, Value: x})
			}
		}
	}
	return rows[:n]
}

func csvOfRows(rows []schema.Row) []byte {
	var e result.CSVEncoder
	var b []byte
	for i := range rows {
		b = e.AppendRow(b, &rows[i])
	}
	return b
}

// BenchmarkRenderChunks renders make bench's rows as the gateway does: in
// chunks of 256 KiB of CSV, each by a fresh Renderer (gateway/rendered.go).
// cpu-ns/row is the process's CPU time a row, which the machine's other
// load changes less than the wall time.
func BenchmarkRenderChunks(b *testing.B) {
	const chunk = 256 << 10
	input := csvOfRows(seedRows(chunk / 60))
	rows := 0
	for _, c := range input {
		if c == '\n' {
			rows++
		}
	}
	ids := schema.MetaIDs{}
	for i := range 100 {
		ids[fmt.Sprintf("001e0610%04x", 0xb000+i)] = uint32(1000 + i)
	}
	for _, reuse := range []bool{false, true} {
		name := "fresh"
		if reuse {
			name = "reset"
		}
		b.Run(name, func(b *testing.B) {
			out := make([]byte, 0, 2*len(input))
			b.SetBytes(int64(len(input)))
			b.ReportAllocs()
			cpu0 := cputime.Self()
			r := &result.Renderer{MetaIDs: ids}
			for range b.N {
				if reuse {
					r.Reset()
				} else {
					r = &result.Renderer{MetaIDs: ids}
				}
				var err error
				if out, err = r.AppendLines(out[:0], input); err != nil {
					b.Fatal(err)
				}
				out = r.Close(out)
			}
			b.ReportMetric(float64(cputime.Self()-cpu0)/float64(b.N*rows), "cpu-ns/row")
			b.ReportMetric(float64(b.Elapsed())/float64(b.N*rows), "ns/row")
		})
	}
}
