package events_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestPartAfterReconnect: the NATS server restarts (the same port and
// store) while the exporter's workers wait idle, each with a pull request
// open on both lanes. The restarted server knows none of those requests,
// so a part queued just after the exporter reconnects must still go to a
// worker at once: not when the forgotten requests would have expired and
// been given up for lost (laneWait + replyLost, up to 7 s after they were
// sent), nor after a pause for an error. A server that crashed (the link
// cut before it stops, so that the client hears nothing) says nothing to
// the requests; one shut down answers each "409 Server Shutdown".
func TestPartAfterReconnect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		crash bool
	}{{"crash", true}, {"shutdown", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			r := startRestartable(t)
			nc := r.nc
			bus, err := events.Open(ctx, nc, events.Config{PartAckWait: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}

			const workers = 2
			type handled struct {
				ticket string
				at     time.Time
			}
			got := make(chan handled, 8)
			runCtx, stop := context.WithCancel(ctx)
			ran := make(chan error, 1)
			go func() {
				ran <- bus.ConsumeParts(runCtx, workers, testenv.TestLogger(), func(ctx context.Context, d *events.Delivery) {
					var task schema.PartTask
					if err := json.Unmarshal(d.Data(), &task); err != nil {
						t.Errorf("part %q: %v", d.Data(), err)
					}
					if err := d.Ack(ctx); err != nil && runCtx.Err() == nil {
						t.Errorf("ack: %v", err)
					}
					got <- handled{task.Ticket, time.Now()}
				})
			}()
			defer func() { stop(); <-ran }()

			// Every worker idle, its requests held by the server about to stop.
			testenv.Eventually(t, 10*time.Second, "every worker waiting on both lanes", func() bool {
				for _, name := range []string{events.ExpressName, events.ExporterName} {
					c, err := bus.JS().Consumer(ctx, events.PartStream, name)
					if err != nil {
						return false
					}
					info, err := c.Info(ctx)
					if err != nil || info.NumWaiting < workers {
						return false
					}
				}
				return true
			})
			back := r.restart(t, tc.crash)

			// One part on each lane, queued the moment the exporter is back.
			lanes := map[string]string{newTicket(): "express", newTicket(): "bulk"}
			for ticket, lane := range lanes {
				task := schema.PartTask{Ticket: ticket, Parts: 1, Spec: schema.PartSpec{Part: 1}}
				l := events.Bulk
				if lane == "express" {
					l = events.Express
				}
				if err := bus.QueuePart(ctx, task, l); err != nil {
					t.Fatal(err)
				}
			}
			// An idle worker takes a part in milliseconds; the forgotten
			// requests kept them waiting 4-7 s, the 409s 1-2 s.
			const within = time.Second
			deadline := time.After(30 * time.Second)
			for range lanes {
				select {
				case h := <-got:
					delay := h.at.Sub(back)
					t.Logf("%s part handled %s after the reconnect", lanes[h.ticket], delay.Round(time.Millisecond))
					if delay > within {
						t.Errorf("%s part handled %s after the reconnect, want under %s", lanes[h.ticket], delay.Round(time.Millisecond), within)
					}
				case <-deadline:
					t.Fatal("a part queued after the reconnect was not handled within 30 s")
				}
			}
		})
	}
}

// restartable is a nats-server on a port and store of its own, reached
// through a proxy that can cut the link, and a connection to it that
// tries again every 50 ms after losing it.
type restartable struct {
	dir         string
	port        int
	s           *server.Server
	proxy       *testenv.Proxy
	nc          *nats.Conn
	reconnected chan time.Time
}

func startRestartable(t *testing.T) *restartable {
	t.Helper()
	r := &restartable{dir: t.TempDir(), port: testenv.FreePort(t), reconnected: make(chan time.Time, 8)}
	r.s = testenv.MustStartNATSAt(t, r.dir, r.port)
	r.proxy = testenv.MustStartProxy(t, strings.TrimPrefix(r.s.ClientURL(), "nats://"))
	nc, err := nats.Connect("nats://"+r.proxy.Addr, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { r.reconnected <- time.Now() }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r.nc = nc
	return r
}

// restart stops the server (crash: the link cut first, so that the client
// hears nothing of it), starts it again on its port and store, and returns
// when the connection is back.
func (r *restartable) restart(t *testing.T, crash bool) time.Time {
	t.Helper()
	if crash {
		r.proxy.Cut()
	}
	r.s.Shutdown()
	r.s.WaitForShutdown()
	r.s = testenv.MustStartNATSAt(t, r.dir, r.port)
	r.proxy.Restore()
	select {
	case back := <-r.reconnected:
		return back
	case <-time.After(30 * time.Second):
		t.Fatal("the connection did not reconnect within 30 s")
		return time.Time{}
	}
}
