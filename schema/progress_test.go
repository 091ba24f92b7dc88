package schema_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// The document's rate is rows per second since the started event, computed
// from event times alone: replaying the same events gives the same bytes.
func TestProgressRate(t *testing.T) {
	queued := schema.Event{Kind: schema.EventQueued, Ticket: ticket, Time: at(0), Seq: 1, Request: MustRequest(t)}
	events := []schema.Event{
		queued,
		{Kind: schema.EventStarted, Ticket: ticket, Time: at(time.Second), Seq: 2, Parts: 2, Estimate: 1000},
		{Kind: schema.EventProgress, Ticket: ticket, Time: at(3 * time.Second), Seq: 3, Part: 1, Rows: 100},
		{Kind: schema.EventPartDone, Ticket: ticket, Time: at(5 * time.Second), Seq: 4, Part: 1, Rows: 400},
		{Kind: schema.EventPartDone, Ticket: ticket, Time: at(9 * time.Second), Seq: 5, Part: 2, Rows: 600},
		{Kind: schema.EventSucceeded, Ticket: ticket, Time: at(11 * time.Second), Seq: 6},
	}
	want := []float64{0, 0, 50, 100, 125, 100} // after each event
	var r schema.JobRecord
	for i, e := range events {
		r.Apply(e)
		var got float64
		if p := r.Job.Status.Progress; p != nil {
			got = p.Rate
		}
		if got != want[i] {
			t.Errorf("after %s: got rate %v, want %v", e.Kind, got, want[i])
		}
	}
	var again schema.JobRecord
	for _, e := range events {
		again.Apply(e)
		again.Apply(e) // a redelivery changes nothing
	}
	a, _ := json.Marshal(&r)
	b, _ := json.Marshal(&again)
	if string(a) != string(b) {
		t.Errorf("replay differs:\n got %s\nwant %s", b, a)
	}

	// A progress event stamped at the start moment has no rate yet.
	var z schema.JobRecord
	z.Apply(events[0])
	z.Apply(events[1])
	z.Apply(schema.Event{Kind: schema.EventProgress, Ticket: ticket, Time: at(time.Second), Seq: 3, Part: 1, Rows: 5})
	if b, _ := json.Marshal(z.Job.Status.Progress); string(b) != `{"done":0,"total":2,"rows":5,"estimate":1000}` {
		t.Errorf("got progress %s, want no rate", b)
	}
}
