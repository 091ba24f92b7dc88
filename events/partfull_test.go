package events_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestPartRefusedLeavesNothing: a part the result storage has no room for
// fails Full and leaves no object behind. JetStream refused its chunk at
// the store's limit and took the object's metadata after it (a few hundred
// bytes): a failed part left an object of no chunks under its name, which
// the failed job's cleanup, run when another part's failure was told
// before this one's, never saw (exporter TestResultStorageLimit, one run in
// 24 under load: "objects 1" for good).
func TestPartRefusedLeavesNothing(t *testing.T) {
	ctx := context.Background()
	nc := testenv.MustConnect(t, testenv.MustStartNATS(t))
	bus, err := events.Open(ctx, nc, events.Config{ResultMaxBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	// The metadata is taken when the chunk's refusal comes back after the
	// Put has sent it (a part of one chunk sends both at once): a race,
	// lost about one time in four, so twenty parts.
	const ticket = "0123456789abcdef0123456789abcdef"
	part := csvPart(1 << 20) // one chunk of S2, some 180 KB
	for p := 1; p <= 20; p++ {
		_, err = testenv.PutPart(ctx, bus, ticket, p, func() int64 { return 42 }, bytes.NewReader(part))
		if !errors.Is(err, events.ErrStorageFull) || schema.ErrorCode(err) != schema.Full {
			t.Fatalf("storing part %d (1 MB of CSV) in 16 KiB: got %v, want the storage full", p, err)
		}
		if sp, err := bus.Part(ctx, ticket, p); schema.ErrorCode(err) != schema.NotFound {
			t.Fatalf("after refused part %d: Part gives %+v, %v; want not found", p, sp, err)
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "OBJ_"+events.ResultBucket)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(ctx); err != nil || info.State.Bytes > 20*512 {
		t.Fatalf("the result store holds %d bytes (%v) after 20 refused parts, want their deletion markers at most", info.State.Bytes, err)
	}
}
