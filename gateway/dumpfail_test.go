package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// ddFormats are the ways a finished job is fetched: each must fail the
// same way when its parts cannot be read.
var ddFormats = []struct {
	name  string
	query string
	hdr   []string
}{
	{"csv", "", nil},
	{"csv gzip", "", []string{"Accept-Encoding", "gzip"}},
	{"csv range", "", []string{"Range", "bytes=100-"}},
	{"json", "?data_type=json", nil},
	{"json gzip", "?data_type=json", []string{"Accept-Encoding", "gzip"}},
	{"ndjson", "?data_type=ndjson", nil},
	{"ndjson gzip", "?data_type=ndjson", []string{"Accept-Encoding", "gzip"}},
}

// purgeChunks removes a part's chunks from the result store and leaves its
// object info: the part is listed, and its bytes cannot be read.
func purgeChunks(t *testing.T, svc *testenv.Service, ticket string, part int) {
	t.Helper()
	ctx := context.Background()
	for _, store := range []jetstream.ObjectStore{svc.ObjectStore(t, events.ResultBucket)} {
		info, err := store.GetInfo(ctx, schema.PartObject(ticket, part))
		if err != nil {
			t.Fatal(err)
		}
		s, err := svc.JS.Stream(ctx, "OBJ_"+info.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Purge(ctx, jetstream.WithPurgeSubject("$O."+info.Bucket+".C."+info.NUID)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDownloadCannotStart checks that a download whose first part cannot
// be read (its chunks gone, its object info left) is a 503 with
// Retry-After in the error shape, not an empty reply or a 200 with an
// empty gzip body.
func TestDownloadCannotStart(t *testing.T) {
	f := ddFinishedJob(t)
	purgeChunks(t, f.svc, f.ticket, 1)
	for _, tc := range ddFormats {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := testenv.Do(t, "GET", f.dump+tc.query, tc.hdr...)
			var e struct{ Error string }
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
				json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Fatalf("got %d (Retry-After %q) %q, want 503 with Retry-After and an error", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
			if cd := resp.Header.Get("Content-Disposition"); cd != "" {
				t.Fatalf("the error carries Content-Disposition %q: a browser saves it as the file", cd)
			}
		})
	}
}

// TestDownloadBreaksOff checks that a download whose later parts cannot be
// read is broken off: the client's read of the response fails (its
// length not reached, or no last chunk), for identity and gzip alike,
// instead of ending cleanly on a short file.
func TestDownloadBreaksOff(t *testing.T) {
	f := ddFinishedJob(t)
	if resp, _ := testenv.Do(t, "GET", f.dump); resp.StatusCode != http.StatusOK {
		t.Fatalf("first download: %d", resp.StatusCode)
	}
	var job schema.Job
	ddGetJSON(t, f.svc.URL+"/v1/api/jobs/"+f.ticket, &job)
	total := job.Status.Progress.Total
	if total < 4 {
		t.Fatalf("%d parts: the test needs at least 4", total)
	}
	for p := 3; p <= total; p++ {
		if err := f.svc.Bus.DeletePart(context.Background(), f.ticket, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range ddFormats {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.dump+tc.query, nil)
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			resp, err := testenv.HTTPClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				t.Fatalf("got %d, want the download to start", resp.StatusCode)
			}
			// The response itself, not only what it decodes to, must end
			// broken: a gzip body cut short but framed as complete is what
			// `curl --compressed` takes for a whole file when it is empty.
			n, err := io.Copy(io.Discard, resp.Body)
			if err == nil {
				t.Fatalf("read %d bytes and a clean end, want the download broken off", n)
			}
		})
	}
}

// TestDownloadJSONDamagedPart checks that a JSON download of a part whose
// stored S2 block is damaged (its blocks decoded on every core, apart from
// the read) is broken off, not sent with other bytes.
func TestDownloadJSONDamagedPart(t *testing.T) {
	f := ddFinishedJob(t)
	part := f.storedCSV(t, 2)
	var zb bytes.Buffer
	zw := s2.NewWriter(&zb, s2.WriterConcurrency(1), s2.WriterBlockSize(256<<10))
	if _, err := zw.Write(part); err != nil || zw.Close() != nil {
		t.Fatal(err)
	}
	z := zb.Bytes()
	z[len(z)/2] ^= 0x10
	sum := sha256.Sum256(part)
	if _, err := f.svc.ObjectStore(t, events.ResultBucket).Put(context.Background(), jetstream.ObjectMeta{Name: schema.PartObject(f.ticket, 2),
		Metadata: map[string]string{events.MetaRows: strconv.Itoa(bytes.Count(part, []byte("\n"))), events.MetaEncoding: events.EncodingS2,
			events.MetaSize: strconv.Itoa(len(part)), events.MetaSHA256: hex.EncodeToString(sum[:])}}, bytes.NewReader(z)); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"json", "ndjson"} {
		resp, err := testenv.HTTPClient.Get(f.dump + "?data_type=" + format)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err == nil {
			t.Fatalf("%s: %d, %d bytes and error %v, want the download started and broken off", format, resp.StatusCode, n, err)
		}
	}
}
