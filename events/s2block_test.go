package events_test

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// appendAll reads r a block at a time with AppendBlock, each appended to
// what came before; the blocks' count too.
func appendAll(r *events.PartReader) ([]byte, int, error) {
	var b []byte
	for n := 0; ; n++ {
		var err error
		if b, err = r.AppendBlock(b); err == io.EOF {
			return b, n, nil
		} else if err != nil {
			return b, n, err
		}
	}
}

// A part read a block at a time is the CSV stored, whether compressed (in
// blocks of 256 KiB) or stored as it is.
func TestPartAppendBlock(t *testing.T) {
	ctx := context.Background()
	bus := newBus(t)
	part := csvPart(3<<20 + 12345)
	const ticket = "0123456789abcdef0123456789abcdef"
	if _, err := testenv.PutPart(ctx, bus, ticket, 1, func() int64 { return 1 }, bytes.NewReader(part)); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Results().Put(ctx, jetstream.ObjectMeta{Name: schema.PartObject(ticket, 2),
		Metadata: map[string]string{events.MetaRows: "1"}}, bytes.NewReader(part)); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 2; n++ {
		r, err := bus.OpenPart(ctx, ticket, n)
		if err != nil {
			t.Fatal(err)
		}
		got, blocks, err := appendAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, part) || blocks != 13 {
			t.Fatalf("part %d: %d bytes in %d blocks (%v), want the %d stored in 13", n, len(got), blocks, err, len(part))
		}
	}
}

// A stored S2 stream that is damaged or cut short fails its read a block
// at a time as it fails s2.Reader: an error, never other bytes.
func TestPartAppendBlockCorrupt(t *testing.T) {
	ctx := context.Background()
	bus := newBus(t)
	part := csvPart(1 << 20)
	var zb bytes.Buffer
	zw := s2.NewWriter(&zb, s2.WriterConcurrency(1), s2.WriterBlockSize(256<<10))
	if _, err := zw.Write(part); err != nil || zw.Close() != nil {
		t.Fatal(err)
	}
	z := zb.Bytes()
	flipped := bytes.Clone(z)
	flipped[len(z)/2] ^= 0x10
	badSum := bytes.Clone(z) // the first data frame's checksum, after the stream identifier (10 bytes) and its header
	badSum[14] ^= 0x01
	const ticket = "fedcba9876543210fedcba9876543210"
	for i, stored := range [][]byte{badSum, flipped, z[:len(z)-100], z[:len(z)/3], z[10:]} {
		if _, err := bus.Results().Put(ctx, jetstream.ObjectMeta{Name: schema.PartObject(ticket, i+1),
			Metadata: map[string]string{events.MetaRows: "1", events.MetaEncoding: events.EncodingS2,
				events.MetaSize: strconv.Itoa(len(part)), events.MetaSHA256: sha(part)}}, bytes.NewReader(stored)); err != nil {
			t.Fatal(err)
		}
		_, sErr := io.ReadAll(s2.NewReader(bytes.NewReader(stored)))
		r, err := bus.OpenPart(ctx, ticket, i+1)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := appendAll(r)
		r.Close()
		if err == nil || sErr == nil || !bytes.HasPrefix(part, got) {
			t.Errorf("damaged stream %d: read %d bytes, error %v (s2.Reader's %v); want an error and only the part's bytes", i, len(got), err, sErr)
		}
		// Sent whole (a CSV download), decoded ahead of the writes.
		if r, err = bus.OpenPart(ctx, ticket, i+1); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		n, err := r.WriteTo(&out)
		r.Close()
		if err == nil || n != int64(out.Len()) || !bytes.HasPrefix(part, out.Bytes()) {
			t.Errorf("damaged stream %d, WriteTo: wrote %d (said %d) bytes, error %v; want an error and only the part's bytes", i, out.Len(), n, err)
		}
	}
}
