package faults_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestJobAfterNATSCrash: the NATS server a service uses crashes while the
// service idles (the link cut before it stops, so that the service hears
// nothing) and comes back on the same port and store. As soon as the
// service is connected again, a webhook is registered and a small job
// submitted: the job is served as finished, and its succeeded event
// reaches the webhook, about as fast as before the crash. Nothing waits
// for what the new server never heard of: the exporter's idle workers
// did for their pull requests (4-7 s), the gateway's job cache and the
// webhook registry's watch for their KV watches (10-20 s).
func TestJobAfterNATSCrash(t *testing.T) {
	store := sharedStore(t)
	dir, port := t.TempDir(), testenv.FreePort(t)
	s := testenv.MustStartNATSAt(t, dir, port)
	proxy := testenv.MustStartProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
	svc := testenv.StartService(t, testenv.ServiceOptions{Store: store, NATSURL: "nats://" + proxy.Addr,
		PartRows: 50_000, Concurrency: 2, Events: events.Config{PartAckWait: 10 * time.Second},
		WebhookAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, WebhookBackoff: 50 * time.Millisecond})

	type arrival struct {
		hook, ticket string
		at           time.Time
	}
	succeeded := make(chan arrival, 16) // the succeeded events the receiver got
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e schema.Event
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &e) == nil && e.Kind == schema.EventSucceeded {
			select {
			case succeeded <- arrival{r.URL.Path, e.Ticket, time.Now()}:
			default: // more than a test reads; none is waited for
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	// register registers a webhook of its own path.
	register := func() (path string) {
		path = "/" + testenv.RandomName("hook")
		form := url.Values{"url": {rcv.URL + path}, "events": {"succeeded"}}
		resp, err := http.Post(svc.URL+"/v1/api/webhooks", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("register a webhook: got %d, want 201", resp.StatusCode)
		}
		return path
	}
	// timed registers a webhook, submits a small job, and returns how long
	// after start the job was served as succeeded and its event reached
	// that webhook (those registered before get it too).
	timed := func(start time.Time, hoursBeforeEnd int) (job, hook time.Duration) {
		path := register()
		from := seedEnd.Add(-time.Duration(hoursBeforeEnd) * time.Hour)
		ticket := svc.Submit(t, network, window(from, from.Add(time.Hour)))
		mustSucceed(t, svc.URL, ticket, time.Minute)
		job = time.Since(start)
		deadline := time.After(time.Minute)
		for {
			select {
			case got := <-succeeded:
				if got.hook == path && got.ticket == ticket {
					return job, got.at.Sub(start)
				}
			case <-deadline:
				t.Fatalf("job %s: its succeeded event did not reach the webhook within a minute", ticket)
			}
		}
	}
	jobBefore, hookBefore := timed(time.Now(), 2)

	// Every exporter worker idle, its requests held by the server about to
	// crash.
	ctx := t.Context()
	testenv.Eventually(t, 10*time.Second, "every exporter worker waiting on both lanes", func() bool {
		for _, name := range []string{events.ExpressName, events.ExporterName} {
			c, err := svc.JS.Consumer(ctx, events.PartStream, name)
			if err != nil {
				return false
			}
			info, err := c.Info(ctx)
			if err != nil || info.NumWaiting < 2 {
				return false
			}
		}
		return true
	})
	proxy.Cut()
	s.Shutdown()
	s.WaitForShutdown()
	s = testenv.MustStartNATSAt(t, dir, port)
	proxy.Restore()
	testenv.Eventually(t, 30*time.Second, "the service connected to the restarted server", func() bool {
		return svc.Bus.ConnectedServer() == s.Name()
	})
	back := time.Now()

	// The webhook timed registers is new, so that its first delivery waits
	// for the registry's watch to see it.
	job, hook := timed(back, 4)
	t.Logf("a small job served as succeeded %s before the crash, %s from the reconnect; its event at a new webhook %s before, %s from the reconnect",
		jobBefore.Round(time.Millisecond), job.Round(time.Millisecond), hookBefore.Round(time.Millisecond), hook.Round(time.Millisecond))
	const within = 2 * time.Second
	if job > within {
		t.Errorf("a small job took %s from the reconnect to be served as succeeded (%s before the crash), want under %s",
			job.Round(time.Millisecond), jobBefore.Round(time.Millisecond), within)
	}
	if hook > within {
		t.Errorf("a small job's succeeded event took %s from the reconnect to reach a new webhook (%s before the crash), want under %s",
			hook.Round(time.Millisecond), hookBefore.Round(time.Millisecond), within)
	}
}
