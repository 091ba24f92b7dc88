package events_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/internal/testenv"
)

// storedPart stores 64 MiB of CSV rows (a part of about 900 000 rows) as
// benchTicket's part 1 in an embedded nats-server, and returns its bus and
// the part's bytes.
func storedPart(b *testing.B) (*events.Bus, []byte) {
	b.Helper()
	bus := newBus(b)
	part := csvPart(64 << 20)
	if _, err := testenv.PutPart(context.Background(), bus, benchTicket, 1, func() int64 { return 0 }, bytes.NewReader(part)); err != nil {
		b.Fatal(err)
	}
	return bus, part
}

// benchTicket is the job whose part storedPart stores.
const benchTicket = "0123456789abcdef0123456789abcdef"

// BenchmarkPartStore is an exporter's part write without its rows: CSV
// compressed into the JetStream object store of an embedded nats-server
// (file storage), each iteration a part of its own, "small" (one chunk,
// where the round trips of its Close are most of it) and "large" (some 8 MiB
// of CSV, two chunks of S2). The parts are deleted after the run.
//
//	go test ./events -run '^$' -bench PartStore -count 10
func BenchmarkPartStore(b *testing.B) {
	ctx := context.Background()
	bus := newBus(b)
	for _, c := range []struct {
		name string
		size int
	}{{"small", 64 << 10}, {"large", 8 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			part := csvPart(c.size)
			b.SetBytes(int64(len(part)))
			b.ReportAllocs()
			parts := 0
			for b.Loop() {
				parts++
				if _, err := testenv.PutPart(ctx, bus, benchTicket, parts, func() int64 { return 1 }, bytes.NewReader(part)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := bus.DeleteParts(ctx, benchTicket, parts); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkPartRead is the download's inner loop: reading a stored part
// back from the JetStream object store of an embedded nats-server (file
// storage, events.MaxChunkSize chunks), as the gateway's datadump does,
// to io.Discard, decompressed. MB/s (of CSV) is the ceiling of a single download stream before any
// HTTP. Run with
//
//	go test ./events -run '^$' -bench PartRead -cpuprofile cpu.out
func BenchmarkPartRead(b *testing.B) {
	ctx := context.Background()
	bus, part := storedPart(b)
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(part)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := bus.OpenPart(ctx, benchTicket, 1)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, r, buf)
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
		if n != int64(len(part)) {
			b.Fatalf("read %d bytes, want %d", n, len(part))
		}
	}
}

// BenchmarkPartReadChunks reads a stored part into 256 KiB buffers as a
// JSON download's renderer is fed: "read", through Read (s2.Reader decodes
// into its buffer, copied out), and "block", with AppendBlock (decoded in
// place). The buffers rotate, eight of them, as a download's chunks do
// (more than the L2 cache holds). cpu-ns/MB is the process's CPU time, the
// embedded server's too.
func BenchmarkPartReadChunks(b *testing.B) {
	ctx := context.Background()
	bus, part := storedPart(b)
	for _, name := range []string{"read", "block"} {
		b.Run(name, func(b *testing.B) {
			var bufs [8][]byte
			for i := range bufs {
				bufs[i] = make([]byte, 0, 384<<10)
			}
			b.SetBytes(int64(len(part)))
			cpu0 := cputime.Self()
			for range b.N {
				r, err := bus.OpenPart(ctx, benchTicket, 1)
				if err != nil {
					b.Fatal(err)
				}
				var n int
				for i := 0; err == nil; i++ {
					buf := bufs[i%len(bufs)]
					if name == "read" {
						var k int
						k, err = io.ReadFull(r, buf[:256<<10])
						n += k
						if err == io.ErrUnexpectedEOF {
							err = io.EOF
						}
					} else {
						var out []byte
						out, err = r.AppendBlock(buf[:0])
						n += len(out)
					}
				}
				r.Close()
				if err != io.EOF || n != len(part) {
					b.Fatalf("read %d bytes (%v), want %d", n, err, len(part))
				}
			}
			b.ReportMetric(float64(cputime.Self()-cpu0)/float64(b.N)/float64(len(part)>>20), "cpu-ns/MB")
		})
	}
}

// BenchmarkPartWriteTo sends a stored part whole (WriteTo, as a CSV
// download does) into a sink that copies what it is given twice, as a
// loopback socket and its reader would: ns/MB is the wall time, which
// decoding ahead of the writes overlaps with them; cpu-ns/MB the process's
// CPU, the embedded server's too.
func BenchmarkPartWriteTo(b *testing.B) {
	ctx := context.Background()
	bus, part := storedPart(b)
	sink := &copySink{a: make([]byte, 4<<20), b: make([]byte, 4<<20)}
	b.SetBytes(int64(len(part)))
	b.ResetTimer()
	cpu0 := cputime.Self()
	writePartN(ctx, b, bus, benchTicket, len(part), sink)
	mb := float64(b.N) * float64(len(part)>>20)
	b.ReportMetric(float64(cputime.Self()-cpu0)/mb, "cpu-ns/MB")
	b.ReportMetric(float64(b.Elapsed())/mb, "ns/MB")
}

// writePartN writes ticket's part 1, size bytes, to w whole b.N times, as
// a CSV download does.
func writePartN(ctx context.Context, b *testing.B, bus *events.Bus, ticket string, size int, w io.Writer) {
	for range b.N {
		r, err := bus.OpenPart(ctx, ticket, 1)
		if err != nil {
			b.Fatal(err)
		}
		n, err := r.WriteTo(w)
		r.Close()
		if err != nil || n != int64(size) {
			b.Fatalf("wrote %d bytes (%v), want %d", n, err, size)
		}
	}
}

// BenchmarkPartWriteToTCP sends a stored part whole (WriteTo, as a CSV
// download does) over a loopback TCP connection to a reader that counts
// its lines, as make bench's client does: ns/MB is the wall time, which
// decoding ahead of the writes overlaps with them; cpu-ns/MB the process's
// CPU, the embedded server's and the reader's too.
func BenchmarkPartWriteToTCP(b *testing.B) {
	ctx := context.Background()
	bus, part := storedPart(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	read := make(chan int64)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			close(read)
			return
		}
		defer conn.Close()
		buf := make([]byte, 1<<20)
		var lines int64
		for {
			n, err := conn.Read(buf)
			lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
			if err != nil {
				read <- lines
				return
			}
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(part)))
	b.ResetTimer()
	cpu0 := cputime.Self()
	writePartN(ctx, b, bus, benchTicket, len(part), conn)
	conn.Close()
	if lines := <-read; lines != int64(b.N)*int64(bytes.Count(part, []byte{'\n'})) {
		b.Fatalf("read %d lines", lines)
	}
	mb := float64(b.N) * float64(len(part)>>20)
	b.ReportMetric(float64(cputime.Self()-cpu0)/mb, "cpu-ns/MB")
	b.ReportMetric(float64(b.Elapsed())/mb, "ns/MB")
}

// copySink copies each write into a and then from a into b, rotating.
type copySink struct {
	a, b []byte
	at   int
}

func (s *copySink) Write(p []byte) (int, error) {
	for q := p; len(q) > 0; {
		k := copy(s.a[s.at:], q)
		copy(s.b[s.at:], s.a[s.at:s.at+k])
		q, s.at = q[k:], (s.at+k)%len(s.a)
	}
	return len(p), nil
}
