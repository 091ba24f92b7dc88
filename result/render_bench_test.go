package result_test

import (
	"fmt"
	"testing"

	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/result/resulttest"
	"github.com/plenario-next/exportd/schema"
)

// BenchmarkRenderChunks renders make bench's rows as the gateway does: in
// chunks of 256 KiB of CSV, each by a fresh Renderer (gateway/rendered.go).
// cpu-ns/row is the process's CPU time a row, which the machine's other
// load changes less than the wall time.
func BenchmarkRenderChunks(b *testing.B) {
	const chunk = 256 << 10
	input := resulttest.CSV(resulttest.BenchRows(chunk/60, ts0))
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
