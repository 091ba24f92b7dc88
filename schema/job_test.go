package schema_test

import (
	"encoding/json"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

const ticket = "12a639f8f73acdab7d48835c9b404664"

// queueTime is Plenario's example queueTime.
var queueTime = time.Date(2016, 10, 13, 17, 51, 47, 980835000, time.UTC)

func at(d time.Duration) time.Time { return queueTime.Add(d) }

// MustRequest returns the export request of the fixture network's defaults.
func MustRequest(tb testing.TB) *schema.ExportRequest {
	tb.Helper()
	q, err := schema.ParseQuery(schema.Download, vals("features", "temperature"), MustNetwork(tb), fixedNow)
	if err != nil {
		tb.Fatal(err)
	}
	return &schema.ExportRequest{Ticket: ticket, Query: q, Client: "10.0.0.1", URLRoot: "http://plenar.io/", SubmittedAt: queueTime}
}

// step is one event and whether Apply should report a change.
type step struct {
	name        string
	input       schema.Event
	wantChanged bool
}

func applyAll(t *testing.T, r *schema.JobRecord, steps []step) {
	t.Helper()
	for _, s := range steps {
		if got := r.Apply(s.input); got != s.wantChanged {
			t.Errorf("%s: got changed %v, want %v", s.name, got, s.wantChanged)
		}
	}
}

func TestJobRecordApplySuccess(t *testing.T) {
	url := "http://plenar.io/v1/api/datadump/" + ticket
	ev := func(seq uint64, k schema.EventKind, d time.Duration) schema.Event {
		return schema.Event{Version: schema.EventVersion, Kind: k, Ticket: ticket, Time: at(d), Seq: seq}
	}
	queued := ev(1, schema.EventQueued, 0)
	queued.Request = MustRequest(t)
	started := ev(2, schema.EventStarted, time.Second)
	started.Parts, started.Estimate, started.Worker = 3, 300, "exporter-1"
	progress := func(seq uint64, part int, rows int64) schema.Event {
		e := ev(seq, schema.EventProgress, 2*time.Second)
		e.Part, e.Rows, e.Worker = part, rows, "exporter-1"
		return e
	}
	partDone := func(seq uint64, part int, rows, size int64, worker string) schema.Event {
		e := ev(seq, schema.EventPartDone, 3*time.Second)
		e.Part, e.Rows, e.Bytes, e.Worker = part, rows, size, worker
		return e
	}
	succeeded := ev(20, schema.EventSucceeded, 4*time.Second)
	succeeded.URL = url

	var r schema.JobRecord
	applyAll(t, &r, []step{
		{name: "queued", input: queued, wantChanged: true},
		{name: "queued again, a redelivery", input: func() schema.Event { e := queued; e.Seq = 0; return e }(), wantChanged: false},
	})
	if got, want := r.Job.Status.Status, schema.StatusQueued; got != want {
		t.Errorf("got status %v, want %v", got, want)
	}
	if got, want := r.Job.Status.Meta.QueueTime, "2016-10-13 17:51:47.980835"; got != want {
		t.Errorf("got queueTime %v, want %v", got, want)
	}
	if r.Terminal() || r.Complete() {
		t.Errorf("got terminal %v complete %v, want neither", r.Terminal(), r.Complete())
	}

	applyAll(t, &r, []step{
		{name: "started", input: started, wantChanged: true},
		{name: "started again", input: func() schema.Event { e := started; e.Seq = 3; return e }(), wantChanged: false},
		{name: "progress part 1", input: progress(4, 1, 50), wantChanged: true},
		{name: "progress part 2", input: progress(5, 2, 10), wantChanged: true},
		{name: "out-of-order progress of part 1", input: progress(6, 1, 40), wantChanged: false},
		{name: "progress of part 0", input: progress(7, 0, 999), wantChanged: false},
		{name: "progress of part 4 of 3", input: progress(8, 4, 999), wantChanged: false},
	})
	if p := r.Job.Status.Progress; p == nil || p.Rows != 60 || p.Done != 0 || p.Total != 3 || p.Estimate != 300 {
		t.Errorf("got progress %+v, want 0 of 3 done, 60 rows, estimate 300", p)
	}

	applyAll(t, &r, []step{
		{name: "part 1 done", input: partDone(9, 1, 100, 1000, "exporter-1"), wantChanged: true},
		{name: "part 1 done again, a redone part", input: partDone(10, 1, 100, 1000, "exporter-2"), wantChanged: false},
		{name: "progress of part 1 after it is done", input: progress(11, 1, 500), wantChanged: false},
		{name: "progress of part 0 after a part is done", input: progress(12, 0, 999), wantChanged: false},
		{name: "part 0 done", input: partDone(13, 0, 1, 1, ""), wantChanged: false},
		{name: "part 4 of 3 done", input: partDone(14, 4, 1, 1, ""), wantChanged: false},
		{name: "part 3 done", input: partDone(15, 3, 80, 800, "exporter-2"), wantChanged: true},
	})
	if p := r.Job.Status.Progress; p.Rows != 190 || p.Done != 2 {
		t.Errorf("got progress %+v, want 2 of 3 done, 190 rows (180 done, 10 running)", p)
	}
	if r.Complete() {
		t.Errorf("got complete %v with 2 of 3 parts, want false", r.Complete())
	}
	applyAll(t, &r, []step{
		{name: "part 2 done", input: partDone(16, 2, 120, 1200, "exporter-1"), wantChanged: true},
	})
	if !r.Complete() {
		t.Errorf("got complete %v with 3 of 3 parts, want true", r.Complete())
	}
	if got, want := r.Job.Status.Meta.Workers, []string{"exporter-1", "exporter-2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got workers %v, want %v", got, want)
	}

	applyAll(t, &r, []step{
		{name: "succeeded", input: succeeded, wantChanged: true},
		{name: "succeeded again", input: func() schema.Event { e := succeeded; e.Seq = 21; return e }(), wantChanged: false},
		{name: "a late part_done", input: partDone(22, 2, 5, 5, "exporter-3"), wantChanged: false},
		{name: "a late failure", input: func() schema.Event { e := ev(23, schema.EventFailed, 5*time.Second); e.Error = "boom"; return e }(), wantChanged: false},
	})
	if !r.Terminal() || r.Complete() {
		t.Errorf("got terminal %v complete %v, want terminal only", r.Terminal(), r.Complete())
	}
	if got, want := r.Job.Status.Status, schema.StatusSuccess; got != want {
		t.Errorf("got status %v, want %v", got, want)
	}
	wantResult := schema.JobResult{URL: url, Rows: 300, Bytes: 3000, Parts: 3}
	if got := r.Job.Result; !reflect.DeepEqual(got, wantResult) {
		t.Errorf("got result %#v, want %#v", got, wantResult)
	}
	if got, want := r.Job.Status.Meta.EndTime, "2016-10-13 17:51:51.980835"; got != want {
		t.Errorf("got endTime %v, want %v", got, want)
	}
	if got, want := r.Finished, at(4*time.Second); !got.Equal(want) {
		t.Errorf("got finished %v, want %v", got, want)
	}
	if got, want := r.Seq, uint64(23); got != want {
		t.Errorf("got seq %v, want %v", got, want)
	}

	// Retention ends it.
	applyAll(t, &r, []step{
		{name: "expired", input: ev(25, schema.EventExpired, time.Hour), wantChanged: true},
		{name: "expired again", input: ev(26, schema.EventExpired, time.Hour), wantChanged: false},
	})
	if got, want := r.Job.Status.Status, schema.StatusExpired; got != want {
		t.Errorf("got status %v, want %v", got, want)
	}
}

func TestJobRecordApplySeq(t *testing.T) {
	var r schema.JobRecord
	q := schema.Event{Kind: schema.EventQueued, Ticket: ticket, Time: queueTime, Seq: 10, Request: MustRequest(t)}
	s := schema.Event{Kind: schema.EventStarted, Ticket: ticket, Time: at(time.Second), Seq: 12, Parts: 2}
	applyAll(t, &r, []step{
		{name: "queued at 10", input: q, wantChanged: true},
		{name: "started at 12", input: s, wantChanged: true},
		{name: "part 1 done at 11, behind", input: schema.Event{Kind: schema.EventPartDone, Seq: 11, Part: 1, Rows: 5}, wantChanged: false},
		{name: "part 1 done at 12, a repeat", input: schema.Event{Kind: schema.EventPartDone, Seq: 12, Part: 1, Rows: 5}, wantChanged: false},
		{name: "part 1 done at 13", input: schema.Event{Kind: schema.EventPartDone, Seq: 13, Part: 1, Rows: 5}, wantChanged: true},
		{name: "failed at 5, behind", input: schema.Event{Kind: schema.EventFailed, Seq: 5, Error: "late"}, wantChanged: false},
		{name: "part 2 without a sequence number", input: schema.Event{Kind: schema.EventPartDone, Part: 2, Rows: 7}, wantChanged: true},
		{name: "an unknown kind", input: schema.Event{Kind: "exploded", Seq: 14}, wantChanged: false},
	})
	if got, want := r.Seq, uint64(14); got != want {
		t.Errorf("got seq %v, want %v", got, want)
	}
	if p := r.Job.Status.Progress; p.Done != 2 || p.Rows != 12 || !r.Complete() {
		t.Errorf("got progress %+v, want 2 of 2 done, 12 rows", p)
	}
}

func TestJobRecordApplyFailed(t *testing.T) {
	tests := []struct {
		name  string
		input []schema.Event // before the failure
	}{
		{name: "while queued", input: []schema.Event{{Kind: schema.EventQueued, Ticket: ticket, Time: queueTime, Seq: 1, Request: MustRequest(t)}}},
		{name: "while processing", input: []schema.Event{
			{Kind: schema.EventQueued, Ticket: ticket, Time: queueTime, Seq: 1, Request: MustRequest(t)},
			{Kind: schema.EventStarted, Time: at(time.Second), Seq: 2, Parts: 4},
			{Kind: schema.EventPartDone, Time: at(time.Second), Seq: 3, Part: 2, Rows: 9},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r schema.JobRecord
			for _, e := range tt.input {
				if !r.Apply(e) {
					t.Fatalf("got no change from %s, want one", e.Kind)
				}
			}
			if !r.Apply(schema.Event{Kind: schema.EventFailed, Time: at(time.Minute), Seq: 10, Error: "ClickHouse is down"}) {
				t.Fatal("got no change from failed, want one")
			}
			if got, want := r.Job.Status.Status, schema.StatusError; got != want {
				t.Errorf("got status %v, want %v", got, want)
			}
			if got, want := r.Job.Result, (schema.JobResult{Error: "ClickHouse is down"}); !reflect.DeepEqual(got, want) {
				t.Errorf("got result %#v, want %#v", got, want)
			}
			if got, want := r.Job.Status.Meta.EndTime, "2016-10-13 17:52:47.980835"; got != want {
				t.Errorf("got endTime %v, want %v", got, want)
			}
			if !r.Terminal() || r.Complete() {
				t.Errorf("got terminal %v complete %v, want terminal only", r.Terminal(), r.Complete())
			}
			if r.Apply(schema.Event{Kind: schema.EventSucceeded, Seq: 11, URL: "x"}) || r.Apply(schema.Event{Kind: schema.EventPartDone, Seq: 12, Part: 1}) {
				t.Errorf("got a change after the failure, want none")
			}
		})
	}
}

func TestJobRecordZeroParts(t *testing.T) {
	var r schema.JobRecord
	r.Apply(schema.Event{Kind: schema.EventQueued, Ticket: ticket, Time: queueTime, Seq: 1, Request: MustRequest(t)})
	if !r.Apply(schema.Event{Kind: schema.EventStarted, Time: at(time.Second), Seq: 2, Parts: 0}) {
		t.Fatal("got no change from started, want one")
	}
	if !r.Complete() {
		t.Fatalf("got complete %v with no parts, want true", r.Complete())
	}
	if !r.Apply(schema.Event{Kind: schema.EventSucceeded, Time: at(2 * time.Second), Seq: 3, URL: "u"}) {
		t.Fatal("got no change from succeeded, want one")
	}
	if got, want := r.Job.Result, (schema.JobResult{URL: "u"}); r.Job.Status.Status != schema.StatusSuccess || !reflect.DeepEqual(got, want) {
		t.Errorf("got %s %#v, want %s %#v", r.Job.Status.Status, got, schema.StatusSuccess, want)
	}
}

func TestJobRecordIgnoresEventsBeforeQueued(t *testing.T) {
	var r schema.JobRecord
	for _, e := range []schema.Event{
		{Kind: schema.EventStarted, Seq: 1, Parts: 2},
		{Kind: schema.EventProgress, Seq: 2, Part: 1, Rows: 3},
		{Kind: schema.EventPartDone, Seq: 3, Part: 1},
		{Kind: schema.EventSucceeded, Seq: 4},
		{Kind: schema.EventQueued, Seq: 5}, // no request
	} {
		if r.Apply(e) {
			t.Errorf("got a change from %s before queued, want none", e.Kind)
		}
	}
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// decode marshals v and reads it back as generic JSON.
func decode(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestJobDocumentJSON(t *testing.T) {
	var r schema.JobRecord
	r.Apply(schema.Event{Kind: schema.EventQueued, Ticket: ticket, Time: queueTime, Seq: 1, Request: MustRequest(t)})

	doc := decode(t, r.Job)
	if got, want := keysOf(doc), []string{"request", "result", "status", "ticket"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got keys %v, want %v", got, want)
	}
	if got, want := doc["ticket"], ticket; got != want {
		t.Errorf("got ticket %v, want %v", got, want)
	}
	if got, want := doc["result"], ""; got != want {
		t.Errorf("got result %#v, want %#v", got, want)
	}
	req := doc["request"].(map[string]any)
	if got, want := keysOf(req), []string{"endpoint", "query"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got request keys %v, want %v", got, want)
	}
	if got, want := req["endpoint"], "observation_datadump"; got != want {
		t.Errorf("got endpoint %v, want %v", got, want)
	}
	query := req["query"].(map[string]any)
	if got, want := query["features"], []any{"temperature"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got query.features %v, want %v", got, want)
	}
	if got, want := query["start_datetime"], "2017-05-25T12:00:00"; got != want {
		t.Errorf("got query.start_datetime %v, want %v", got, want)
	}
	if got, want := query["network"], networkName; got != want {
		t.Errorf("got query.network %v, want %v", got, want)
	}
	status := doc["status"].(map[string]any)
	if got, want := keysOf(status), []string{"meta", "status"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got status keys %v, want %v", got, want)
	}
	if got, want := status["status"], "queued"; got != want {
		t.Errorf("got status.status %v, want %v", got, want)
	}
	if got, want := status["meta"], map[string]any{"queueTime": "2016-10-13 17:51:47.980835"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got status.meta %v, want %v", got, want)
	}

	// Processing: startTime, workers and progress appear.
	r.Apply(schema.Event{Kind: schema.EventStarted, Time: at(time.Second), Seq: 2, Parts: 2, Worker: "w1", Estimate: 10})
	r.Apply(schema.Event{Kind: schema.EventPartDone, Time: at(time.Second), Seq: 3, Part: 1, Rows: 4})
	status = decode(t, r.Job)["status"].(map[string]any)
	if got, want := status["status"], "processing"; got != want {
		t.Errorf("got status.status %v, want %v", got, want)
	}
	wantMeta := map[string]any{"queueTime": "2016-10-13 17:51:47.980835", "startTime": "2016-10-13 17:51:48.980835", "workers": []any{"w1"}}
	if got := status["meta"]; !reflect.DeepEqual(got, wantMeta) {
		t.Errorf("got status.meta %v, want %v", got, wantMeta)
	}
	wantProgress := map[string]any{"done": 1.0, "total": 2.0, "rows": 4.0, "estimate": 10.0}
	if got := status["progress"]; !reflect.DeepEqual(got, wantProgress) {
		t.Errorf("got status.progress %v, want %v", got, wantProgress)
	}

	// Success: endTime and the url.
	r.Apply(schema.Event{Kind: schema.EventPartDone, Time: at(time.Second), Seq: 4, Part: 2, Rows: 6})
	r.Apply(schema.Event{Kind: schema.EventSucceeded, Time: at(2 * time.Second), Seq: 5, URL: "http://plenar.io/v1/api/datadump/" + ticket})
	doc = decode(t, r.Job)
	if got, want := doc["status"].(map[string]any)["meta"].(map[string]any)["endTime"], "2016-10-13 17:51:49.980835"; got != want {
		t.Errorf("got status.meta.endTime %v, want %v", got, want)
	}
	wantResult := map[string]any{"url": "http://plenar.io/v1/api/datadump/" + ticket, "rows": 10.0, "parts": 2.0}
	if got := doc["result"]; !reflect.DeepEqual(got, wantResult) {
		t.Errorf("got result %v, want %v", got, wantResult)
	}
}

// The projector keeps records as JSON between events: folding the rest of
// the events into a record read back from JSON gives the same document.
func TestJobRecordJSONRoundTrip(t *testing.T) {
	events := []schema.Event{
		{Kind: schema.EventQueued, Ticket: ticket, Time: queueTime, Seq: 1, Request: MustRequest(t)},
		{Kind: schema.EventStarted, Time: at(time.Second), Seq: 2, Parts: 70, Worker: "w1"},
		{Kind: schema.EventProgress, Time: at(time.Second), Seq: 3, Part: 66, Rows: 5, Worker: "w2"},
		{Kind: schema.EventPartDone, Time: at(time.Second), Seq: 4, Part: 65, Rows: 7, Bytes: 70},
	}
	for p := 1; p <= 70; p++ {
		events = append(events, schema.Event{Kind: schema.EventPartDone, Time: at(2 * time.Second), Seq: uint64(4 + p), Part: p, Rows: 1, Bytes: 10})
	}
	events = append(events, schema.Event{Kind: schema.EventSucceeded, Time: at(3 * time.Second), Seq: 100, URL: "u"})

	var direct schema.JobRecord
	for _, e := range events {
		direct.Apply(e)
	}
	var stored schema.JobRecord
	for _, e := range events {
		b, err := json.Marshal(&stored)
		if err != nil {
			t.Fatal(err)
		}
		stored = schema.JobRecord{}
		if err := json.Unmarshal(b, &stored); err != nil {
			t.Fatal(err)
		}
		stored.Apply(e)
	}
	got, err := json.Marshal(stored.Job)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(direct.Job)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("got %s, want %s", got, want)
	}
	if res, ok := direct.Job.Result.(schema.JobResult); !ok || res.Rows != 76 || res.Parts != 70 {
		t.Errorf("got result %#v, want 76 rows in 70 parts", direct.Job.Result)
	}
}

// TestCancelSuccess: cancelling a finished export removes its result, and
// nothing moves a cancelled job again.
func TestCancelSuccess(t *testing.T) {
	ev := func(seq uint64, k schema.EventKind, d time.Duration) schema.Event {
		return schema.Event{Version: schema.EventVersion, Kind: k, Ticket: ticket, Time: at(d), Seq: seq}
	}
	queued := ev(1, schema.EventQueued, 0)
	queued.Request = MustRequest(t)
	var r schema.JobRecord
	applyAll(t, &r, []step{
		{name: "queued", input: queued, wantChanged: true},
		{name: "started", input: func() schema.Event { e := ev(2, schema.EventStarted, time.Second); return e }(), wantChanged: true},
		{name: "succeeded", input: func() schema.Event { e := ev(3, schema.EventSucceeded, 2*time.Second); e.URL = "u"; return e }(), wantChanged: true},
		{name: "cancelled", input: ev(4, schema.EventCancelled, 3*time.Second), wantChanged: true},
		{name: "cancelled again", input: ev(5, schema.EventCancelled, 4*time.Second), wantChanged: false},
		{name: "failed after", input: ev(6, schema.EventFailed, 4*time.Second), wantChanged: false},
	})
	if got, want := r.Job.Status.Status, schema.StatusCancelled; got != want {
		t.Errorf("got status %v, want %v", got, want)
	}
	if got, want := r.Job.Result, (schema.JobResult{Error: "cancelled"}); !reflect.DeepEqual(got, want) {
		t.Errorf("got result %#v, want %#v", got, want)
	}
}
