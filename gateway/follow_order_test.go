package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestFollowOutOfOrder stores a job's parts in the order 3, 1, 2, as
// exporters working side by side may, and publishes their events as an
// exporter does: the followed download sends part 1 once it is stored,
// holds part 3 back until part 2 is, and is the parts in order.
func TestFollowOutOfOrder(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true}) // this test is the exporter
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), 900, ddSeedEnd); err != nil {
		t.Fatal(err)
	}
	ticket := svc.Submit(t, "array_of_things", "")
	parts := [][]byte{
		[]byte("001e0610b000,2026-09-30T00:00:00,tmp112,temperature,temperature,1.5\n"),
		[]byte("001e0610b000,2026-09-30T06:00:00,tmp112,temperature,temperature,2.5\n001e0610b001,2026-09-30T06:00:00,tmp112,temperature,temperature,3.5\n"),
		[]byte("001e0610b000,2026-09-30T12:00:00,tmp112,temperature,temperature,4.5\n"),
	}
	publish := func(e schema.Event) {
		t.Helper()
		e.Ticket, e.Parts = ticket, len(parts)
		if _, err := svc.Bus.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	store := func(part int) {
		t.Helper()
		b := parts[part-1]
		rows := int64(bytes.Count(b, []byte{'\n'}))
		sp, err := testenv.PutPart(ctx, svc.Bus, ticket, part, func() int64 { return rows }, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		publish(schema.Event{Kind: schema.EventPartDone, Part: part, Rows: rows, Bytes: sp.Bytes, Worker: "test"})
	}
	publish(schema.Event{Kind: schema.EventStarted, Worker: "test"})
	testenv.Eventually(t, time.Minute, "the job processing", func() bool {
		return svc.Job(t, ticket).Status.Status == schema.StatusProcessing
	})

	req, _ := http.NewRequest(http.MethodGet, svc.URL+"/v1/api/datadump/"+ticket+"?follow=true&data_type=csv", nil)
	resp, err := testenv.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	read := func(n int) []byte {
		t.Helper()
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			t.Fatalf("read %d bytes: %v", n, err)
		}
		return b
	}
	if got := read(len(schema.CSVHeader)); string(got) != schema.CSVHeader {
		t.Fatalf("began with %q, want the header", got)
	}
	store(3)
	store(1)
	if got := read(len(parts[0])); !bytes.Equal(got, parts[0]) {
		t.Fatalf("after parts 3 and 1 stored: got %q, want part 1", got)
	}
	store(2)
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%v, want a clean end once the job succeeds", err)
	}
	if want := string(parts[1]) + string(parts[2]); string(rest) != want {
		t.Fatalf("after part 1: got %q, want parts 2 and 3 in order", rest)
	}
	if st := svc.Wait(t, ticket, time.Minute).Status.Status; st != schema.StatusSuccess {
		t.Fatalf("job %s", st)
	}
	if _, whole := testenv.Get(t, svc.URL+"/v1/api/datadump/"+ticket+"?data_type=csv"); string(whole) != schema.CSVHeader+string(bytes.Join(parts, nil)) {
		t.Fatalf("the download after success %q", whole)
	}
}

// TestFollowEmptyJob: a job planned with no parts is followed to the same
// file as its download after success, in every format: a header, an empty
// JSON array, a Parquet file of no rows.
func TestFollowEmptyJob(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true}) // this test is the planner
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), 900, ddSeedEnd); err != nil {
		t.Fatal(err)
	}
	ticket := svc.Submit(t, "array_of_things", "")
	dump := svc.URL + "/v1/api/datadump/" + ticket
	formats := []string{"csv", "json", "ndjson", "parquet"}
	bodies := make([]*http.Response, len(formats))
	for i, f := range formats {
		resp, err := testenv.HTTPClient.Get(dump + "?follow=true&data_type=" + f)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Preference-Applied") != "follow" {
			t.Fatalf("%s: not followed (%d)", f, resp.StatusCode)
		}
		bodies[i] = resp
	}
	if _, err := svc.Bus.Publish(ctx, schema.Event{Kind: schema.EventStarted, Ticket: ticket, Worker: "test"}); err != nil {
		t.Fatal(err)
	}
	for i, f := range formats {
		got, err := io.ReadAll(bodies[i].Body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		svc.Wait(t, ticket, time.Minute)
		if resp, want := testenv.Do(t, "GET", dump+"?data_type="+f); resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Fatalf("%s: followed %q, the download after success %d %q", f, got, resp.StatusCode, want)
		}
	}
}
