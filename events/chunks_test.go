package events_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestPartReadLeavesNothing reads a part of several chunks whole, from an
// offset and through WriteTo, by batched direct gets and then, with direct
// gets turned off as on a replicated store, one chunk at a time through the
// leader: the bytes are the CSV's either way, and the result store's stream
// has no consumer after (or during) any of it. A part whose chunks are gone
// fails to start with an Unavailable error.
func TestPartReadLeavesNothing(t *testing.T) {
	ctx := context.Background()
	bus := newBus(t)
	part := csvPart(16 << 20)
	const ticket = "0123456789abcdef0123456789abcdef"
	sp, err := testenv.PutPart(ctx, bus, ticket, 1, func() int64 { return 0 }, bytes.NewReader(part))
	if err != nil {
		t.Fatal(err)
	}
	info, err := bus.PartInfo(ctx, ticket, 1)
	if err != nil {
		t.Fatal(err)
	}
	if info.Chunks < 3 {
		t.Fatalf("%d chunks (%d bytes stored): the test needs several", info.Chunks, sp.Stored)
	}
	stream, err := bus.JS().Stream(ctx, "OBJ_"+events.ResultBucket)
	if err != nil {
		t.Fatal(err)
	}
	consumers := func() int {
		si, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return si.State.Consumers
	}
	read := func(mode string) {
		t.Helper()
		for _, off := range []int64{0, 1, int64(len(part)) / 2, int64(len(part)) - 1} {
			r, err := bus.OpenPart(ctx, ticket, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Start(); err != nil {
				t.Fatalf("%s: start: %v", mode, err)
			}
			if n := consumers(); n != 0 {
				t.Fatalf("%s: %d consumers while reading, want none", mode, n)
			}
			var got bytes.Buffer
			if off == 0 {
				_, err = r.WriteTo(&got)
			} else if err = r.Skip(off); err == nil {
				_, err = io.Copy(&got, struct{ io.Reader }{r})
			}
			r.Close()
			if err != nil || !bytes.Equal(got.Bytes(), part[off:]) {
				t.Fatalf("%s from %d: %d bytes (%v), want the %d of the CSV", mode, off, got.Len(), err, len(part)-int(off))
			}
		}
	}
	read("direct")

	cfg := stream.CachedInfo().Config
	cfg.AllowDirect = false
	if _, err := bus.JS().UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	rebind(t, bus)
	read("through the leader")
	if n := consumers(); n != 0 {
		t.Fatalf("%d consumers after the reads, want none", n)
	}

	for _, direct := range []bool{false, true} {
		cfg.AllowDirect = direct
		if _, err := bus.JS().UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		rebind(t, bus)
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject("$O."+info.Bucket+".C."+info.NUID)); err != nil {
			t.Fatal(err)
		}
		r, err := bus.OpenPart(ctx, ticket, 1)
		if err != nil {
			t.Fatal(err)
		}
		err = r.Start()
		r.Close()
		if e := (*schema.Error)(nil); !errors.As(err, &e) || e.Code != schema.Unavailable {
			t.Fatalf("direct %v: a part without its chunks started with %v, want Unavailable", direct, err)
		}
	}
}

// rebind binds the result store again after its stream's configuration
// changed, as events.Open does for a replicated one.
func rebind(t *testing.T, bus *events.Bus) {
	t.Helper()
	bus.ForgetStreams()
	if err := bus.RebindResults(context.Background()); err != nil {
		t.Fatal(err)
	}
}
