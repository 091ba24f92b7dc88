package gateway_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/schema"
)

// records are a job's stored records as the projector writes them
// (json.Marshal of the fold), from queued to success, for a client whose
// name needs escaping in one and not in the other.
func records(t testing.TB, client string) [][]byte {
	t.Helper()
	now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	q := schema.Query{Network: "array_of_things", Start: now.Add(-time.Hour), End: now,
		Nodes: []string{"001e0610ba46", "001e0610ee36", "a \"quoted\" \\ node"}, AllSensors: true, AllFeatures: true}
	req := schema.ExportRequest{Ticket: "0123456789abcdef0123456789abcdef", Query: q, Client: client,
		URLRoot: "http://test/", SubmittedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	plan := []schema.PartSpec{{Part: 1, From: q.Start, To: q.End, Estimate: 10}}
	evs := []schema.Event{
		{Kind: schema.EventQueued, Request: &req},
		{Kind: schema.EventStarted, Plan: plan, Parts: 1, Estimate: 10, Worker: "w{1}"},
		{Kind: schema.EventProgress, Part: 1, Parts: 1, Rows: 5, Worker: "w{1}"},
		{Kind: schema.EventPartDone, Part: 1, Parts: 1, Rows: 10, Bytes: 700, Worker: "w{1}"},
		{Kind: schema.EventSucceeded, URL: "http://test/x?a=\"b\""},
	}
	var rec schema.JobRecord
	var out [][]byte
	for i, e := range evs {
		e.Ticket, e.Seq, e.Time = req.Ticket, uint64(100+i), now.Add(time.Duration(i)*time.Second)
		rec.Apply(e)
		b, err := json.Marshal(&rec)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestDecodeHead: the watch's scan reads what json.Unmarshal read from
// every record of a job's life, and leaves what it cannot follow to it.
func TestDecodeHead(t *testing.T) {
	for _, client := range []string{"key:analyst", "key:\"odd\"\\one"} {
		for i, raw := range records(t, client) {
			got, ok := gateway.DecodeHead(raw)
			want, wantOK := gateway.UnmarshalHead(raw)
			if ok != wantOK || got != want {
				t.Errorf("record %d of %q: got %+v %v, want %+v %v", i, client, got, ok, want, wantOK)
			}
			if want.Client != client || want.Seq != uint64(100+i) {
				t.Errorf("record %d: client %q seq %d, want %q %d", i, want.Client, want.Seq, client, 100+i)
			}
			// The scan itself, not its fallback, reads the plain client's.
			if scanned := gateway.ScanHead(raw); scanned != (client == "key:analyst") {
				t.Errorf("record %d of %q: scanned %v", i, client, scanned)
			}
		}
	}
	last := records(t, "c")[4]
	if h, _ := gateway.DecodeHead(last); h.Status != schema.StatusSuccess || h.ExpiresAt == "" {
		t.Errorf("terminal record: got %+v", h)
	}
	for _, bad := range []string{``, `{`, `{"job":`, `{"job":{"status":{"status":"queued"}}`, `{"seq":1}x`,
		`{"seq":-1}`, `{"job":{"status":{"status":7}}}`, `[]`, `{"client":"a",}`, `{"job":{"status":"x"}}`} {
		if _, ok := gateway.DecodeHead([]byte(bad)); ok {
			t.Errorf("%q: decoded", bad)
		}
	}
}

// BenchmarkWatchHead reads a job's five records' heads as the watch does
// (scan) and as it did (unmarshal). One op is one job.
func BenchmarkWatchHead(b *testing.B) {
	recs := records(b, "key:analyst")
	for _, c := range []struct {
		name   string
		decode func([]byte) (gateway.Head, bool)
	}{{"unmarshal", gateway.UnmarshalHead}, {"scan", gateway.DecodeHead}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, r := range recs {
					if _, ok := c.decode(r); !ok {
						b.Fatal("not decoded")
					}
				}
			}
		})
	}
}
