package faults_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// ownClickHouse is a ClickHouse server of the test's own, started with
// scripts/clickhouse.sh on free ports and a temporary data directory, so
// that stopping it touches nothing else.
type ownClickHouse struct {
	addr string
	env  []string
}

func startOwnClickHouse(t *testing.T) *ownClickHouse {
	t.Helper()
	port := testenv.FreePort(t)
	ch := &ownClickHouse{addr: fmt.Sprintf("127.0.0.1:%d", port), env: []string{
		"EXPORTD_DATA_DIR=" + t.TempDir(), fmt.Sprintf("EXPORTD_CLICKHOUSE_PORT=%d", port),
		fmt.Sprintf("EXPORTD_CLICKHOUSE_HTTP_PORT=%d", testenv.FreePort(t)), "EXPORTD_CLICKHOUSE_START_TIMEOUT=90"}}
	ch.run(t, "start")
	t.Cleanup(func() { ch.run(t, "stop") }) // before the data directory goes
	return ch
}

// run runs scripts/clickhouse.sh cmd on this server.
func (ch *ownClickHouse) run(t *testing.T, cmd string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "scripts/clickhouse.sh", cmd)
	c.Dir = modRoot
	for _, kv := range c.Environ() {
		if !strings.HasPrefix(kv, "EXPORTD_") {
			c.Env = append(c.Env, kv)
		}
	}
	c.Env = append(c.Env, ch.env...)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("scripts/clickhouse.sh %s on %s: %v\n%s", cmd, ch.addr, err, out)
	}
}

// TestClickHouseStopped: ClickHouse is stopped in the middle of two jobs on
// two services, both with a delivery budget that a restart outlasts (2
// deliveries). The one with a short outage tolerance (3 s) ends in "error"
// with a reason naming ClickHouse instead of staying "processing"; the
// other (the default 5 minutes) resumes when ClickHouse is back, and its
// download equals ClickHouse.
func TestClickHouseStopped(t *testing.T) {
	ch := startOwnClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := chstore.Open(ctx, chstore.Config{Addr: ch.addr, Database: "faults"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	seed(t, store, 600_000)

	// An outage is retried in place, no delivery counted: 2 deliveries
	// (about a second of backoff) do not matter, the tolerance does.
	resume := testenv.StartService(t, testenv.ServiceOptions{Store: store, PartRows: 10_000, Concurrency: 2,
		Events: events.Config{MaxDeliver: 2}})
	giveUp := testenv.StartService(t, testenv.ServiceOptions{Store: store, PartRows: 10_000, Concurrency: 2,
		Events: events.Config{MaxDeliver: 2, OutageTolerance: 3 * time.Second}})
	from, to := seedEnd.Add(-6*24*time.Hour), seedEnd
	ticketA := resume.Submit(t, network, window(from, to))
	ticketB := giveUp.Submit(t, network, window(from, to))
	testenv.Eventually(t, 60*time.Second, "both jobs running", func() bool {
		for _, x := range []struct{ url, ticket string }{{resume.URL, ticketA}, {giveUp.URL, ticketB}} {
			j := jobDoc(t, x.url, x.ticket)
			if j.Status.Status != schema.StatusProcessing || j.Status.Progress.Done < 1 {
				if j.Status.Status != schema.StatusQueued && j.Status.Status != schema.StatusProcessing {
					t.Fatalf("job %s %s before ClickHouse stopped", x.ticket, j.Status.Status)
				}
				return false
			}
		}
		return true
	})
	// The outage starts with the stop, not when the stop returns: the
	// server refuses work at once but takes seconds to exit on a loaded
	// machine, more than the 3 s tolerance, so by then the short-tolerance
	// job may rightly have failed already. Neither job may have succeeded,
	// and the one with 5 minutes of tolerance must still be running.
	stopped := time.Now()
	ch.run(t, "stop")
	for _, x := range []struct {
		url, ticket string
		ok          []string
	}{{resume.URL, ticketA, []string{schema.StatusProcessing}}, {giveUp.URL, ticketB, []string{schema.StatusProcessing, schema.StatusError}}} {
		j := jobDoc(t, x.url, x.ticket)
		t.Logf("ClickHouse stopped (%s): job %s %s, %d of %d parts", time.Since(stopped).Round(time.Millisecond),
			x.ticket, j.Status.Status, j.Status.Progress.Done, j.Status.Progress.Total)
		if !slices.Contains(x.ok, j.Status.Status) {
			t.Fatalf("job %s: got %s right after ClickHouse stopped, want one of %v (if it succeeded: make it bigger)",
				x.ticket, j.Status.Status, x.ok)
		}
	}

	// (b) ClickHouse stays down: the job with 3 s of tolerance fails, clearly,
	// and not before its 3 s of outage are over.
	j := giveUp.Wait(t, ticketB, 60*time.Second)
	res, _ := j.Result.(map[string]any)
	reason, _ := res["error"].(string)
	if j.Status.Status != schema.StatusError || !strings.Contains(reason, "ClickHouse") || j.Status.Meta.EndTime == "" {
		t.Fatalf("with ClickHouse down: got status %q, result %v, endTime %q; want error naming ClickHouse",
			j.Status.Status, j.Result, j.Status.Meta.EndTime)
	}
	if end, err := time.Parse(schema.MetaTimeLayout, j.Status.Meta.EndTime); err != nil || end.Before(stopped.Add(3*time.Second)) {
		t.Fatalf("job %s ended at %q (%v), want 3 s (its outage tolerance) or more after ClickHouse stopped at %s",
			ticketB, j.Status.Meta.EndTime, err, stopped.UTC().Format(schema.MetaTimeLayout))
	}
	t.Logf("job %s failed %s after ClickHouse stopped: %q", ticketB, time.Since(stopped).Round(time.Millisecond), reason)
	if j := jobDoc(t, resume.URL, ticketA); j.Status.Status != schema.StatusProcessing {
		t.Fatalf("job %s: got %q while ClickHouse is down, want processing (retrying)", ticketA, j.Status.Status)
	}

	// (a) ClickHouse back within the tolerance: the other job resumes.
	ch.run(t, "start")
	t.Logf("ClickHouse back %s after it stopped", time.Since(stopped).Round(time.Millisecond))
	mustSucceed(t, resume.URL, ticketA, 3*time.Minute)
	t.Logf("job %s succeeded %s after ClickHouse stopped", ticketA, time.Since(stopped).Round(time.Millisecond))
	checkDownload(t, resume.URL, ticketA, ch.addr, "faults", from, to)
}
