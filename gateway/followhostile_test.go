package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// handRunning hands the service a job of two parts with part 1 stored, so
// that it stays processing until the test ends it.
func handRunning(t *testing.T, svc *testenv.Service) string {
	t.Helper()
	ticket := handJob(t, svc)
	publish(t, svc, schema.Event{Kind: schema.EventStarted, Ticket: ticket, Parts: 2, Worker: "hand"})
	csv := "001e0610b000,2026-09-30T00:00:00,tmp112,temperature,temperature,1.5\n"
	sp, err := testenv.PutPart(context.Background(), svc.Bus, ticket, 1, func() int64 { return 1 }, strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	publish(t, svc, schema.Event{Kind: schema.EventPartDone, Ticket: ticket, Part: 1, Parts: 2, Rows: 1, Bytes: sp.Bytes, Worker: "hand"})
	testenv.Eventually(t, 30*time.Second, "part 1 of "+ticket+" done", func() bool { // as the gateway sees it
		st := svc.Job(t, ticket).Status
		return st.Status == schema.StatusProcessing && st.Progress != nil && st.Progress.Done == 1
	})
	return ticket
}

// TestFollowHostileRequests: what a followed download of a running job
// does with what a client may add to it. A Range or If-Range cannot apply
// to a file not made yet: the answer is the followed stream from its first
// byte, as 200 (never a 206 a client would splice in). Anything else that
// does not fit is a 4xx in Plenario's error shape, before any stream.
func TestFollowHostileRequests(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	ticket := handRunning(t, svc)
	dump := svc.URL + "/v1/api/datadump/" + ticket
	manifest := svc.URL + "/v1/api/jobs/" + ticket + "/manifest"
	unknown := strings.Repeat("0", 32)

	t.Run("streams", func(t *testing.T) {
		for _, tc := range []struct {
			name, query, begins string
			hdr                 []string
		}{
			{"Range", "?follow=true&data_type=csv", schema.CSVHeader, []string{"Range", "bytes=10-20"}},
			{"If-Range", "?follow=true&data_type=csv", schema.CSVHeader, []string{"Range", "bytes=0-0", "If-Range", `"whatever"`}},
			{"Range, Prefer", "?data_type=ndjson", `{"node":`, []string{"Prefer", "follow", "Range", "bytes=-5"}},
			{"parquet", "?follow=true&data_type=parquet", "PAR1", []string{"Range", "bytes=4-"}},
			{"Range, gzip", "?follow=true&data_type=csv", "\x1f\x8b", []string{"Range", "bytes=1-", "Accept-Encoding", "gzip"}},
		} {
			f := openFollow(t, tc.name, dump+tc.query, tc.hdr...)
			if cr := f.resp.Header.Get("Content-Range"); cr != "" || f.resp.Header.Get("Accept-Ranges") != "none" {
				t.Fatalf("%s: Content-Range %q, Accept-Ranges %q; want none, none", tc.name, cr, f.resp.Header.Get("Accept-Ranges"))
			}
			f.readAtLeast(t, len(tc.begins))
			if got := string(f.got[:len(tc.begins)]); got != tc.begins {
				t.Fatalf("%s: began %q, want %q", tc.name, got, tc.begins)
			}
			f.resp.Body.Close()
		}
	})

	for _, tc := range []struct {
		name, url  string
		hdr        []string
		want       int
		field, msg string // the error's field and a part of its message; field "" for a top-level message
	}{
		{"follow twice, once bad", dump + "?follow=true&follow=maybe", nil, 400, "follow", "true or false"},
		{"follow empty", dump + "?follow=", nil, 400, "follow", "true or false"},
		{"bad data_type", dump + "?follow=true&data_type=xml", nil, 400, "data_type", ""},
		{"unknown parameter", dump + "?follow=true&offset=10", nil, 400, "offset", "Not a valid filter"},
		{"unknown ticket", svc.URL + "/v1/api/datadump/" + unknown + "?follow=true", nil, 404, "", "Job not found."},
		{"unknown ticket, Prefer", svc.URL + "/v1/api/datadump/" + unknown, []string{"Prefer", "follow"}, 404, "", "Job not found."},
		{"not a ticket", svc.URL + "/v1/api/datadump/not-a-ticket?follow=true", nil, 404, "", "Job not found."},
		{"manifest, follow", manifest + "?follow=true", nil, 400, "follow", "Not a valid filter"},
		{"manifest, unknown ticket", svc.URL + "/v1/api/jobs/" + unknown + "/manifest", nil, 404, "", "Job not found."},
	} {
		resp, body := testenv.Do(t, "GET", tc.url, tc.hdr...)
		var e struct {
			Error json.RawMessage `json:"error"`
		}
		if resp.StatusCode != tc.want || json.Unmarshal(body, &e) != nil || !strings.Contains(string(e.Error), tc.msg) ||
			tc.field != "" && !strings.Contains(string(e.Error), `"`+tc.field+`":[`) {
			t.Errorf("%s: got %d %s; want %d with %q under %q", tc.name, resp.StatusCode, body, tc.want, tc.msg, tc.field)
		}
	}

	// Asked not to follow (follow=false wins over Prefer), a running job's
	// download is its document, as Plenario's was.
	resp, body := testenv.Do(t, "GET", dump+"?follow=false", "Prefer", "follow")
	var doc schema.Job
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Preference-Applied") != "" || json.Unmarshal(body, &doc) != nil ||
		doc.Status.Status != schema.StatusProcessing {
		t.Fatalf("follow=false with Prefer: follow: %d %.200s; want 200 with the processing job's document", resp.StatusCode, body)
	}
	// HEAD says what a GET would, and holds nothing.
	if resp, body := testenv.Do(t, http.MethodHead, dump+"?follow=true"); resp.StatusCode != http.StatusOK ||
		resp.Header.Get("Preference-Applied") != "follow" || len(body) != 0 {
		t.Fatalf("HEAD follow: %d, Preference-Applied %q, %d bytes", resp.StatusCode, resp.Header.Get("Preference-Applied"), len(body))
	}
}

// TestFollowJobEnds: a job that fails or is cancelled while followers in
// every writer (gzip, rendered NDJSON, Parquet's row groups) are attached
// breaks each stream off, never a clean end; afterwards a follow, a
// download and a manifest of it say it has no result, and no consumer of
// the event stream is left for it.
func TestFollowJobEnds(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	base := streamConsumers(t, svc.JS)
	for _, end := range []schema.EventKind{schema.EventFailed, schema.EventCancelled} {
		ticket := handRunning(t, svc)
		dump := svc.URL + "/v1/api/datadump/" + ticket
		streams := []*followed{
			openFollow(t, "csv gzip", dump+"?follow=true&data_type=csv", "Accept-Encoding", "gzip"),
			openFollow(t, "ndjson", dump+"?follow=true&data_type=ndjson"),
			openFollow(t, "parquet", dump+"?follow=true&data_type=parquet"),
			openFollow(t, "json gzip", dump+"?follow=true&data_type=json", "Accept-Encoding", "gzip"),
		}
		for _, f := range streams {
			f.readAtLeast(t, 4)
		}
		if end == schema.EventCancelled {
			if resp, _ := testenv.Do(t, http.MethodDelete, svc.URL+"/v1/api/jobs/"+ticket); resp.StatusCode != http.StatusOK {
				t.Fatalf("cancel: %d", resp.StatusCode)
			}
		} else {
			publish(t, svc, schema.Event{Kind: schema.EventFailed, Ticket: ticket, Error: "ClickHouse said no", Worker: "hand"})
		}
		for _, f := range streams {
			n, err := io.Copy(io.Discard, f.resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s, job %s: %v after %d more bytes, want the stream broken off (unexpected EOF)", f.name, end, err, n)
			}
		}
		job := svc.Wait(t, ticket, 30*time.Second)
		resp, body := testenv.Do(t, "GET", dump+"?follow=true&data_type=csv")
		var doc schema.Job
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &doc) != nil || doc.Status.Status != job.Status.Status {
			t.Fatalf("follow of the %s job: %d %.200s, want 200 with its document", job.Status.Status, resp.StatusCode, body)
		}
		resp, body = testenv.Do(t, "GET", svc.URL+"/v1/api/jobs/"+ticket+"/manifest")
		if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), `"error":"Job is `+string(job.Status.Status)) {
			t.Fatalf("manifest of the %s job: %d %s, want 409 saying it has no result", job.Status.Status, resp.StatusCode, body)
		}
	}
	testenv.Eventually(t, 30*time.Second, "the event stream back to its consumers", func() bool {
		return streamConsumers(t, svc.JS)[events.EventStream] == base[events.EventStream]
	})
}
