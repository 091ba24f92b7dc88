package events_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// projectorProcess is a projector with a NATS connection of its own, as in
// an exporter process.
type projectorProcess struct {
	nc     *nats.Conn
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func startProjector(t *testing.T, url string, cfg events.Config) *projectorProcess {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := events.Open(context.Background(), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &projectorProcess{nc: nc, cancel: cancel}
	p.done.Go(func() { _ = events.NewProjector(bus, testenv.TestLogger()).Run(ctx) })
	t.Cleanup(func() { p.stop(); nc.Close() })
	return p
}

// stop ends the projector as a process that shuts down cleanly does.
func (p *projectorProcess) stop() {
	p.cancel()
	p.done.Wait()
}

// One projector process at a time folds the events; when it stops, the
// next one folds the events that follow at once, and when it dies, after
// the ack wait and the pin's margin, beginning with the events the dead
// one held.
func TestProjectorHandover(t *testing.T) {
	srv := testenv.MustStartNATS(t)
	cfg := events.Config{PartAckWait: 3 * time.Second} // the pin lapses 8 s after a death
	nc := testenv.MustConnect(t, srv)
	bus, err := events.Open(context.Background(), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &schema.Network{Name: "array_of_things"}
	folded := func(ticket string, within time.Duration) {
		t.Helper()
		testenv.Eventually(t, within, "the queued event of "+ticket+" is folded", func() bool {
			rec, _, err := bus.Job(context.Background(), ticket)
			return err == nil && rec.Job.Status.Status == schema.StatusQueued
		})
	}
	submit := func(ticket string) {
		t.Helper()
		if _, err := bus.Submit(context.Background(), request(n, ticket, seedEnd.Add(-time.Hour)), ticket); err != nil {
			t.Fatal(err)
		}
	}

	a := startProjector(t, srv.ClientURL(), cfg)
	submit("00000000000000000000000000000001")
	folded("00000000000000000000000000000001", 10*time.Second) // a is pinned
	b := startProjector(t, srv.ClientURL(), cfg)
	a.stop()
	submit("00000000000000000000000000000002")
	// The deadline is short of the pin's 8 s: only a handover meets it.
	folded("00000000000000000000000000000002", 5*time.Second)

	// b dies: its connection drops without a word (no unpin). The next
	// takes over once the pin lapses (ack wait 3 s + 5 s).
	startProjector(t, srv.ClientURL(), cfg)
	b.nc.Close()
	submit("00000000000000000000000000000003")
	folded("00000000000000000000000000000003", 30*time.Second)
}

// The projector folds a job's next event onto the record it last wrote
// without reading it back; when the record was written meanwhile by
// someone else (another projector process, in a handover), the fold is
// onto what was written, not onto the record it remembers.
func TestProjectorFoldsOntoWhatWasWritten(t *testing.T) {
	srv := testenv.MustStartNATS(t)
	cfg := events.Config{}
	ctx := context.Background()
	bus, err := events.Open(ctx, testenv.MustConnect(t, srv), cfg)
	if err != nil {
		t.Fatal(err)
	}
	startProjector(t, srv.ClientURL(), cfg)
	n := &schema.Network{Name: "array_of_things"}
	const ticket = "000000000000000000000000000000aa"
	if _, err := bus.Submit(ctx, request(n, ticket, seedEnd.Add(-time.Hour)), ticket); err != nil {
		t.Fatal(err)
	}
	doc := func() *schema.JobRecord {
		rec, _, err := bus.Job(ctx, ticket)
		if err != nil {
			return &schema.JobRecord{}
		}
		return rec
	}
	testenv.Eventually(t, 10*time.Second, "the queued event is folded", func() bool {
		return doc().Job.Status.Status == schema.StatusQueued
	})
	// Another writer starts the job behind the projector's back.
	plan := []schema.PartSpec{{Part: 1, From: seedEnd.Add(-time.Hour), To: seedEnd.Add(-time.Minute)}, {Part: 2, From: seedEnd.Add(-time.Minute), To: seedEnd}}
	if _, err := events.Fold(ctx, bus.Jobs(), schema.Event{Kind: schema.EventStarted, Ticket: ticket, Time: time.Now().UTC(),
		Plan: plan, Parts: 2, Worker: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(ctx, schema.Event{Kind: schema.EventPartDone, Ticket: ticket, Part: 1, Parts: 2, Rows: 7, Bytes: 70}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the part_done is folded onto the started job", func() bool {
		p := doc().Job.Status.Progress
		return p != nil && p.Done == 1 && p.Rows == 7
	})
	if got := doc().Job.Status.Status; got != schema.StatusProcessing {
		t.Errorf("status %s, want %s", got, schema.StatusProcessing)
	}
}
