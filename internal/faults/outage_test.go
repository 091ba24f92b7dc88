package faults_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestClickHouseOutageRiddenOut: ClickHouse goes away (a proxy in front of
// the shared server is cut: the server itself is never touched) in the
// middle of two jobs whose deliveries would be spent in about a second
// (2 deliveries). The one with a 2 s outage tolerance fails with a reason
// naming ClickHouse and the tolerance; the one with a minute's waits the
// outage out, no partition counted as redelivered, and its download
// equals ClickHouse.
func TestClickHouseOutageRiddenOut(t *testing.T) {
	store := testenv.MustOpenStore(t)
	seed(t, store, 300_000)
	proxy := testenv.MustStartProxy(t, testenv.ClickHouseAddr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	viaProxy, err := chstore.Open(ctx, chstore.Config{Addr: proxy.Addr, Database: store.Database()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = viaProxy.Close() })

	ride := testenv.StartService(t, testenv.ServiceOptions{Store: viaProxy, PartRows: 10_000, Concurrency: 1,
		Events: events.Config{MaxDeliver: 2, OutageTolerance: time.Minute}})
	short := testenv.StartService(t, testenv.ServiceOptions{Store: viaProxy, PartRows: 10_000, Concurrency: 1,
		Events: events.Config{MaxDeliver: 2, OutageTolerance: 2 * time.Second}})
	from, to := seedEnd.Add(-6*24*time.Hour), seedEnd
	ticketA := ride.Submit(t, network, window(from, to))
	ticketB := short.Submit(t, network, window(from, to))
	ride.WaitPartStored(t, ticketA, time.Minute)
	short.WaitPartStored(t, ticketB, time.Minute)

	proxy.Cut()
	cut := time.Now()
	for _, x := range []struct{ url, ticket string }{{ride.URL, ticketA}, {short.URL, ticketB}} {
		if j := jobDoc(t, x.url, x.ticket); j.Status.Status != schema.StatusProcessing {
			t.Fatalf("job %s ended (%s) before ClickHouse went away; make it bigger", x.ticket, j.Status.Status)
		}
	}
	j := short.Wait(t, ticketB, 30*time.Second)
	res, _ := j.Result.(map[string]any)
	reason, _ := res["error"].(string)
	if j.Status.Status != schema.StatusError || !strings.Contains(reason, "ClickHouse") || !strings.Contains(reason, "2s") {
		t.Fatalf("tolerance 2s: got status %q, result %v; want error naming ClickHouse and the tolerance", j.Status.Status, j.Result)
	}
	t.Logf("job %s failed %s after the cut: %q", ticketB, time.Since(cut).Round(time.Millisecond), reason)

	// The outage lasts 6 s in all: three times the short tolerance, and
	// several times what 2 deliveries' backoff outlasts.
	<-time.After(time.Until(cut.Add(6 * time.Second)))
	if j := jobDoc(t, ride.URL, ticketA); j.Status.Status != schema.StatusProcessing {
		t.Fatalf("job %s: got %q during the outage, want processing", ticketA, j.Status.Status)
	}
	proxy.Restore()
	mustSucceed(t, ride.URL, ticketA, 2*time.Minute)
	t.Logf("job %s succeeded %s after the cut", ticketA, time.Since(cut).Round(time.Millisecond))
	if n := metric(t, ride.URL+"/metrics", "exportd_part_redeliveries_total"); n != 0 {
		t.Fatalf("got %v redelivered partitions, want 0: an outage is not a failed delivery", n)
	}
	checkDownload(t, ride.URL, ticketA, testenv.ClickHouseAddr(), store.Database(), from, to)
}
