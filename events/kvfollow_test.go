package events_test

import (
	"testing"
	"time"

	"github.com/plenario-next/exportd/events"
)

// TestWatchJobsAcrossCrash: the NATS server crashes (the link cut before
// it stops, so that the client hears nothing) and comes back on the same
// port and store. Its KV watches lived in the old server's memory; the
// job documents changed after the reconnect still reach WatchJobs at
// once, not when nats.go misses two idle heartbeats (10-20 s), and every
// change reaches it once, in the bucket's order.
func TestWatchJobsAcrossCrash(t *testing.T) {
	ctx := t.Context()
	r := startRestartable(t)
	bus, err := events.Open(ctx, r.nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	type change struct {
		c  events.JobChange
		at time.Time
	}
	changes := make(chan change, 64)
	go func() {
		_ = bus.WatchJobs(ctx, func(c events.JobChange) { changes <- change{c, time.Now()} })
	}()
	var revs []uint64
	put := func(n int) {
		for range n {
			if _, err := bus.Jobs().Put(ctx, newTicket(), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	receive := func(n int) []change {
		var got []change
		deadline := time.After(30 * time.Second)
		for len(got) < n {
			select {
			case c := <-changes:
				got = append(got, c)
				revs = append(revs, c.c.Revision)
			case <-deadline:
				t.Fatalf("got %d of %d changes within 30 s", len(got), n)
			}
		}
		return got
	}
	put(5)
	receive(5)

	back := r.restart(t, true)
	put(3)
	const within = 2 * time.Second
	for _, c := range receive(3) {
		if d := c.at.Sub(back); d > within {
			t.Errorf("revision %d seen %s after the reconnect, want under %s", c.c.Revision, d.Round(time.Millisecond), within)
		}
	}
	for i := 1; i < len(revs); i++ {
		if revs[i] != revs[i-1]+1 {
			t.Fatalf("revisions seen %v: want each once, in order", revs)
		}
	}
	t.Logf("revisions seen: %v", revs)
}
