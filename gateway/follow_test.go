package gateway_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// startHeld starts a service whose exporter the test runs and holds, with
// the datadump tests' rows.
func startHeld(t *testing.T) *heldExport {
	t.Helper()
	return &heldExport{testenv.StartHeld(t, ddRows, ddSeedEnd)}
}

type heldExport struct{ *testenv.Held }

// submit asks for the whole seeded week and returns the ticket.
func (h *heldExport) submit(t *testing.T) string {
	t.Helper()
	return h.Submit(t, "array_of_things", "start_datetime="+ddSeedEnd.Add(-7*24*time.Hour).Format(schema.DatetimeLayout)+
		"&end_datetime="+ddSeedEnd.Format(schema.DatetimeLayout))
}

// followed is one followed download being read.
type followed struct {
	name string
	resp *http.Response
	got  []byte
}

func openFollow(t *testing.T, name, u string, hdr ...string) *followed {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := testenv.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Preference-Applied") != "follow" || resp.ContentLength != -1 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: got %d (Preference-Applied %q, length %d) %.300s, want 200 followed, chunked", name, resp.StatusCode,
			resp.Header.Get("Preference-Applied"), resp.ContentLength, b)
	}
	return &followed{name: name, resp: resp}
}

// readAtLeast reads until n bytes have come.
func (f *followed) readAtLeast(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, n-len(f.got))
	if len(buf) <= 0 {
		return
	}
	k, err := io.ReadFull(f.resp.Body, buf)
	f.got = append(f.got, buf[:k]...)
	if err != nil {
		t.Fatalf("%s: read %d bytes, want %d: %v", f.name, len(f.got), n, err)
	}
}

// TestFollowRunningJob follows a running job in every format: bytes come
// while the job is held with one part stored, and once it succeeds each
// download has ended cleanly with the very file a download after success
// serves, byte for byte.
func TestFollowRunningJob(t *testing.T) {
	h := startHeld(t)
	ticket := h.submit(t)
	dump := h.URL + "/v1/api/datadump/" + ticket
	streams := []*followed{
		openFollow(t, "csv", dump+"?follow=true&data_type=csv"),
		openFollow(t, "json", dump+"?follow=true&data_type=json"),
		openFollow(t, "ndjson (Prefer)", dump+"?data_type=ndjson", "Prefer", "respond-async, follow"),
		openFollow(t, "parquet", dump+"?follow=1&data_type=parquet"),
		openFollow(t, "csv gzip", dump+"?follow=true&data_type=csv", "Accept-Encoding", "gzip"),
	}
	h.HoldAfterFirstPart(t, ticket)
	// The head and at least a byte of part 1 (a gzip stream's header and
	// its first block): all sent while the job cannot finish.
	for _, f := range streams {
		n := map[string]int{"csv": len(schema.CSVHeader) + 1, "json": 2, "parquet": 5}[f.name]
		f.readAtLeast(t, max(n, 11))
	}
	if st := h.Job(t, ticket).Status.Status; st != schema.StatusProcessing {
		t.Fatalf("job %s while held: %s, want processing", ticket, st)
	}
	h.Run()
	var wg sync.WaitGroup
	errs := make([]error, len(streams))
	for i, f := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rest, err := io.ReadAll(f.resp.Body)
			f.got, errs[i] = append(f.got, rest...), err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v after %d bytes, want a clean end", streams[i].name, err, len(streams[i].got))
		}
	}
	if st := h.Wait(t, ticket, time.Minute).Status.Status; st != schema.StatusSuccess { // its record may lag the event
		t.Fatalf("a followed download ended cleanly with the job %s", st)
	}
	zr, err := gzip.NewReader(bytes.NewReader(streams[4].got))
	if err != nil {
		t.Fatal(err)
	}
	if streams[4].got, err = io.ReadAll(zr); err != nil {
		t.Fatalf("csv gzip: %v", err)
	}
	for _, f := range streams {
		q := map[string]string{"csv": "csv", "json": "json", "ndjson (Prefer)": "ndjson", "parquet": "parquet", "csv gzip": "csv"}[f.name]
		resp, want := testenv.Do(t, "GET", dump+"?data_type="+q)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(f.got, want) {
			t.Fatalf("%s: followed %d bytes (sha256 %s), the download after success %d (%s, status %d)", f.name, len(f.got), ddHex(f.got),
				len(want), ddHex(want), resp.StatusCode)
		}
	}
	var m schema.Manifest
	ddGetJSON(t, h.URL+"/v1/api/jobs/"+ticket+"/manifest", &m)
	csv := streams[0].got
	if int64(len(csv)) != m.Bytes || ddHex(csv[:m.Header.Bytes]) != m.Header.SHA256 {
		t.Fatalf("followed CSV: %d bytes, the manifest %d", len(csv), m.Bytes)
	}
	for _, p := range m.Parts {
		if got := ddHex(csv[p.Offset : p.Offset+p.Bytes]); got != p.SHA256 {
			t.Fatalf("followed CSV, part %d: sha256 %s, the manifest %s", p.Part, got, p.SHA256)
		}
	}
	// Following a finished job is the download itself, length and all.
	resp, body := testenv.Do(t, "GET", dump+"?follow=true&data_type=csv")
	if resp.StatusCode != http.StatusOK || resp.ContentLength != m.Bytes || resp.Header.Get("ETag") == "" || !bytes.Equal(body, csv) {
		t.Fatalf("follow of a finished job: %d, length %d, ETag %q", resp.StatusCode, resp.ContentLength, resp.Header.Get("ETag"))
	}
}

// TestFollowCancelled cancels a job while its download is followed: the
// client must see the body broken off, never a clean end.
func TestFollowCancelled(t *testing.T) {
	h := startHeld(t)
	ticket := h.submit(t)
	dump := h.URL + "/v1/api/datadump/" + ticket
	csv := openFollow(t, "csv", dump+"?follow=true&data_type=csv")
	js := openFollow(t, "json", dump+"?follow=true&data_type=json")
	h.HoldAfterFirstPart(t, ticket)
	csv.readAtLeast(t, len(schema.CSVHeader)+1)
	js.readAtLeast(t, 2)
	if resp, _ := testenv.Do(t, http.MethodDelete, h.URL+"/v1/api/jobs/"+ticket); resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	for _, f := range []*followed{csv, js} {
		n, err := io.Copy(io.Discard, f.resp.Body)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%s: %v after %d more bytes, want unexpected EOF", f.name, err, n)
		}
	}
}

// TestFollowErrors: a bad follow value is a 400 in Plenario's shape, and a
// job that ended without a result answers as a download of it does: 200
// with its job document, as Plenario's datadump did.
func TestFollowErrors(t *testing.T) {
	h := startHeld(t)
	ticket := h.submit(t)
	dump := h.URL + "/v1/api/datadump/" + ticket
	resp, body := testenv.Do(t, "GET", dump+"?follow=maybe")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"follow"`) {
		t.Fatalf("follow=maybe: got %d %s, want 400 naming follow", resp.StatusCode, body)
	}
	if resp, _ := testenv.Do(t, http.MethodDelete, h.URL+"/v1/api/jobs/"+ticket); resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	h.Wait(t, ticket, 30*time.Second)
	resp, body = testenv.Do(t, "GET", dump+"?follow=true")
	var doc schema.Job
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &doc) != nil || doc.Status.Status != schema.StatusCancelled {
		t.Fatalf("follow of a cancelled job: got %d %s, want 200 with the cancelled job's document", resp.StatusCode, body)
	}
}
