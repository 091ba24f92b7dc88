package events_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/plenario-next/exportd/internal/testenv"
)

// BenchmarkPartRead is the download's inner loop: reading a stored part
// back from the JetStream object store of an embedded nats-server (file
// storage, events.MaxChunkSize chunks), as the gateway's datadump does,
// to io.Discard, decompressed. MB/s (of CSV) is the ceiling of a single download stream before any
// HTTP. Run with
//
//	go test ./events -run '^$' -bench PartRead -cpuprofile cpu.out
func BenchmarkPartRead(b *testing.B) {
	ctx := context.Background()
	bus := newBus(b)
	// 64 MiB of CSV rows: a part of about 900 000 rows.
	part := csvPart(64 << 20)
	const ticket = "0123456789abcdef0123456789abcdef"
	if _, err := testenv.PutPart(ctx, bus, ticket, 1, func() int64 { return 0 }, bytes.NewReader(part)); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(part)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := bus.OpenPart(ctx, ticket, 1)
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
