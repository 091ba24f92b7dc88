package events_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// csvPart is about size bytes of CSV rows like an export's: readings of
// 100 nodes, a second apart, with values that vary (not a repeated line,
// which would compress far better than readings do).
func csvPart(size int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	t := time.Date(2025, 12, 26, 0, 0, 0, 0, time.UTC)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "001e0610b%03x,%s,hmc5883l,magnetic_field,x,%.2f\n", i%100,
			t.Add(time.Duration(i/100)*time.Second).Format(schema.DatetimeLayout), rng.NormFloat64()*40)
	}
	return b.Bytes()
}

// newBus opens the topology on an embedded NATS server of its own.
func newBus(tb testing.TB) *events.Bus {
	tb.Helper()
	bus, err := events.Open(context.Background(), testenv.MustConnect(tb, testenv.MustStartNATS(tb)), events.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return bus
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A part is stored compressed and read back as the CSV it was: whole, from
// an offset, and through WriteTo; its size and digest are the CSV's.
func TestPartStoredCompressed(t *testing.T) {
	ctx := context.Background()
	bus := newBus(t)
	part := csvPart(5 << 20)
	const ticket = "0123456789abcdef0123456789abcdef"
	sp, err := testenv.PutPart(ctx, bus, ticket, 1, func() int64 { return 42 }, bytes.NewReader(part))
	if err != nil {
		t.Fatal(err)
	}
	if sp.Bytes != int64(len(part)) || sp.SHA256 != sha(part) || sp.Rows != 42 || sp.Encoding != events.EncodingS2 {
		t.Fatalf("stored %+v, want %d bytes, digest %s, 42 rows, s2", sp, len(part), sha(part))
	}
	if sp.Stored > sp.Bytes/3 {
		t.Errorf("stored %d bytes of %d: not compressed", sp.Stored, sp.Bytes)
	}
	if got, err := bus.Part(ctx, ticket, 1); err != nil || got != sp {
		t.Fatalf("Part: %+v, %v; want %+v", got, err, sp)
	}
	read := func(skip int64, writeTo bool) []byte {
		t.Helper()
		r, err := bus.OpenPart(ctx, ticket, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Size() != int64(len(part)) {
			t.Fatalf("Size %d, want %d", r.Size(), len(part))
		}
		if skip > 0 {
			if err := r.Skip(skip); err != nil {
				t.Fatal(err)
			}
		}
		var out bytes.Buffer
		if writeTo {
			_, err = r.WriteTo(&out)
		} else {
			_, err = io.Copy(&out, struct{ io.Reader }{r})
		}
		if err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	for _, c := range []struct {
		skip    int64
		writeTo bool
	}{{0, true}, {0, false}, {3<<20 + 17, true}, {1, false}} {
		if got := read(c.skip, c.writeTo); !bytes.Equal(got, part[c.skip:]) {
			t.Errorf("skip %d, WriteTo %v: read %d bytes, not the part's last %d", c.skip, c.writeTo, len(got), len(part)-int(c.skip))
		}
	}
}

// A part stored before parts were compressed (the CSV itself, no
// encoding) still reads, with its size and digest.
func TestPartStoredPlain(t *testing.T) {
	ctx := context.Background()
	bus := newBus(t)
	part := csvPart(3 << 20)
	const ticket = "fedcba9876543210fedcba9876543210"
	if _, err := bus.Results().Put(ctx, jetstream.ObjectMeta{Name: schema.PartObject(ticket, 1),
		Metadata: map[string]string{events.MetaRows: "7"}}, bytes.NewReader(part)); err != nil {
		t.Fatal(err)
	}
	sp, err := bus.Part(ctx, ticket, 1)
	if err != nil || sp.Bytes != int64(len(part)) || sp.SHA256 != sha(part) || sp.Rows != 7 || sp.Encoding != "" {
		t.Fatalf("Part: %+v, %v; want %d bytes, digest %s, 7 rows, no encoding", sp, err, len(part), sha(part))
	}
	r, err := bus.OpenPart(ctx, ticket, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out strings.Builder
	if _, err := r.WriteTo(&out); err != nil || out.String() != string(part) {
		t.Fatalf("read %d bytes (%v), want the %d stored", out.Len(), err, len(part))
	}
}

// A part is stored once, as CSV: its metadata records the JSON size and
// observations the exporter counted (Rendered), or none when not told (a
// part stored before they were counted reads as -1). Deleting the part
// deletes it; an aborted part stores nothing.
func TestPartWriterRendered(t *testing.T) {
	ctx := context.Background()
	bus := newBus(t)
	const ticket = "00112233445566778899aabbccddeeff"
	csv := csvPart(3 << 20)
	w := bus.NewPartWriter(ctx, ticket, 1)
	for off := 0; off < len(csv); off += 100_000 {
		if err := w.WriteCSV(csv[off:min(off+100_000, len(csv))]); err != nil {
			t.Fatal(err)
		}
	}
	w.Rendered(7<<20, 123_456)
	sp, err := w.Close(9)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Bytes != int64(len(csv)) || sp.SHA256 != sha(csv) || sp.JSON != 7<<20 || sp.Observations != 123_456 || sp.Rows != 9 {
		t.Fatalf("stored %+v, want CSV %d bytes, JSON %d, 123456 observations, 9 rows", sp, len(csv), 7<<20)
	}
	if got, err := bus.Part(ctx, ticket, 1); err != nil || got != sp {
		t.Fatalf("Part: %+v, %v; want %+v", got, err, sp)
	}
	if err := bus.DeletePart(ctx, ticket, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Results().GetInfo(ctx, schema.PartObject(ticket, 1)); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Fatalf("after DeletePart: %v, want not found", err)
	}

	w = bus.NewPartWriter(ctx, ticket, 2)
	if err := w.WriteCSV(csv); err != nil {
		t.Fatal(err)
	}
	w.Abort(errors.New("the rows stopped coming"))
	if _, err := bus.Part(ctx, ticket, 2); schema.ErrorCode(err) != schema.NotFound {
		t.Fatalf("aborted part: %v, want not found", err)
	}
	// No rows: the CSV is stored, empty; nothing told: sizes unknown.
	if sp, err := bus.NewPartWriter(ctx, ticket, 3).Close(0); err != nil || sp.JSON != -1 || sp.Observations != -1 || sp.Bytes != 0 {
		t.Fatalf("empty part: %+v, %v", sp, err)
	}
	if got, err := bus.Part(ctx, ticket, 3); err != nil || got.JSON != -1 || got.Observations != -1 {
		t.Fatalf("Part of a part not told its sizes: %+v, %v; want -1 each", got, err)
	}
}
