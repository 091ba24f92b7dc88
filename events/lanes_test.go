package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestPartsOverASlowLink: exporters whose link to NATS takes 700 ms each
// way (a proxy; a NATS cluster far away, or one under load, answers that
// late) are handed every queued part of both lanes once. A pull reply
// that comes more than a second after its request expired (nats.go's
// Fetch and FetchNoWait stop listening then) is not lost: the server
// counts that message as delivered, so lost it would come back, as a
// second delivery, only after the whole ack wait.
func TestPartsOverASlowLink(t *testing.T) {
	ctx := t.Context()
	s := testenv.MustStartNATS(t)
	cfg := events.Config{PartAckWait: 10 * time.Second}
	queuer, err := events.Open(ctx, testenv.MustConnect(t, s), cfg)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.MustStartProxy(t, strings.TrimPrefix(s.ClientURL(), "nats://"))
	nc, err := nats.Connect("nats://" + proxy.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	exporter, err := events.Open(ctx, nc, cfg) // the topology at full speed
	if err != nil {
		t.Fatal(err)
	}

	// Queued before the exporters look: their first pulls find parts.
	express, bulk := newTicket(), newTicket()
	const perLane = 3
	for i := 1; i <= perLane; i++ {
		for _, q := range []struct {
			ticket string
			lane   events.Lane
		}{{express, events.Express}, {bulk, events.Bulk}} {
			task := schema.PartTask{Ticket: q.ticket, Parts: perLane, Spec: schema.PartSpec{Part: i}}
			if err := queuer.QueuePart(ctx, task, q.lane); err != nil {
				t.Fatal(err)
			}
		}
	}

	proxy.SetLatency(700 * time.Millisecond)
	type handled struct {
		part      string
		delivered uint64
	}
	got := make(chan handled, 4*perLane)
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() {
		ran <- exporter.ConsumeParts(runCtx, 2, slog.New(slog.DiscardHandler), func(ctx context.Context, d *events.Delivery) {
			var task schema.PartTask
			if err := json.Unmarshal(d.Data(), &task); err != nil {
				t.Errorf("part %q: %v", d.Data(), err)
			}
			if err := d.Ack(ctx); err != nil && runCtx.Err() == nil {
				t.Errorf("ack: %v", err)
			}
			got <- handled{fmt.Sprintf("%s/%d", task.Ticket, task.Spec.Part), d.Delivered()}
		})
	}()
	defer func() { stop(); <-ran }()

	// A lost reply shows as the part's second delivery, after the ack wait.
	deadline := time.After(2*cfg.PartAckWait + 30*time.Second)
	seen := map[string]uint64{}
	start := time.Now()
	for len(seen) < 2*perLane {
		select {
		case h := <-got:
			if h.delivered != 1 || seen[h.part] != 0 {
				t.Fatalf("part %s handed out again (delivery %d): a pull reply was lost; handled before it: %v", h.part, h.delivered, seen)
			}
			seen[h.part] = h.delivered
		case <-deadline:
			t.Fatalf("handled %d of %d parts: %v", len(seen), 2*perLane, seen)
		}
	}
	t.Logf("%d parts handled, each once, in %s", len(seen), time.Since(start).Round(time.Millisecond))
}
