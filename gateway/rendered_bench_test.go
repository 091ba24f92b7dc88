package gateway_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/result/resulttest"
	"github.com/plenario-next/exportd/schema"
)

// ringSink takes what is written as a socket would: copied once, into a
// buffer of its own.
type ringSink struct {
	buf []byte
	at  int
	n   int64
}

func (s *ringSink) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	for q := p; len(q) > 0; {
		k := copy(s.buf[s.at:], q)
		q, s.at = q[k:], (s.at+k)%len(s.buf)
	}
	return len(p), nil
}

// BenchmarkRenderPart renders a part of make bench's rows (250 000, a
// twentieth-million-row job's part, larger than the caches) as a JSON
// download renders it, in chunks on every core, into a sink that copies
// it as the socket would: what the rendering costs the gateway's CPU
// (cpu-ns/row, the whole process's) with the caches and hand-offs of the
// real thing, but no S2 decoding, NATS or socket.
func BenchmarkRenderPart(b *testing.B) {
	const rows = 250_000
	csv := resulttest.CSV(resulttest.BenchRows(rows, time.Date(2025, 12, 26, 0, 0, 0, 0, time.UTC)))
	ids := schema.MetaIDs{}
	for i := range 100 {
		ids[fmt.Sprintf("001e0610%04x", 0xb000+i)] = uint32(1000 + i)
	}
	for _, chunk := range []int{256 << 10} {
		b.Run(fmt.Sprintf("chunk=%dK", chunk>>10), func(b *testing.B) {
			defer gateway.SetRenderChunk(chunk)()
			sink := &ringSink{buf: make([]byte, 1<<20)}
			b.SetBytes(int64(len(csv)))
			cpu0 := cputime.Self()
			for range b.N {
				if err := gateway.RenderCSV(sink, bytes.NewReader(csv), schema.FormatJSON, ids); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cputime.Self()-cpu0)/float64(b.N*rows), "cpu-ns/row")
			b.ReportMetric(float64(b.Elapsed())/float64(b.N*rows), "ns/row")
		})
	}
}
