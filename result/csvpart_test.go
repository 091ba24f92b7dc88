package result_test

import (
	"fmt"
	"testing"

	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/result/resulttest"
	"github.com/plenario-next/exportd/schema"
)

// BenchmarkPartEncoders encodes make bench's rows as CSV and counts their
// JSON, as an exporter does: apart, CSVEncoder then JSONCounter.AddRow on
// the line; fused, PartEncoder. The rows' names are interned, as chstore
// gives them. cpu-ns/row is the process's CPU a row.
func BenchmarkPartEncoders(b *testing.B) {
	rows := resulttest.BenchRows(100_000, ts0)
	names := map[string]string{}
	for i := range rows {
		r := &rows[i]
		for _, s := range []*string{&r.Node, &r.Sensor, &r.Feature, &r.Property} {
			if v, ok := names[*s]; ok {
				*s = v
			} else {
				names[*s] = *s
			}
		}
	}
	ids := schema.MetaIDs{}
	for i := range 100 {
		ids[fmt.Sprintf("001e0610%04x", 0xb000+i)] = uint32(1000 + i)
	}
	run := func(b *testing.B, part func(csv []byte) ([]byte, int64)) {
		csv := make([]byte, 0, 128<<10)
		b.ReportAllocs()
		cpu0 := cputime.Self()
		var size int64
		b.ResetTimer()
		for range b.N {
			var n int64
			csv, n = part(csv)
			size += n
		}
		b.StopTimer()
		if size == 0 {
			b.Fatal("nothing counted")
		}
		b.ReportMetric(float64((cputime.Self()-cpu0).Nanoseconds())/float64(b.N*len(rows)), "cpu-ns/row")
	}
	b.Run("apart", func(b *testing.B) {
		run(b, func(csv []byte) ([]byte, int64) {
			var e result.CSVEncoder
			c := result.JSONCounter{MetaIDs: ids}
			for i := range rows {
				if len(csv) > 120<<10 {
					csv = csv[:0]
				}
				n := len(csv)
				csv = e.AppendRow(csv, &rows[i])
				c.AddRow(&rows[i], csv[n:len(csv)-1])
			}
			c.Close()
			return csv, c.Bytes()
		})
	})
	b.Run("fused", func(b *testing.B) {
		run(b, func(csv []byte) ([]byte, int64) {
			e := result.NewPartEncoder(ids)
			for i := range rows {
				if len(csv) > 120<<10 {
					csv = csv[:0]
				}
				csv = e.AppendRow(csv, &rows[i])
			}
			e.Close()
			return csv, e.JSONBytes()
		})
	})
}
