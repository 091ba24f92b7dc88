package events_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
)

// TestWatchJobsAcrossCrash: the NATS server crashes (the link cut before
// it stops, so that the client hears nothing) and comes back on the same
// port and store. Its KV watches lived in the old server's memory; the
// job documents changed after the reconnect still reach WatchJobs at
// once, not when nats.go misses two idle heartbeats (10-20 s), and every
// change reaches it once, in the bucket's order.
func TestWatchJobsAcrossCrash(t *testing.T) {
	ctx := t.Context()
	dir, port := t.TempDir(), testenv.FreePort(t)
	s := testenv.MustStartNATSAt(t, dir, port)
	proxy := testenv.MustStartProxy(t, strings.TrimPrefix(s.ClientURL(), "nats://"))
	reconnected := make(chan time.Time, 8)
	nc, err := nats.Connect("nats://"+proxy.Addr, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- time.Now() }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	bus, err := events.Open(ctx, nc, events.Config{})
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

	proxy.Cut()
	s.Shutdown()
	s.WaitForShutdown()
	testenv.MustStartNATSAt(t, dir, port)
	proxy.Restore()
	var back time.Time
	select {
	case back = <-reconnected:
	case <-time.After(30 * time.Second):
		t.Fatal("the connection did not reconnect within 30 s")
	}
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
