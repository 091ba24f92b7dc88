package schema_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// TestAppendQueuedEventJSON: a queued event is written byte for byte as
// json.Marshal writes it, whatever its request holds; any other event, and
// a query with a geometry, are left to json.Marshal.
func TestAppendQueuedEventJSON(t *testing.T) {
	n := MustNetwork(t)
	var queries []schema.Query
	for _, in := range []url.Values{vals(), vals("features", "magnetic_field.x", "nodes", "00a"),
		vals("data_type", "ndjson", "feature", "temperature",
			"filter", `{"op":"like","col":"sensor","val":"<&>%"}`)} {
		q, err := schema.ParseQuery(schema.Download, in, n, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		queries = append(queries, q, q.Compact())
	}
	queries = append(queries, schema.Query{Network: `a"b\c<d>&é` + "\x01\u2028", Nodes: []string{"x</script>", ""},
		Start: fixedNow, End: fixedNow, AllSensors: true})
	east := time.FixedZone("east", 5*3600+30*60)
	reqs := []schema.ExportRequest{
		{Ticket: "12a639f8f73acdab7d48835c9b404664", SubmittedAt: fixedNow},
		{Ticket: "12a639f8f73acdab7d48835c9b404664", Client: "key:<x>", URLRoot: "http://a/b?c=1&d=2",
			SubmittedAt: fixedNow.Add(123456789 * time.Nanosecond), ExpiresAt: fixedNow.Add(time.Hour), Digest: "00ff"},
		{Ticket: "t\u00e9", Client: "k\"\\", SubmittedAt: fixedNow.In(east), ExpiresAt: fixedNow.In(east)},
	}
	for _, q := range queries {
		for _, r := range reqs {
			r.Query = q
			e := schema.Event{Version: schema.EventVersion, Kind: schema.EventQueued, Ticket: r.Ticket, Time: r.SubmittedAt, Request: &r}
			got, ok := e.AppendQueuedJSON([]byte("x"))
			want, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if !ok || !bytes.Equal(got, append([]byte("x"), want...)) {
				t.Fatalf("AppendQueuedJSON (%v):\n got %s\nwant x%s", ok, got, want)
			}
		}
	}
	geom, err := schema.ParseQuery(schema.Download, vals("geom", readFixture(t, "loop_polygon_hole.geojson")), n, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	r := reqs[0]
	r.Query = geom
	for _, e := range []schema.Event{
		{Kind: schema.EventQueued, Ticket: r.Ticket, Time: fixedNow, Request: &r},
		{Kind: schema.EventQueued, Ticket: r.Ticket, Time: fixedNow},
		{Kind: schema.EventStarted, Ticket: r.Ticket, Time: fixedNow, Parts: 1},
		{Kind: schema.EventQueued, Ticket: r.Ticket, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Request: &reqs[0]},
		{Kind: schema.EventQueued, Ticket: r.Ticket, Time: fixedNow, Seq: 3, Request: &reqs[0]},
	} {
		if b, ok := e.AppendQueuedJSON(nil); ok || len(b) != 0 {
			t.Errorf("%s event: got %q, %v; want nothing, false", e.Kind, b, ok)
		}
	}
}

// burstQueuedEvent is the queued event of the ticket burst's request (make
// bench's load phase: a window of a second, a key's digest).
func burstQueuedEvent(b *testing.B) schema.Event {
	b.Helper()
	q, err := schema.ParseQuery(schema.Download, vals("start_datetime", "2001-01-01T00:00:00",
		"end_datetime", "2001-01-01T00:00:01"), MustNetwork(b), fixedNow)
	if err != nil {
		b.Fatal(err)
	}
	r := schema.ExportRequest{Ticket: "12a639f8f73acdab7d48835c9b404664", Query: q.Compact(), Client: "anonymous",
		URLRoot: "http://127.0.0.1:8080", SubmittedAt: fixedNow, ExpiresAt: fixedNow.Add(24 * time.Hour), Digest: "0123456789abcdef0123456789abcdef"}
	e := schema.Event{Version: schema.EventVersion, Kind: schema.EventQueued, Ticket: r.Ticket, Time: fixedNow, Request: &r}
	return e
}

// BenchmarkQueuedEventJSON writes the queued event of the ticket burst's
// request (a window of a second, a key's digest) with json.Marshal and with
// AppendQueuedJSON.
func BenchmarkQueuedEventJSON(b *testing.B) {
	e := burstQueuedEvent(b)
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := e.AppendQueuedJSON(make([]byte, 0, 512)); !ok {
				b.Fatal("not appended")
			}
		}
	})
}

// BenchmarkQueuedAnswer writes the answer to the ticket burst's request (all
// of a network of 100 nodes) as the gateway did, its query expanded, and as
// it does, its compact query with the network's lists made once.
//
//	go test ./schema -run '^$' -bench QueuedAnswer -benchmem
func BenchmarkQueuedAnswer(b *testing.B) {
	n := MustNetwork(b)
	for i := len(n.Nodes); i < 100; i++ {
		x := n.Nodes[0]
		x.ID = fmt.Sprintf("001e0610%04x", 0xb000+i)
		n.Nodes = append(n.Nodes, x)
	}
	q, err := schema.ParseQuery(schema.Download, vals("start_datetime", "2001-01-01T00:00:00",
		"end_datetime", "2001-01-01T00:00:01"), n, fixedNow)
	if err != nil {
		b.Fatal(err)
	}
	r := schema.ExportRequest{Ticket: "12a639f8f73acdab7d48835c9b404664", Query: q.Compact(), Client: "anonymous",
		URLRoot: "http://127.0.0.1:8080/", SubmittedAt: fixedNow, ExpiresAt: fixedNow.Add(24 * time.Hour)}
	var rec schema.JobRecord
	rec.Apply(schema.Event{Kind: schema.EventQueued, Ticket: r.Ticket, Time: fixedNow, Request: &r})
	rec.Job.URL = "http://127.0.0.1:8080/v1/api/jobs/" + r.Ticket
	b.Run("expanded", func(b *testing.B) {
		job := rec.Job
		job.Request.Query = q
		for b.Loop() {
			if _, ok := job.AppendQueuedJSON(make([]byte, 0, 4096)); !ok {
				b.Fatal("not appended")
			}
		}
	})
	b.Run("lists", func(b *testing.B) {
		lists := n.ListsJSON()
		for b.Loop() {
			if _, ok := rec.Job.AppendQueuedJSONWith(make([]byte, 0, 4096), lists); !ok {
				b.Fatal("not appended")
			}
		}
	})
}
