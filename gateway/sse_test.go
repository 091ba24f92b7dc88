package gateway_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

var sseSeedEnd = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)

// sseMsg is one server-sent event, or a comment (a heartbeat).
type sseMsg struct {
	Event, ID, Data string
	Comment         string
}

// sseStream reads an event stream line by line, as EventSource does.
type sseStream struct {
	Resp   *http.Response
	msgs   chan sseMsg
	cancel context.CancelFunc
}

var sseClient = &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 300}}

func sseOpen(t testing.TB, u string, hdr ...string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := sseClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &sseStream{Resp: resp, msgs: make(chan sseMsg, 64), cancel: cancel}
	t.Cleanup(s.Close)
	go func() {
		defer close(s.msgs)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var m sseMsg
		var has bool
		for sc.Scan() {
			line := sc.Text()
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch {
			case line == "":
				if has {
					s.msgs <- m
				}
				m, has = sseMsg{}, false
			case field == "":
				s.msgs <- sseMsg{Comment: value}
			case field == "event":
				m.Event, has = value, true
			case field == "id":
				m.ID, has = value, true
			case field == "data":
				m.Data, has = m.Data+value, true
			}
		}
	}()
	return s
}

// Close leaves, as a browser tab closing would.
func (s *sseStream) Close() {
	s.cancel()
	s.Resp.Body.Close()
}

// Next returns the next event, skipping comments; ok is false at the end
// of the stream.
func (s *sseStream) Next(t testing.TB, within time.Duration) (sseMsg, bool) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return m, false
			}
			if m.Comment != "" {
				continue
			}
			return m, true
		case <-deadline:
			t.Fatalf("no event within %s", within)
		}
	}
}

// UntilTerminal returns the events up to and including a terminal one, and
// checks that the stream then ends.
func (s *sseStream) UntilTerminal(t testing.TB, within time.Duration) []sseMsg {
	t.Helper()
	var got []sseMsg
	for {
		m, ok := s.Next(t, within)
		if !ok {
			t.Fatalf("stream ended after %v, before a terminal event", sseKinds(got))
		}
		got = append(got, m)
		if schema.EventKind(m.Event).Terminal() {
			break
		}
	}
	if m, ok := s.Next(t, 10*time.Second); ok {
		t.Fatalf("got %s after the terminal event, want the end of the stream", m.Event)
	}
	return got
}

func sseKinds(ms []sseMsg) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Event+"@"+m.ID)
	}
	return out
}

func sseEvent(t testing.TB, m sseMsg) schema.Event {
	t.Helper()
	var e schema.Event
	if err := json.Unmarshal([]byte(m.Data), &e); err != nil {
		t.Fatalf("event %s: %v in %q", m.Event, err, m.Data)
	}
	if string(e.Kind) != m.Event || strconv.FormatUint(e.Seq, 10) != m.ID {
		t.Fatalf("event %s id %s carries kind %s seq %d", m.Event, m.ID, e.Kind, e.Seq)
	}
	return e
}

func sseJob(t testing.TB, m sseMsg) schema.Job {
	t.Helper()
	if m.Event != "job" {
		t.Fatalf("got first event %q, want job", m.Event)
	}
	var j schema.Job
	if err := json.Unmarshal([]byte(m.Data), &j); err != nil {
		t.Fatalf("job document: %v in %q", err, m.Data)
	}
	return j
}

func sseGetJSON(t testing.TB, u string, v any) {
	t.Helper()
	resp, body := testenv.Do(t, http.MethodGet, u)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func sseNewTicket() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sseURL(svc *testenv.Service, ticket string) string {
	return svc.URL + "/v1/api/jobs/" + ticket + "/events"
}

// streamSeqs returns the stream sequences of ticket's events, read back
// from JetStream, after seq after, up to the terminal one.
func streamSeqs(t *testing.T, bus *events.Bus, ticket string, after uint64) []string {
	t.Helper()
	ch, stop, err := bus.Watch(context.Background(), ticket, after)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var out []string
	for {
		select {
		case e := <-ch:
			out = append(out, string(e.Kind)+"@"+strconv.FormatUint(e.Seq, 10))
			if e.Kind.Terminal() {
				return out
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("stream of %s has no terminal event after %v", ticket, out)
		}
	}
}

// eventConsumers counts the consumers of the event stream.
func eventConsumers(t *testing.T, js jetstream.JetStream) int {
	t.Helper()
	s, err := js.Stream(context.Background(), events.EventStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

// handJob submits a job nobody plans: the test publishes its events.
func handJob(t testing.TB, svc *testenv.Service) string {
	t.Helper()
	ticket := sseNewTicket()
	q := schema.Query{Network: "array_of_things", Start: sseSeedEnd.Add(-time.Hour), End: sseSeedEnd, AllNodes: true, AllSensors: true, AllFeatures: true}
	if _, err := svc.Bus.Submit(context.Background(), schema.ExportRequest{Ticket: ticket, Query: q, URLRoot: svc.URL + "/", SubmittedAt: time.Now().UTC()}, ticket); err != nil {
		t.Fatal(err)
	}
	return ticket
}

func publish(t testing.TB, svc *testenv.Service, e schema.Event) uint64 {
	t.Helper()
	seq, err := svc.Bus.Publish(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// Over SSE and over plain NATS, both there before the job runs: every event
// in order up to the terminal one, the SSE ids being the stream sequences.
func TestSSEFromQueuedToSucceeded(t *testing.T) {
	store := testenv.MustOpenStore(t)
	const rows = 360_000 // parts past 65 536 rows, where exporters count
	if err := store.Seed(context.Background(), chstore.DemoNetwork("array_of_things"), rows, sseSeedEnd); err != nil {
		t.Fatal(err)
	}
	// No exporter yet: the job waits, queued, until the watchers are there.
	svc := testenv.StartService(t, testenv.ServiceOptions{Store: store, NoExporter: true})

	var mu sync.Mutex
	var plain []schema.Event
	sub, err := svc.NC.Subscribe(schema.EventSubjectAll, func(m *nats.Msg) {
		var e schema.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Errorf("undecodable event on %s: %v", m.Subject, err)
			return
		}
		mu.Lock()
		plain = append(plain, e)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	_ = svc.NC.Flush()

	var job schema.Job
	sseGetJSON(t, svc.URL+"/v1/api/sensor-networks/array_of_things/download?start_datetime="+
		sseSeedEnd.Add(-7*24*time.Hour).Format(schema.DatetimeLayout)+"&end_datetime="+sseSeedEnd.Format(schema.DatetimeLayout), &job)

	s := sseOpen(t, sseURL(svc, job.Ticket))
	if ct := s.Resp.Header.Get("Content-Type"); s.Resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("got %d %q, want 200 text/event-stream", s.Resp.StatusCode, ct)
	}
	first, _ := s.Next(t, 10*time.Second)
	doc := sseJob(t, first)
	if doc.Ticket != job.Ticket || doc.Status.Status != schema.StatusQueued {
		t.Fatalf("got document %+v, want the queued job %s", doc, job.Ticket)
	}

	// Now the job runs, reporting progress every 65 536 rows, the interval
	// being too long to matter.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	pl := exporter.NewPlanner(svc.Bus, store, testenv.TestLogger())
	pl.PartRows = 100_000
	ex := exporter.NewExporter(svc.Bus, store, testenv.TestLogger())
	ex.Concurrency, ex.ProgressInterval, ex.ProgressRows = 2, time.Hour, 1<<16
	for _, run := range []func(context.Context) error{pl.Run, ex.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}

	got := s.UntilTerminal(t, time.Minute)
	var evs []schema.Event
	for _, m := range got {
		evs = append(evs, sseEvent(t, m))
	}
	// In the stream's order, exactly the stream's events after the document.
	if want := streamSeqs(t, svc.Bus, job.Ticket, 0); strings.Join(sseKinds(append([]sseMsg{{Event: "queued", ID: first.ID}}, got...)), " ") != strings.Join(want, " ") {
		t.Fatalf("SSE saw\n%v\nthe stream holds\n%v", sseKinds(got), want)
	}
	if evs[0].Kind != schema.EventStarted || evs[len(evs)-1].Kind != schema.EventSucceeded {
		t.Fatalf("got %v, want started ... succeeded", sseKinds(got))
	}
	parts, done, progress := evs[0].Parts, map[int]int64{}, 0
	last := map[int]int64{}
	for _, e := range evs[1 : len(evs)-1] {
		switch e.Kind {
		case schema.EventProgress:
			progress++
			if e.Rows <= last[e.Part] {
				t.Errorf("part %d progress went from %d to %d rows", e.Part, last[e.Part], e.Rows)
			}
			last[e.Part] = e.Rows
		case schema.EventPartDone:
			done[e.Part] = e.Rows
			if e.Rows < last[e.Part] {
				t.Errorf("part %d done with %d rows after progress reported %d", e.Part, e.Rows, last[e.Part])
			}
		default:
			t.Errorf("unexpected %s", e.Kind)
		}
	}
	var sum int64
	for _, n := range done {
		sum += n
	}
	if parts < 3 || len(done) != parts || sum != rows {
		t.Errorf("got %d parts done of %d with %d rows, want all of at least 3 with %d", len(done), parts, sum, rows)
	}
	if progress == 0 {
		t.Error("no progress event from parts of about 90 000 rows reporting every 65 536")
	}
	t.Logf("%d parts, %d progress events", parts, progress)
	if final := evs[len(evs)-1]; final.Rows != rows || final.URL != svc.URL+"/v1/api/datadump/"+job.Ticket {
		t.Errorf("succeeded: got rows %d url %q", final.Rows, final.URL)
	}

	// The NATS subscriber saw the same, from the queued event on.
	testenv.Eventually(t, 5*time.Second, "the subscriber sees succeeded", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(plain) > 0 && plain[len(plain)-1].Kind == schema.EventSucceeded
	})
	mu.Lock()
	var mine []schema.Event
	for _, e := range plain {
		if e.Ticket == job.Ticket {
			mine = append(mine, e)
		}
	}
	mu.Unlock()
	if len(mine) != len(evs)+1 || mine[0].Kind != schema.EventQueued {
		t.Fatalf("subscriber got %d events, SSE %d after the queued one", len(mine), len(evs))
	}
	for i, e := range evs {
		e.Seq = 0
		a, _ := json.Marshal(e)
		b, _ := json.Marshal(mine[i+1])
		if string(a) != string(b) {
			t.Errorf("event %d: SSE %s, NATS %s", i, a, b)
		}
	}

	// The document's progress: every row of the estimate, and a rate.
	sseGetJSON(t, svc.URL+"/v1/api/jobs/"+job.Ticket, &job)
	if p := job.Status.Progress; p == nil || p.Rows != rows || p.Estimate != rows || p.Done != parts || p.Rate <= 0 {
		t.Errorf("got progress %+v, want %d of %d rows, %d parts, a rate", p, rows, rows, parts)
	}
}

// A client that drops mid-job and comes back with Last-Event-ID gets every
// event it missed, once, and nothing it had.
func TestSSEResumeWithLastEventID(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	svc.Gw.SSEHeartbeat = 20 * time.Millisecond
	base := eventConsumers(t, svc.JS)
	ticket := handJob(t, svc)
	publish(t, svc, schema.Event{Kind: schema.EventStarted, Ticket: ticket, Parts: 4, Estimate: 400, Worker: "hand"})

	s := sseOpen(t, sseURL(svc, ticket))
	first, _ := s.Next(t, 10*time.Second)
	sseJob(t, first)
	seen := []sseMsg{first}
	publish(t, svc, schema.Event{Kind: schema.EventPartDone, Ticket: ticket, Part: 1, Rows: 100})
	publish(t, svc, schema.Event{Kind: schema.EventProgress, Ticket: ticket, Part: 2, Rows: 30})
	for len(seen) < 3 || seen[len(seen)-1].Event != "progress" {
		m, ok := s.Next(t, 10*time.Second)
		if !ok {
			t.Fatal("stream ended mid-job")
		}
		seen = append(seen, m)
	}
	// Idle: heartbeats keep coming.
	for hb := 0; hb < 2; {
		select {
		case m := <-s.msgs:
			if m.Comment != "heartbeat" {
				t.Fatalf("got %+v while idle, want a heartbeat", m)
			}
			hb++
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat while idle")
		}
	}
	s.Close()
	testenv.Eventually(t, 5*time.Second, "the gateway frees the consumer of a client that left", func() bool {
		return eventConsumers(t, svc.JS) == base
	})

	// Missed while away.
	publish(t, svc, schema.Event{Kind: schema.EventProgress, Ticket: ticket, Part: 2, Rows: 60})
	publish(t, svc, schema.Event{Kind: schema.EventPartDone, Ticket: ticket, Part: 2, Rows: 100})
	publish(t, svc, schema.Event{Kind: schema.EventPartDone, Ticket: ticket, Part: 3, Rows: 100})

	lastID := seen[len(seen)-1].ID
	s2 := sseOpen(t, sseURL(svc, ticket), "Last-Event-ID", lastID)
	if s2.Resp.StatusCode != 200 {
		t.Fatalf("resume: got %d", s2.Resp.StatusCode)
	}
	var rest []sseMsg
	for len(rest) < 3 {
		m, ok := s2.Next(t, 10*time.Second)
		if !ok {
			t.Fatal("resumed stream ended early")
		}
		if m.Event == "job" {
			t.Fatal("resumed stream resent the document")
		}
		rest = append(rest, m)
	}
	publish(t, svc, schema.Event{Kind: schema.EventPartDone, Ticket: ticket, Part: 4, Rows: 100})
	rest = append(rest, s2.UntilTerminal(t, 10*time.Second)...)

	docSeq, _ := strconv.ParseUint(first.ID, 10, 64)
	want := streamSeqs(t, svc.Bus, ticket, docSeq)
	if got := sseKinds(append(seen[1:], rest...)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("before and after the drop, SSE saw\n%v\nthe stream holds after the document\n%v", got, want)
	}

	// The query parameter works as the header does.
	s3 := sseOpen(t, sseURL(svc, ticket)+"?last_event_id="+seen[1].ID)
	if got := sseKinds(s3.UntilTerminal(t, 10*time.Second)); strings.Join(got, " ") != strings.Join(want[1:], " ") {
		t.Errorf("?last_event_id: got %v, want %v", got, want[1:])
	}

	// Having seen the end: 204, which stops EventSource reconnecting, even
	// before the projector has folded it (the request comes right after the
	// terminal event, as a reconnecting EventSource's would).
	terminalID := rest[len(rest)-1].ID
	resp, body := testenv.Do(t, http.MethodGet, sseURL(svc, ticket), "Last-Event-ID", terminalID)
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Errorf("after the terminal event: got %d %q, want 204", resp.StatusCode, body)
	}

	// A fresh client of a finished job (once the projector has folded its
	// end): the document and the terminal event.
	svc.Wait(t, ticket, 10*time.Second)
	s4 := sseOpen(t, sseURL(svc, ticket))
	m, _ := s4.Next(t, 10*time.Second)
	if doc := sseJob(t, m); doc.Status.Status != schema.StatusSuccess {
		t.Errorf("finished job's document: got status %s", doc.Status.Status)
	}
	if got := s4.UntilTerminal(t, 10*time.Second); len(got) != 1 || got[0].Event != "succeeded" || got[0].ID != terminalID {
		t.Errorf("finished job: got %v after the document, want succeeded@%s", sseKinds(got), terminalID)
	}
	testenv.Eventually(t, 5*time.Second, "every consumer freed", func() bool {
		return eventConsumers(t, svc.JS) == base
	})
}

func TestSSEBadRequests(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	ticket := handJob(t, svc)
	for _, tc := range []struct {
		name   string
		u      string
		hdr    []string
		status int
		want   string
	}{
		{"unknown ticket", sseURL(svc, sseNewTicket()), nil, 404, "Job not found."},
		{"malformed ticket", sseURL(svc, "nope"), nil, 404, "Job not found."},
		{"bad Last-Event-ID", sseURL(svc, ticket), []string{"Last-Event-ID", "soon"}, 400, "last_event_id"},
		{"bad last_event_id", sseURL(svc, ticket) + "?last_event_id=-1", nil, 400, "last_event_id"},
		{"negative Last-Event-ID", sseURL(svc, ticket), []string{"Last-Event-ID", "-5"}, 400, "last_event_id"},
		{"Last-Event-ID past uint64", sseURL(svc, ticket), []string{"Last-Event-ID", "18446744073709551616"}, 400, "last_event_id"},
		{"Last-Event-ID the largest uint64", sseURL(svc, ticket), []string{"Last-Event-ID", "18446744073709551615"}, 400, "was never sent"},
		{"last_event_id the largest uint64", sseURL(svc, ticket) + "?last_event_id=18446744073709551615", nil, 400, "was never sent"},
		{"Last-Event-ID past the stream", sseURL(svc, ticket), []string{"Last-Event-ID", "1000000"}, 400, "was never sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := testenv.Do(t, http.MethodGet, tc.u, tc.hdr...)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
				t.Errorf("got %d %s, want %d with %q", resp.StatusCode, body, tc.status, tc.want)
			}
			if tc.status == 404 {
				var e map[string]string
				if err := json.Unmarshal(body, &e); err != nil || e["error"] != "Job not found." || e["ticket"] == "" {
					t.Errorf("got %s, want {ticket, error: Job not found.}", body)
				}
			}
			if tc.status == 400 {
				var e struct {
					Error map[string][]string `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || len(e.Error["last_event_id"]) != 1 {
					t.Errorf("got error %s, want one message for last_event_id", body)
				}
			}
		})
	}
}

// 200 clients watch one job: every one sees every event and the end, and
// they cost one consumer.
func TestSSE200Watchers(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	base := eventConsumers(t, svc.JS)
	ticket := handJob(t, svc)
	const parts, watchers = 5, 200
	publish(t, svc, schema.Event{Kind: schema.EventStarted, Ticket: ticket, Parts: parts, Estimate: 500, Worker: "hand"})
	// Every watcher then starts from the same document: the one this
	// gateway serves, which follows the KV by a watch, so that waiting for
	// the KV alone let the first watchers start from the queued one and
	// see the started event besides.
	svc.Settled(t, ticket)
	if st := svc.Job(t, ticket).Status.Status; st != schema.StatusProcessing {
		t.Fatalf("job after its started event: %s, want processing", st)
	}

	streams := make([]*sseStream, watchers)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := sseOpen(t, sseURL(svc, ticket))
			if m, ok := s.Next(t, 30*time.Second); !ok || m.Event != "job" {
				t.Errorf("watcher %d: got %+v first, want the document", i, m)
			}
			streams[i] = s
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// They share one watch: one consumer, not one each.
	if got := eventConsumers(t, svc.JS); got != base+1 {
		t.Errorf("got %d consumers with %d watchers, want %d", got, watchers, base+1)
	}
	for p := 1; p <= parts; p++ {
		publish(t, svc, schema.Event{Kind: schema.EventProgress, Ticket: ticket, Part: p, Rows: 50})
		publish(t, svc, schema.Event{Kind: schema.EventPartDone, Ticket: ticket, Part: p, Rows: 100})
	}
	results := make([]string, watchers)
	for i, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = strings.Join(sseKinds(s.UntilTerminal(t, 30*time.Second)), " ")
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r != results[0] || !strings.Contains(r, " succeeded@") {
			t.Fatalf("watcher %d saw %s, watcher 0 %s", i, r, results[0])
		}
	}
	if n := strings.Count(results[0], "part_done@"); n != parts {
		t.Errorf("got %d part_done events, want %d: %s", n, parts, results[0])
	}
	testenv.Eventually(t, 10*time.Second, "every watcher's consumer freed", func() bool {
		return eventConsumers(t, svc.JS) == base
	})
}
