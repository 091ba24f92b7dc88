package events_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

var seedEnd = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func newTicket() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// seeded starts a whole service on a network of rows observations.
func seeded(t *testing.T, rows int64, partRows int64) (*testenv.Service, *schema.Network) {
	t.Helper()
	store := testenv.MustOpenStore(t)
	n := chstore.DemoNetwork("array_of_things")
	if err := store.Seed(context.Background(), n, rows, seedEnd); err != nil {
		t.Fatal(err)
	}
	return testenv.StartService(t, testenv.ServiceOptions{Store: store, PartRows: partRows}), n
}

func request(n *schema.Network, ticket string, from time.Time) schema.ExportRequest {
	q := schema.Query{Network: n.Name, Start: from, End: seedEnd, AllNodes: true, AllSensors: true, AllFeatures: true}
	return schema.ExportRequest{Ticket: ticket, Query: q, URLRoot: "http://test/", SubmittedAt: time.Now().UTC()}
}

// collect reads ch until a terminal event or the deadline.
func collect(t *testing.T, ch <-chan schema.Event, within time.Duration) []schema.Event {
	t.Helper()
	var got []schema.Event
	deadline := time.After(within)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed after %d events, before a terminal one", len(got))
			}
			got = append(got, e)
			if e.Kind.Terminal() {
				return got
			}
		case <-deadline:
			t.Fatalf("no terminal event within %s; got %d events", within, len(got))
		}
	}
}

// checkLifecycle asserts the order a successful job's events must have.
func checkLifecycle(t *testing.T, got []schema.Event) {
	t.Helper()
	if len(got) < 3 || got[0].Kind != schema.EventQueued || got[1].Kind != schema.EventStarted || got[len(got)-1].Kind != schema.EventSucceeded {
		t.Fatalf("got kinds %v, want queued, started, ..., succeeded", kinds(got))
	}
	parts := got[1].Parts
	done := map[int]bool{}
	for _, e := range got[2 : len(got)-1] {
		if e.Parts != parts {
			t.Errorf("%s of part %d says the job has %d parts, started said %d", e.Kind, e.Part, e.Parts, parts)
		}
		switch e.Kind {
		case schema.EventPartDone:
			if done[e.Part] {
				t.Errorf("part %d done twice", e.Part)
			}
			done[e.Part] = true
		case schema.EventProgress:
			if done[e.Part] {
				t.Errorf("progress of part %d after its part_done", e.Part)
			}
			if e.Rows <= 0 {
				t.Errorf("progress of part %d with %d rows, want rows so far", e.Part, e.Rows)
			}
		default:
			t.Errorf("unexpected %s between started and succeeded", e.Kind)
		}
	}
	if len(done) != parts || parts < 2 {
		t.Errorf("got %d part_done events, want one per part of %d (at least 2)", len(done), parts)
	}
}

func kinds(es []schema.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s#%d", e.Kind, e.Part))
	}
	return out
}

// A watcher and a plain NATS subscriber, both there before the job is
// submitted, see every event of it in stream order up to the terminal one,
// and the same events.
func TestWatchAndSubscribeSeeEveryEvent(t *testing.T) {
	svc, n := seeded(t, 60_000, 6_000)
	ctx := context.Background()
	ticket := newTicket()

	ch, stop, err := svc.Bus.Watch(ctx, ticket, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var mu sync.Mutex
	var plain []schema.Event
	sub, err := svc.NC.Subscribe(schema.TicketEvents(ticket), func(m *nats.Msg) {
		var e schema.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Errorf("undecodable event on %s: %v", m.Subject, err)
		}
		if _, k, _ := schema.SplitEventSubject(m.Subject); k != e.Kind {
			t.Errorf("event of kind %s on subject %s", e.Kind, m.Subject)
		}
		mu.Lock()
		plain = append(plain, e)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := svc.NC.Flush(); err != nil {
		t.Fatal(err)
	}

	if _, err := svc.Bus.Submit(ctx, request(n, ticket, seedEnd.Add(-7*24*time.Hour)), ticket); err != nil {
		t.Fatal(err)
	}
	got := collect(t, ch, time.Minute)
	checkLifecycle(t, got)
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("seq %d after %d: not in stream order", got[i].Seq, got[i-1].Seq)
		}
	}
	for _, e := range got {
		if e.Version != schema.EventVersion || e.Ticket != ticket || e.Time.IsZero() || e.Seq == 0 {
			t.Errorf("event %+v lacks version, ticket, time or seq", e)
		}
	}
	if last := got[len(got)-1]; last.Rows != 60_000 || last.URL == "" || last.Parts != got[1].Parts {
		t.Errorf("succeeded: got rows %d url %q parts %d, want 60000 rows, a url, %d parts", last.Rows, last.URL, last.Parts, got[1].Parts)
	}

	testenv.Eventually(t, 5*time.Second, "the subscriber sees the terminal event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(plain) > 0 && plain[len(plain)-1].Kind.Terminal()
	})
	mu.Lock()
	defer mu.Unlock()
	if len(plain) != len(got) {
		t.Fatalf("subscriber got %d events %v, watcher %d %v", len(plain), kinds(plain), len(got), kinds(got))
	}
	for i := range got {
		w := got[i]
		w.Seq = 0
		if a, b := mustJSON(t, w), mustJSON(t, plain[i]); a != b {
			t.Errorf("event %d: subscriber got %s, watcher %s", i, b, a)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Watching from any event's seq yields exactly the events after it; stop
// removes the watch's consumer from the server.
func TestWatchResumesAfterSeqAndFreesItsConsumer(t *testing.T) {
	svc, n := seeded(t, 30_000, 5_000)
	ctx := context.Background()
	ticket := newTicket()
	stream, err := svc.Bus.JS().Stream(ctx, events.EventStream)
	if err != nil {
		t.Fatal(err)
	}
	consumers := func() int {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Consumers
	}
	base := consumers()

	if _, err := svc.Bus.Submit(ctx, request(n, ticket, seedEnd.Add(-7*24*time.Hour)), ticket); err != nil {
		t.Fatal(err)
	}
	ch, stop, err := svc.Bus.Watch(ctx, ticket, 0)
	if err != nil {
		t.Fatal(err)
	}
	all := collect(t, ch, time.Minute)
	if consumers() != base+1 {
		t.Errorf("got %d consumers while watching, want %d", consumers(), base+1)
	}
	stop()
	stop() // twice is fine
	if got := consumers(); got != base {
		t.Errorf("got %d consumers after stop, want %d", got, base)
	}
	checkLifecycle(t, all)

	for i, e := range all[:len(all)-1] {
		ch, stop, err := svc.Bus.Watch(ctx, ticket, e.Seq)
		if err != nil {
			t.Fatal(err)
		}
		rest := collect(t, ch, 10*time.Second)
		stop()
		if len(rest) != len(all)-i-1 || rest[0].Seq != all[i+1].Seq {
			t.Fatalf("after seq %d: got %v, want %v", e.Seq, kinds(rest), kinds(all[i+1:]))
		}
	}
	if got := consumers(); got != base {
		t.Errorf("got %d consumers after every watch stopped, want %d", got, base)
	}

	// Ending the context ends the watch too.
	cctx, cancel := context.WithCancel(ctx)
	ch, stop, err = svc.Bus.Watch(cctx, ticket, all[len(all)-1].Seq)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case e, ok := <-ch:
		if ok {
			t.Errorf("got %s after the last event, want nothing", e.Kind)
		}
	case <-time.After(10 * time.Second):
		t.Error("watch still open 10s after its context ended")
	}
	stop()

	if _, _, err := svc.Bus.Watch(ctx, "not-a-ticket", 0); schema.ErrorCode(err) != schema.NotFound {
		t.Errorf("watch of a malformed ticket: got %v, want NotFound", err)
	}
}

// Replaying the event stream into an empty bucket reproduces every job
// document byte for byte: the KV is a pure function of the events.
func TestRebuildReproducesEveryDocument(t *testing.T) {
	svc, n := seeded(t, 40_000, 4_000)
	ctx := context.Background()
	var tickets []string
	for i, from := range []time.Time{seedEnd.Add(-7 * 24 * time.Hour), seedEnd.Add(-2 * 24 * time.Hour), seedEnd.Add(-time.Second), seedEnd.Add(-30 * time.Hour)} {
		tk := newTicket()
		tickets = append(tickets, tk)
		if _, err := svc.Bus.Submit(ctx, request(n, tk, from), tk); err != nil {
			t.Fatal(i, err)
		}
	}
	for _, tk := range tickets {
		testenv.Eventually(t, time.Minute, "job "+tk+" finishes", func() bool {
			rec, _, err := svc.Bus.Job(ctx, tk)
			return err == nil && rec.Terminal()
		})
	}
	// Every event folded, including the projector's own succeeded events.
	cons, err := svc.Bus.JS().Consumer(ctx, events.EventStream, events.ProjectorName)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the projector is idle", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})

	fresh, err := svc.Bus.JS().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "rebuilt_jobs"})
	if err != nil {
		t.Fatal(err)
	}
	consumers := func() int {
		s, err := svc.Bus.JS().Stream(ctx, events.EventStream)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().State.Consumers
	}
	before := consumers()
	if err := events.Rebuild(ctx, svc.Bus, fresh); err != nil {
		t.Fatal(err)
	}
	if got := consumers(); got != before {
		t.Errorf("got %d event stream consumers after the rebuild, want the %d before", got, before)
	}
	keys, err := svc.Bus.Jobs().Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt, err := fresh.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(tickets) || len(rebuilt) != len(keys) {
		t.Fatalf("got %d projected and %d rebuilt documents, want %d each", len(keys), len(rebuilt), len(tickets))
	}
	for _, k := range keys {
		a, err := svc.Bus.Jobs().Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		b, err := fresh.Get(ctx, k)
		if err != nil {
			t.Fatalf("%s: rebuilt bucket lacks it: %v", k, err)
		}
		if string(a.Value()) != string(b.Value()) {
			t.Errorf("%s: rebuilt\n%s\nprojected\n%s", k, b.Value(), a.Value())
		}
		var rec schema.JobRecord
		if err := json.Unmarshal(a.Value(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Job.Status.Status != schema.StatusSuccess {
			t.Errorf("%s: status %s, want success", k, rec.Job.Status.Status)
		}
		if p := rec.Job.Status.Progress; p.Rows > 0 && p.Rate <= 0 {
			t.Errorf("%s: %d rows and no rate", k, p.Rows)
		}
	}
}
