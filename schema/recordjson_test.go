package schema_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// TestMarshalRecord: a job record is written byte for byte as json.Marshal
// writes it, after every event of jobs that end each way (an empty
// window's, a planned job's with parts and progress, failed, cancelled,
// expired), for queries compacted and not, requests with and without an
// expiry, and a record read back from its JSON.
func TestMarshalRecord(t *testing.T) {
	n := MustNetwork(t)
	ids := schema.MetaIDs{"00B": 7, "000": 1, "00A": 4294967295, "a<&>\"é": 3}
	plan := []schema.PartSpec{{Part: 1, From: at(0), To: at(time.Hour), Estimate: 10},
		{Part: 2, From: at(time.Hour), To: at(2 * time.Hour), Estimate: 20}}
	ends := [][]schema.Event{
		{{Kind: schema.EventStarted, Worker: "planner", MetaIDs: ids, Time: at(time.Second)},
			{Kind: schema.EventSucceeded, URL: "http://a/v1/api/datadump/x?data_type=csv", Time: at(2 * time.Second)}},
		{{Kind: schema.EventStarted, Worker: "p<1>", Plan: plan, Parts: 2, Estimate: 30, Time: at(time.Second)},
			{Kind: schema.EventProgress, Part: 1, Rows: 5, Worker: "w1", Time: at(3 * time.Second)},
			{Kind: schema.EventPartDone, Part: 1, Rows: 10, Bytes: 100, Worker: "w1", Time: at(4 * time.Second)},
			{Kind: schema.EventPartDone, Part: 2, Rows: 20, Bytes: 200, Worker: "w2", Time: at(5 * time.Second)},
			{Kind: schema.EventSucceeded, URL: "u", Time: at(6 * time.Second)},
			{Kind: schema.EventExpired, Time: at(7 * time.Second)}},
		{{Kind: schema.EventStarted, Worker: "planner", Time: at(time.Second)},
			{Kind: schema.EventFailed, Error: `ClickHouse "down" <now>`, Time: at(2 * time.Second)}},
		{{Kind: schema.EventCancelled, Time: at(time.Second)}},
	}
	written := 0
	for _, in := range []url.Values{vals(), vals("features", "temperature", "nodes", "00A", "data_type", "json"),
		vals("feature", "temperature", "filter", `{"op":"like","col":"sensor","val":"<&>%"}`)} {
		q, err := schema.ParseQuery(schema.Download, in, n, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []schema.Query{q, q.Compact()} {
			for _, exp := range []time.Time{{}, at(24 * time.Hour).In(time.FixedZone("e", 3600))} {
				for _, evs := range ends {
					req := schema.ExportRequest{Ticket: ticket, Query: q, Client: "key:a<b>", URLRoot: "http://h/", SubmittedAt: at(0), ExpiresAt: exp}
					r := &schema.JobRecord{}
					evs = append([]schema.Event{{Kind: schema.EventQueued, Request: &req, Time: at(0)}}, evs...)
					for i, e := range evs {
						e.Ticket, e.Seq = ticket, uint64(i+1)
						r.Apply(e)
						written += checkRecord(t, r)
						var back schema.JobRecord
						data, _ := json.Marshal(r)
						if err := json.Unmarshal(data, &back); err != nil {
							t.Fatal(err)
						}
						checkRecord(t, &back)
					}
				}
			}
		}
	}
	if written < 70 {
		t.Errorf("%d records written by hand, want at least 70", written)
	}
}

// checkRecord fails t unless MarshalRecord writes r as json.Marshal does,
// and returns 1 when it wrote it by hand.
func checkRecord(t *testing.T, r *schema.JobRecord) int {
	t.Helper()
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := schema.MarshalRecord(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("MarshalRecord (%v):\n got %s\nwant %s", err, got, want)
	}
	if _, ok := schema.AppendRecord(nil, r); ok {
		return 1
	}
	return 0
}

// BenchmarkMarshalRecord writes the record of the ticket burst's job
// after its started event (a network's meta_ids, no parts) with
// json.Marshal and with MarshalRecord.
func BenchmarkMarshalRecord(b *testing.B) {
	q, err := schema.ParseQuery(schema.Download, vals("start_datetime", "2001-01-01T00:00:00",
		"end_datetime", "2001-01-01T00:00:01"), MustNetwork(b), fixedNow)
	if err != nil {
		b.Fatal(err)
	}
	req := schema.ExportRequest{Ticket: ticket, Query: q.Compact(), Client: "anonymous", URLRoot: "http://127.0.0.1:8080/",
		SubmittedAt: fixedNow, ExpiresAt: fixedNow.Add(24 * time.Hour), Digest: "0123456789abcdef0123456789abcdef"}
	ids := schema.MetaIDs{}
	for i := range 100 {
		ids[string(rune('a'+i%26))+string(rune('a'+i/26))] = uint32(i * 7919)
	}
	r := &schema.JobRecord{}
	r.Apply(schema.Event{Kind: schema.EventQueued, Ticket: ticket, Request: &req, Time: fixedNow, Seq: 1})
	r.Apply(schema.Event{Kind: schema.EventStarted, Ticket: ticket, Worker: "planner", MetaIDs: ids, Time: fixedNow, Seq: 2})
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("by-hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := schema.MarshalRecord(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestMarshalRecordFields: appendRecord writes the fields it knows of, so a
// field added to a record's types would be dropped from the records it
// writes, in silence, unless TestMarshalRecord's events set it. Every JSON
// field of those types is listed here; a new one fails until appendRecord
// writes it (or falls back to json.Marshal when it is set) and is added.
// The query is written by Query.MarshalJSON, the result by appendResult;
// a slice (the plan) is not looked into: appendRecord falls back when it
// is set.
func TestMarshalRecordFields(t *testing.T) {
	var got []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[time.Time]() || typ == reflect.TypeFor[schema.Query]() {
			return
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			got = append(got, prefix+name)
			walk(prefix+name+".", f.Type)
		}
	}
	walk("", reflect.TypeFor[schema.JobRecord]())
	walk("job.result.", reflect.TypeFor[schema.JobResult]())
	want := []string{
		"job", "job.ticket", "job.request", "job.request.endpoint", "job.request.query",
		"job.status", "job.status.status", "job.status.meta", "job.status.meta.queueTime",
		"job.status.meta.startTime", "job.status.meta.endTime", "job.status.meta.workers",
		"job.status.meta.expiresAt", "job.status.progress", "job.status.progress.done",
		"job.status.progress.total", "job.status.progress.rows", "job.status.progress.estimate",
		"job.status.progress.rate", "job.result", "job.url",
		"seq", "client", "urlroot", "created", "started", "finished", "plan",
		"meta_ids", "parts_done", "running", "done_rows", "done_bytes", "extra",
		"job.result.url", "job.result.error", "job.result.rows", "job.result.bytes", "job.result.parts",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("a job record's JSON fields are\n%q\nappendRecord knows of\n%q\nwrite a new one there (or fall back to json.Marshal when it is set), then list it here", got, want)
	}
}
