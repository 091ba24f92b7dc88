package gateway_test

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// benchCSV is a part's CSV as make bench stores it (chstore.Seed's rows in
// the export's order: 100 nodes, nine values a node and second, values in
// hundredths in demoValue's ranges), rows long.
func benchCSV(rows int) []byte {
	perNode := []struct {
		sensor, feature, prop string
		from, span            float64
	}{
		{"bmp180", "atmospheric_pressure", "pressure", 1000, 30}, {"bmp180", "temperature", "temperature", -10, 40},
		{"hmc5883l", "magnetic_field", "x", -1, 2}, {"hmc5883l", "magnetic_field", "y", -1, 2}, {"hmc5883l", "magnetic_field", "z", -1, 2},
		{"htu21d", "relative_humidity", "humidity", 20, 70}, {"htu21d", "temperature", "temperature", -10, 40},
		{"tmp112", "temperature", "temperature", -10, 40}, {"tsl250rd", "light_intensity", "intensity", 0, 1000},
	}
	var e result.CSVEncoder
	var b []byte
	rnd := uint64(1)
	t0 := time.Date(2025, 12, 26, 0, 0, 0, 0, time.UTC)
	for n, tick := 0, 0; n < rows; tick++ {
		for node := 0; node < 100 && n < rows; node++ {
			for _, v := range perNode {
				rnd = rnd*6364136223846793005 + 1442695040888963407
				r := schema.Row{Node: fmt.Sprintf("001e0610%04x", 0xb000+node), TS: t0.Add(time.Duration(tick) * time.Second),
					Sensor: v.sensor, Feature: v.feature, Property: v.prop,
					Value: math.Round((v.from+v.span*float64(rnd>>11)/(1<<53))*100) / 100}
				b = e.AppendRow(b, &r)
				n++
			}
		}
	}
	return b
}

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
	csv := benchCSV(rows)
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
