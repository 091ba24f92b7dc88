package schema_test

import (
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// queuedEvents are queued events of every shape AppendQueuedJSON writes,
// as it writes them: lists given, compacted and empty, a limit of 0 and
// none, an offset, each optional field of the request present and not.
func queuedEvents(tb testing.TB) [][]byte {
	tb.Helper()
	n := MustNetwork(tb)
	var queries []schema.Query
	for _, in := range []url.Values{vals(), vals("features", "magnetic_field.x", "nodes", "00a"),
		vals("data_type", "ndjson", "feature", "temperature", "limit", "0"),
		vals("sensors", "tmp112", "limit", "12", "offset", "3", "start_datetime", "2001-01-01T00:00:00",
			"end_datetime", "2001-01-01T00:00:01"),
		vals("data_type", "ndjson", "feature", "temperature",
			"filter", `{"op":"like","col":"sensor","val":"<&>%"}`)} {
		q, err := schema.ParseQuery(schema.Download, in, n, fixedNow)
		if err != nil {
			tb.Fatal(err)
		}
		queries = append(queries, q, q.Compact())
	}
	queries = append(queries, schema.Query{Network: "n", Nodes: []string{}, Sensors: []string{"a", ""},
		Features: []schema.FeatureSel{}, Start: fixedNow, End: fixedNow, AllSensors: true, FilterRows: true, Offset: -2},
		schema.Query{Network: `a"b\c<d>&é` + "\x01\u2028", Nodes: []string{"x</script>", ""}, Start: fixedNow, End: fixedNow})
	east := time.FixedZone("east", 5*3600+30*60)
	reqs := []schema.ExportRequest{
		{Ticket: "12a639f8f73acdab7d48835c9b404664", SubmittedAt: fixedNow},
		{Ticket: "12a639f8f73acdab7d48835c9b404664", Client: "key:3fé", URLRoot: "http://a/b?c=1",
			SubmittedAt: fixedNow.Add(123456789 * time.Nanosecond), ExpiresAt: fixedNow.Add(time.Hour), Digest: "00ff"},
		{Ticket: "t\u00e9", Client: "k\"\\<x>&", URLRoot: "http://a/b?c=1&d=2", SubmittedAt: fixedNow.In(east),
			ExpiresAt: fixedNow.In(east)},
	}
	var out [][]byte
	for _, q := range queries {
		for _, r := range reqs {
			r.Query = q
			e := schema.Event{Version: schema.EventVersion, Kind: schema.EventQueued, Ticket: r.Ticket, Time: r.SubmittedAt, Request: &r}
			b, ok := e.AppendQueuedJSON(nil)
			if !ok {
				if b, err := json.Marshal(e); err == nil {
					out = append(out, b) // a filter: json.Marshal's
				}
				continue
			}
			out = append(out, b)
		}
	}
	return out
}

// TestUnmarshalQueuedJSON: whatever a queued event's bytes, what
// UnmarshalQueuedJSON reads is what json.Unmarshal reads, and it reads the
// events the gateway writes for a request without an escaped string, a
// geometry or a filter. Each event is also read with bytes changed, cut
// and added (3 000 variants each, seeded), where it must agree with
// json.Unmarshal or leave the event to it.
func TestUnmarshalQueuedJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	read := 0
	for _, b := range queuedEvents(t) {
		var want schema.Event
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		var got schema.Event
		if got.UnmarshalQueuedJSON(b) {
			read++
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s:\n got %+v %+v\nwant %+v %+v", b, got, got.Request, want, want.Request)
			}
		}
		for range 3000 {
			checkAgrees(t, mutate(rng, b))
		}
	}
	if read != 18 { // 9 queries without a filter or an escape, 2 requests without an escape
		t.Errorf("read %d events of the gateway's, want 18", read)
	}
}

// checkAgrees fails t when UnmarshalQueuedJSON reads b and json.Unmarshal
// reads something else or nothing.
func checkAgrees(t *testing.T, b []byte) {
	t.Helper()
	var got schema.Event
	if !got.UnmarshalQueuedJSON(b) {
		if got.Request != nil || got.Ticket != "" {
			t.Fatalf("%s: left the event changed: %+v", b, got)
		}
		return
	}
	var want schema.Event
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: read, but json.Unmarshal says %v", b, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v %+v\nwant %+v %+v", b, got, got.Request, want, want.Request)
	}
}

// mutate returns b with one to three bytes changed, removed or added,
// bytes that matter to the reader more often than others.
func mutate(rng *rand.Rand, b []byte) []byte {
	out := append([]byte(nil), b...)
	const special = `"\,:{}[]0123456789-+.eEtZ ` + "\x00\x80\xff"
	for range 1 + rng.IntN(3) {
		c := special[rng.IntN(len(special))]
		if rng.IntN(4) == 0 {
			c = byte(rng.IntN(256))
		}
		i := rng.IntN(len(out) + 1)
		switch rng.IntN(3) {
		case 0:
			if i < len(out) {
				out[i] = c
			}
		case 1:
			if i < len(out) {
				out = append(out[:i], out[i+1:]...)
			}
		default:
			out = append(out[:i], append([]byte{c}, out[i:]...)...)
		}
	}
	return out
}

// FuzzUnmarshalQueuedJSON: any bytes UnmarshalQueuedJSON reads,
// json.Unmarshal reads the same.
func FuzzUnmarshalQueuedJSON(f *testing.F) {
	for _, b := range queuedEvents(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAgrees(t, b) })
}

// BenchmarkQueuedEventDecode reads the queued event of the ticket burst's
// request with json.Unmarshal and with UnmarshalQueuedJSON.
func BenchmarkQueuedEventDecode(b *testing.B) {
	e := burstQueuedEvent(b)
	data, _ := e.AppendQueuedJSON(nil)
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e schema.Event
			if err := json.Unmarshal(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e schema.Event
			if !e.UnmarshalQueuedJSON(data) {
				b.Fatal("not read")
			}
		}
	})
}
