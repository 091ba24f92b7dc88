package gateway_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// unS2 decodes an S2 body, as one stream however many were concatenated.
func unS2(t *testing.T, name string, b []byte) []byte {
	t.Helper()
	got, err := io.ReadAll(s2.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("%s: the s2 body does not decode: %v", name, err)
	}
	return got
}

// TestDownloadS2 negotiates the s2 coding of a finished job's download:
// asked for by name (and preferred to gzip unless gzip's quality is
// higher), a CSV download is one S2 stream that decodes to the identity
// bytes, head line and all, smaller than a quarter of them, with its own
// weak ETag and no ranges; not asked for (or with q=0, or only through
// "*"), and for JSON, NDJSON, Parquet and ranges, the bytes are as they
// were without it. A part stored before compression is encoded as it is
// sent.
func TestDownloadS2(t *testing.T) {
	f := ddFinishedJob(t)
	_, identity := testenv.Do(t, "GET", f.dump)
	if !bytes.HasPrefix(identity, []byte(schema.CSVHeader)) {
		t.Fatalf("the identity download begins %.80q", identity)
	}
	for _, tc := range []struct{ name, format, accept, want string }{
		{"s2", "csv", "s2", "s2"},
		{"S2 and identity", "csv", "S2, identity", "s2"},
		{"s2 over gzip", "csv", "gzip, deflate, s2", "s2"},
		{"gzip preferred", "csv", "gzip, s2;q=0.5", "gzip"},
		{"s2 preferred", "csv", "gzip;q=0.5, s2", "s2"},
		{"s2 refused", "csv", "s2;q=0", ""},
		{"s2 refused, gzip", "csv", "gzip, s2;q=0", "gzip"},
		{"star", "csv", "*", "gzip"},
		{"none", "csv", "", ""},
		{"browser", "csv", "gzip, deflate, br, zstd", "gzip"},
		{"json", "json", "s2", ""},
		{"ndjson", "ndjson", "s2, gzip;q=0.1", "gzip"},
		{"parquet", "parquet", "s2", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.accept != "" {
				hdr = []string{"Accept-Encoding", tc.accept}
			}
			resp, body := testenv.Do(t, "GET", f.dump+"?data_type="+tc.format, hdr...)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != tc.want {
				t.Fatalf("got %d with Content-Encoding %q, want 200 with %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), tc.want)
			}
			if tc.format != "parquet" && resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Fatalf("Vary %q, want Accept-Encoding", resp.Header.Get("Vary"))
			}
			_, plain := testenv.Do(t, "GET", f.dump+"?data_type="+tc.format)
			switch tc.want {
			case "s2":
				if got := unS2(t, tc.name, body); !bytes.Equal(got, identity) {
					t.Fatalf("decoded %d bytes, the identity download %d", len(got), len(identity))
				}
				if 4*len(body) > len(identity) || resp.ContentLength != -1 || resp.Header.Get("Accept-Ranges") != "none" ||
					!strings.HasPrefix(resp.Header.Get("ETag"), `W/"`) || !strings.HasSuffix(resp.Header.Get("ETag"), `-s2"`) {
					t.Fatalf("%d bytes of %d, length %d, Accept-Ranges %q, ETag %q; want under a quarter, no length, no ranges, a weak s2 ETag",
						len(body), len(identity), resp.ContentLength, resp.Header.Get("Accept-Ranges"), resp.Header.Get("ETag"))
				}
			case "gzip":
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("gunzipped %d bytes (%v), the identity download %d", len(got), err, len(plain))
				}
			default:
				if !bytes.Equal(body, plain) {
					t.Fatalf("%d bytes, the identity download %d", len(body), len(plain))
				}
			}
		})
	}

	t.Run("range", func(t *testing.T) {
		resp, body := testenv.Do(t, "GET", f.dump, "Accept-Encoding", "s2", "Range", "bytes=10-99")
		if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, identity[10:100]) {
			t.Fatalf("got %d, Content-Encoding %q, %q; want 206 of the identity bytes", resp.StatusCode, resp.Header.Get("Content-Encoding"), body)
		}
	})
	t.Run("validators", func(t *testing.T) {
		head, _ := testenv.Do(t, "HEAD", f.dump, "Accept-Encoding", "s2")
		tag := head.Header.Get("ETag")
		if head.StatusCode != http.StatusOK || head.Header.Get("Content-Encoding") != "s2" || !strings.HasSuffix(tag, `-s2"`) {
			t.Fatalf("HEAD: %d, Content-Encoding %q, ETag %q", head.StatusCode, head.Header.Get("Content-Encoding"), tag)
		}
		if resp, _ := testenv.Do(t, "GET", f.dump, "Accept-Encoding", "s2", "If-None-Match", tag); resp.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match of the s2 ETag: %d, want 304", resp.StatusCode)
		}
		if resp, _ := testenv.Do(t, "GET", f.dump, "If-None-Match", tag); resp.StatusCode != http.StatusOK {
			t.Fatalf("identity with the s2 ETag: %d, want 200: another representation", resp.StatusCode)
		}
	})
	t.Run("part stored before compression", func(t *testing.T) {
		part := f.storedCSV(t, 2)
		f.dropPart(t, 2)
		rows := func() int64 { return int64(bytes.Count(part, []byte("\n"))) }
		if _, err := testenv.PutPart(context.Background(), f.svc.Bus, f.ticket, 2, rows, bytes.NewReader(part)); err != nil {
			t.Fatal(err)
		}
		resp, body := testenv.Do(t, "GET", f.dump, "Accept-Encoding", "s2")
		if got := unS2(t, "restored part", body); resp.Header.Get("Content-Encoding") != "s2" || !bytes.Equal(got, identity) {
			t.Fatalf("Content-Encoding %q, decoded %d bytes, want s2 and the %d identity bytes", resp.Header.Get("Content-Encoding"), len(got), len(identity))
		}
	})
}

// TestFollowS2: a followed CSV download asked for as s2 sends the head and
// each part while the job runs, and ends, once it succeeds, with the
// stream of the download after success; one whose job is cancelled ends
// as an incomplete chunked body, whatever it decodes to so far.
func TestFollowS2(t *testing.T) {
	h := startHeld(t)
	ticket := h.submit(t)
	dump := h.URL + "/v1/api/datadump/" + ticket
	f := openFollow(t, "csv s2", dump+"?follow=true&data_type=csv", "Accept-Encoding", "s2")
	if f.resp.Header.Get("Content-Encoding") != "s2" || f.resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("followed: Content-Encoding %q, Vary %q; want s2, Accept-Encoding", f.resp.Header.Get("Content-Encoding"), f.resp.Header.Get("Vary"))
	}
	h.HoldAfterFirstPart(t, ticket)
	// Part 1's stream begins after the head's: its identifier chunk and
	// more, all sent while the job cannot finish.
	f.readAtLeast(t, len(s2Head(t))+11)
	h.Run()
	rest, err := io.ReadAll(f.resp.Body)
	if err != nil {
		t.Fatalf("%v after %d bytes, want a clean end", err, len(f.got))
	}
	got := unS2(t, "followed", append(f.got, rest...))
	if st := h.Wait(t, ticket, time.Minute).Status.Status; st != schema.StatusSuccess {
		t.Fatalf("the followed download ended cleanly with the job %s", st)
	}
	if _, want := testenv.Do(t, "GET", dump+"?data_type=csv"); !bytes.Equal(got, want) {
		t.Fatalf("followed and decoded: %d bytes (sha256 %s), the download after success %d (%s)", len(got), ddHex(got), len(want), ddHex(want))
	}
	var m schema.Manifest
	ddGetJSON(t, h.URL+"/v1/api/jobs/"+ticket+"/manifest", &m)
	for _, p := range m.Parts {
		if ddHex(got[p.Offset:p.Offset+p.Bytes]) != p.SHA256 {
			t.Fatalf("part %d's bytes are not the manifest's", p.Part)
		}
	}

	h.Hold()
	ticket = h.Submit(t, "array_of_things", "start_datetime="+ddSeedEnd.Add(-7*24*time.Hour+time.Second).Format(schema.DatetimeLayout)+
		"&end_datetime="+ddSeedEnd.Format(schema.DatetimeLayout))
	c := openFollow(t, "cancelled s2", h.URL+"/v1/api/datadump/"+ticket+"?follow=true&data_type=csv", "Accept-Encoding", "s2")
	h.HoldAfterFirstPart(t, ticket)
	c.readAtLeast(t, len(s2Head(t))+11)
	if resp, _ := testenv.Do(t, http.MethodDelete, h.URL+"/v1/api/jobs/"+ticket); resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	if n, err := io.Copy(io.Discard, c.resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cancelled: %v after %d more bytes, want unexpected EOF", err, n)
	}
}

// s2Head is the CSV head line as an S2 stream of its own, as the
// gateway begins a CSV download with it.
func s2Head(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := s2.NewWriter(&b, s2.WriterConcurrency(1))
	if _, err := zw.Write([]byte(schema.CSVHeader)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
