package gateway_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// ddSeedEnd is the end of the demo data the datadump tests export: 20 ticks
// of 900 values, 18 000 rows, exported in parts of about 2 000 rows.
var ddSeedEnd = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

const ddRows = 18_000

type ddFixture struct {
	svc    *testenv.Service
	ticket string
	dump   string // the datadump URL
}

// ddFinishedJob exports the whole demo network and waits for success.
func ddFinishedJob(t *testing.T) *ddFixture {
	t.Helper()
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 2000})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), ddRows, ddSeedEnd); err != nil {
		t.Fatal(err)
	}
	u := svc.URL + "/v1/api/sensor-networks/array_of_things/download?data_type=csv&start_datetime=" +
		ddSeedEnd.Add(-7*24*time.Hour).Format(schema.DatetimeLayout) + "&end_datetime=" + ddSeedEnd.Format(schema.DatetimeLayout)
	var job schema.Job
	ddGetJSON(t, u, &job)
	testenv.Eventually(t, time.Minute, "the export succeeds", func() bool {
		ddGetJSON(t, svc.URL+"/v1/api/jobs/"+job.Ticket, &job)
		if job.Status.Status == schema.StatusError {
			t.Fatalf("export failed: %+v", job.Result)
		}
		return job.Status.Status == schema.StatusSuccess
	})
	return &ddFixture{svc: svc, ticket: job.Ticket, dump: svc.URL + "/v1/api/datadump/" + job.Ticket}
}

// storedCSV reads a part's CSV back from the object store.
func (f *ddFixture) storedCSV(t *testing.T, part int) []byte {
	t.Helper()
	r, err := f.svc.Bus.OpenPart(context.Background(), f.ticket, part)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dropPart deletes a stored part, so that a test can store it again in
// another shape: a part stored whole is never replaced.
func (f *ddFixture) dropPart(t *testing.T, part int) {
	t.Helper()
	if err := f.svc.Bus.DeletePart(context.Background(), f.ticket, part); err != nil {
		t.Fatal(err)
	}
}

func ddGetJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, body := testenv.Do(t, "GET", u)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %.300s", u, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %.300s", u, err, body)
	}
}

func ddHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestManifest checks that a finished job's manifest describes exactly
// what the object store holds and what the download serves.
func TestManifest(t *testing.T) {
	f := ddFinishedJob(t)
	var doc struct {
		Result struct {
			URL      string `json:"url"`
			Manifest string `json:"manifest"`
			Rows     int64  `json:"rows"`
		} `json:"result"`
	}
	ddGetJSON(t, f.svc.URL+"/v1/api/jobs/"+f.ticket, &doc)
	if want := f.svc.URL + "/v1/api/jobs/" + f.ticket + "/manifest"; doc.Result.Manifest != want {
		t.Fatalf("result.manifest = %q, want %q", doc.Result.Manifest, want)
	}
	var m schema.Manifest
	ddGetJSON(t, doc.Result.Manifest, &m)
	if len(m.Parts) < 3 {
		t.Fatalf("got %d parts, want several (PartRows 2000 of %d rows)", len(m.Parts), ddRows)
	}
	if m.Rows != ddRows || doc.Result.Rows != ddRows {
		t.Fatalf("manifest rows %d, job rows %d, want %d", m.Rows, doc.Result.Rows, ddRows)
	}
	if m.Ticket != f.ticket || m.TransactionTime == "" || m.Query.Network != "array_of_things" || !strings.Contains(m.Request, "/download?") {
		t.Fatalf("manifest head: %+v", m)
	}
	if len(m.Output) != 4 || m.Output[0].URL != doc.Result.URL || !m.Output[0].Ranges || !m.Output[1].Ranges || !m.Output[2].Ranges ||
		m.Output[3].Format != schema.FormatParquet || m.Output[3].Ranges {
		t.Fatalf("manifest output: %+v", m.Output)
	}

	resp, body := testenv.Do(t, "GET", f.dump)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != m.Bytes || int64(len(body)) != m.Bytes {
		t.Fatalf("download: status %d, Content-Length %d, %d bytes; manifest says %d", resp.StatusCode, resp.ContentLength, len(body), m.Bytes)
	}
	if ddHex(body[:m.Header.Bytes]) != m.Header.SHA256 {
		t.Fatal("header digest does not match")
	}
	var rows, off int64 = 0, m.Header.Bytes
	for _, p := range m.Parts {
		// The stored object itself, read back from the object store ...
		stored := f.storedCSV(t, p.Part)
		if got := ddHex(stored); got != p.SHA256 || int64(len(stored)) != p.Bytes {
			t.Fatalf("part %d: stored %d bytes sha256 %s, manifest %d bytes %s", p.Part, len(stored), got, p.Bytes, p.SHA256)
		}
		if got := int64(bytes.Count(stored, []byte("\n"))); got != p.Rows {
			t.Fatalf("part %d: %d lines, manifest says %d rows", p.Part, got, p.Rows)
		}
		// ... and its place in the download.
		if p.Offset != off || ddHex(body[off:off+p.Bytes]) != p.SHA256 {
			t.Fatalf("part %d: offset %d (want %d) or bytes in the download do not match its digest", p.Part, p.Offset, off)
		}
		off += p.Bytes
		rows += p.Rows
	}
	if off != m.Bytes || rows != m.Rows {
		t.Fatalf("parts add up to %d bytes %d rows, manifest says %d %d", off, rows, m.Bytes, m.Rows)
	}
	// Jobs say when they expire: the download says it to caches too.
	exp, err := http.ParseTime(resp.Header.Get("Expires"))
	mexp, merr := time.Parse(time.RFC3339, m.Expires)
	if err != nil || merr != nil || !exp.Equal(mexp.Truncate(time.Second)) || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "private, max-age=") {
		t.Fatalf("Expires %q (%v), Cache-Control %q, manifest expires %q", resp.Header.Get("Expires"), err, resp.Header.Get("Cache-Control"), m.Expires)
	}

	// Unknown tickets and jobs without a result.
	unknown := strings.Repeat("ab", 16)
	resp, body = testenv.Do(t, "GET", f.svc.URL+"/v1/api/jobs/"+unknown+"/manifest")
	var nf map[string]string
	if resp.StatusCode != http.StatusNotFound || json.Unmarshal(body, &nf) != nil || nf["ticket"] != unknown || nf["error"] != "Job not found." {
		t.Fatalf("unknown ticket: %d %s", resp.StatusCode, body)
	}
}

// TestManifestNotReady checks that a job that has not finished has no
// manifest and no download yet: 409 with a reason, and Retry-After.
// A query of the whole network travels compacted (no list of every node,
// sensor and feature in its events and records), and the documents people
// read list them all, as Plenario echoed a resolved query.
func TestQueryListsCompactedAndShown(t *testing.T) {
	f := ddFinishedJob(t)
	n := chstore.DemoNetwork("array_of_things")
	var doc struct {
		Request struct {
			Query struct {
				Nodes, Sensors, Features []string
				AllNodes                 bool `json:"all_nodes"`
			} `json:"query"`
		} `json:"request"`
		Result struct {
			Manifest string `json:"manifest"`
		} `json:"result"`
	}
	ddGetJSON(t, f.svc.URL+"/v1/api/jobs/"+f.ticket, &doc)
	q := doc.Request.Query
	if len(q.Nodes) != len(n.Nodes) || len(q.Sensors) != len(n.Sensors) || len(q.Features) != len(n.Features) || !q.AllNodes {
		t.Fatalf("document query lists %d nodes, %d sensors, %d features (all_nodes %v), want the network's %d, %d, %d",
			len(q.Nodes), len(q.Sensors), len(q.Features), q.AllNodes, len(n.Nodes), len(n.Sensors), len(n.Features))
	}
	var m schema.Manifest
	ddGetJSON(t, doc.Result.Manifest, &m)
	if len(m.Query.Nodes) != len(n.Nodes) {
		t.Fatalf("manifest query lists %d nodes, want %d", len(m.Query.Nodes), len(n.Nodes))
	}

	ctx := context.Background()
	entry, err := f.svc.Jobs(t).Get(ctx, f.ticket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.svc.Bus.QueuedEvent(ctx, f.ticket)
	if err != nil {
		t.Fatal(err)
	}
	queued, _ := json.Marshal(e)
	for what, raw := range map[string][]byte{"job record": entry.Value(), "queued event": queued} {
		for _, key := range []string{`"nodes"`, `"sensors"`, `"features"`} {
			if bytes.Contains(raw, []byte(key)) {
				t.Errorf("the %s holds %s of a query of all: %.300s", what, key, raw)
			}
		}
		if !bytes.Contains(raw, []byte(`"all_nodes":true`)) {
			t.Errorf("the %s does not say all_nodes: %.300s", what, raw)
		}
	}
}

func TestManifestNotReady(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), 900, ddSeedEnd); err != nil {
		t.Fatal(err)
	}
	var job schema.Job
	ddGetJSON(t, svc.URL+"/v1/api/sensor-networks/array_of_things/download", &job)
	u := svc.URL + "/v1/api/jobs/" + job.Ticket + "/manifest" // the datadump's answer: TestDatadumpNotReady
	resp, body := testenv.Do(t, "GET", u)
	var e struct {
		Error string `json:"error"`
	}
	if resp.StatusCode != http.StatusConflict || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "queued") ||
		resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%s: got %d %s (Retry-After %q), want 409 saying the job is queued", u, resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
}

// TestDownloadRanges checks Range, If-Range, HEAD, conditional GETs and
// gzip on a download of several parts, each answer against the full file.
func TestDownloadRanges(t *testing.T) {
	f := ddFinishedJob(t)
	var m schema.Manifest
	ddGetJSON(t, f.svc.URL+"/v1/api/jobs/"+f.ticket+"/manifest", &m)
	full, whole := testenv.Do(t, "GET", f.dump)
	size := int64(len(whole))
	etag := full.Header.Get("ETag")
	if full.Header.Get("Accept-Ranges") != "bytes" || !strings.HasPrefix(etag, `"`) || full.Header.Get("Cache-Control") == "" {
		t.Fatalf("full download headers: %v", full.Header)
	}
	p1, p2 := m.Parts[1], m.Parts[2]
	span := func(a, b int64) string {
		return "bytes " + strconv.FormatInt(a, 10) + "-" + strconv.FormatInt(b-1, 10) + "/" + strconv.FormatInt(size, 10)
	}
	for _, tc := range []struct {
		name      string
		hdr       []string
		status    int
		from, to  int64 // want whole[from:to]
		wantRange string
		wantEmpty bool
	}{
		{name: "first bytes", hdr: []string{"Range", "bytes=0-99"}, status: 206, from: 0, to: 100, wantRange: span(0, 100)},
		{name: "header and into part 1", hdr: []string{"Range", "bytes=10-" + strconv.FormatInt(m.Header.Bytes+50, 10)}, status: 206,
			from: 10, to: m.Header.Bytes + 51, wantRange: span(10, m.Header.Bytes+51)},
		{name: "middle spanning parts", hdr: []string{"Range", "bytes=" + strconv.FormatInt(p1.Offset+7, 10) + "-" + strconv.FormatInt(p2.Offset+p2.Bytes+9, 10)},
			status: 206, from: p1.Offset + 7, to: p2.Offset + p2.Bytes + 10, wantRange: span(p1.Offset+7, p2.Offset+p2.Bytes+10)},
		{name: "exactly one part", hdr: []string{"Range", "bytes=" + strconv.FormatInt(p2.Offset, 10) + "-" + strconv.FormatInt(p2.Offset+p2.Bytes-1, 10)},
			status: 206, from: p2.Offset, to: p2.Offset + p2.Bytes, wantRange: span(p2.Offset, p2.Offset+p2.Bytes)},
		{name: "open ended from mid part", hdr: []string{"Range", "bytes=" + strconv.FormatInt(p1.Offset+p1.Bytes/2, 10) + "-"},
			status: 206, from: p1.Offset + p1.Bytes/2, to: size, wantRange: span(p1.Offset+p1.Bytes/2, size)},
		{name: "suffix", hdr: []string{"Range", "bytes=-500"}, status: 206, from: size - 500, to: size, wantRange: span(size-500, size)},
		{name: "suffix longer than file", hdr: []string{"Range", "bytes=-" + strconv.FormatInt(size*2, 10)}, status: 206, from: 0, to: size, wantRange: span(0, size)},
		{name: "end past the file", hdr: []string{"Range", "bytes=" + strconv.FormatInt(size-3, 10) + "-" + strconv.FormatInt(size+1000, 10)},
			status: 206, from: size - 3, to: size, wantRange: span(size-3, size)},
		{name: "unsatisfiable", hdr: []string{"Range", "bytes=" + strconv.FormatInt(size, 10) + "-"}, status: 416,
			wantRange: "bytes */" + strconv.FormatInt(size, 10), wantEmpty: true},
		{name: "empty suffix", hdr: []string{"Range", "bytes=-0"}, status: 416, wantRange: "bytes */" + strconv.FormatInt(size, 10), wantEmpty: true},
		{name: "last is the largest int64", hdr: []string{"Range", "bytes=0-9223372036854775807"}, status: 206, from: 0, to: size, wantRange: span(0, size)},
		{name: "last beyond int64", hdr: []string{"Range", "bytes=5-99999999999999999999"}, status: 206, from: 5, to: size, wantRange: span(5, size)},
		{name: "first beyond int64", hdr: []string{"Range", "bytes=99999999999999999999-"}, status: 416,
			wantRange: "bytes */" + strconv.FormatInt(size, 10), wantEmpty: true},
		{name: "suffix beyond int64", hdr: []string{"Range", "bytes=-99999999999999999999"}, status: 206, from: 0, to: size, wantRange: span(0, size)},
		{name: "last before first is ignored", hdr: []string{"Range", "bytes=50-10"}, status: 200, from: 0, to: size},
		{name: "If-Range matches", hdr: []string{"Range", "bytes=0-9", "If-Range", etag}, status: 206, from: 0, to: 10, wantRange: span(0, 10)},
		{name: "If-Range last modified", hdr: []string{"Range", "bytes=0-9", "If-Range", full.Header.Get("Last-Modified")}, status: 206, from: 0, to: 10, wantRange: span(0, 10)},
		{name: "If-Range mismatch", hdr: []string{"Range", "bytes=0-9", "If-Range", `"something-else"`}, status: 200, from: 0, to: size},
		{name: "two ranges are ignored", hdr: []string{"Range", "bytes=0-9,20-29"}, status: 200, from: 0, to: size},
		{name: "not a byte range", hdr: []string{"Range", "lines=1-2"}, status: 200, from: 0, to: size},
		{name: "range wins over gzip", hdr: []string{"Range", "bytes=0-9", "Accept-Encoding", "gzip"}, status: 206, from: 0, to: 10, wantRange: span(0, 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := testenv.Do(t, "GET", f.dump, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, tc.status, body)
			}
			if got := resp.Header.Get("Content-Range"); got != tc.wantRange {
				t.Fatalf("Content-Range %q, want %q", got, tc.wantRange)
			}
			if tc.wantEmpty {
				return
			}
			if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("ETag") != etag {
				t.Fatalf("Content-Encoding %q ETag %q, want identity and %s", resp.Header.Get("Content-Encoding"), resp.Header.Get("ETag"), etag)
			}
			if resp.ContentLength != tc.to-tc.from || !bytes.Equal(body, whole[tc.from:tc.to]) {
				t.Fatalf("got %d bytes (Content-Length %d), want bytes %d-%d of the file", len(body), resp.ContentLength, tc.from, tc.to)
			}
		})
	}

	t.Run("HEAD", func(t *testing.T) {
		resp, body := testenv.Do(t, "HEAD", f.dump)
		if resp.StatusCode != 200 || resp.ContentLength != size || len(body) != 0 || resp.Header.Get("ETag") != etag {
			t.Fatalf("HEAD: %d, Content-Length %d, %d body bytes, ETag %q", resp.StatusCode, resp.ContentLength, len(body), resp.Header.Get("ETag"))
		}
		resp, body = testenv.Do(t, "HEAD", f.dump, "Accept-Encoding", "gzip")
		if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != -1 {
			t.Fatalf("HEAD gzip: %d, Content-Length %d, %d body bytes", resp.StatusCode, resp.ContentLength, len(body))
		}
		_, nd := testenv.Do(t, "GET", f.dump+"?data_type=ndjson")
		resp, body = testenv.Do(t, "HEAD", f.dump+"?data_type=ndjson")
		if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(nd)) {
			t.Fatalf("HEAD ndjson: %d, Content-Length %d, %d body bytes; want the %d of a GET", resp.StatusCode, resp.ContentLength, len(body), len(nd))
		}
		resp, _ = testenv.Do(t, "HEAD", f.dump, "Range", "bytes=-10")
		if resp.StatusCode != 206 || resp.ContentLength != 10 {
			t.Fatalf("HEAD with range: %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
		}
	})
	t.Run("JSON rendered, with its length and ranges", func(t *testing.T) {
		want := f.jsonOfCSV(t, whole, false)
		resp, got := testenv.Do(t, "GET", f.dump+"?data_type=json")
		if !bytes.Equal(got, want) || resp.ContentLength != int64(len(want)) || resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Fatalf("JSON: %d bytes (Content-Length %d, Accept-Ranges %q), want the %d of one writer over the CSV",
				len(got), resp.ContentLength, resp.Header.Get("Accept-Ranges"), len(want))
		}
		jsonTag := resp.Header.Get("ETag")
		n := int64(len(want))
		// Around the bracket, every place where one part's fragment meets
		// the next, and the end.
		cuts := []int64{0, 1, 2, n - 2, n - 1}
		at := int64(len(f.envelope(t).head)) - 1 // where part i's fragment begins, less its first byte
		for _, p := range m.Parts {
			sp, err := f.svc.Bus.Part(context.Background(), f.ticket, p.Part)
			if err != nil || sp.JSON <= 0 {
				t.Fatalf("part %d: JSON %d bytes, %v", p.Part, sp.JSON, err)
			}
			at += sp.JSON
			cuts = append(cuts, at-1, at, at+1) // the download is the envelope's head and the parts' bytes from 1
		}
		for _, c := range cuts {
			for _, r := range [][2]int64{{c, c}, {c, min(c+70, n-1)}, {max(c-70, 0), c}} {
				hdr := "bytes=" + strconv.FormatInt(r[0], 10) + "-" + strconv.FormatInt(r[1], 10)
				resp, body := testenv.Do(t, "GET", f.dump+"?data_type=json", "Range", hdr, "If-Range", jsonTag)
				if resp.StatusCode != 206 || !bytes.Equal(body, want[r[0]:r[1]+1]) {
					t.Fatalf("JSON %s: %d, %q, want %q", hdr, resp.StatusCode, body, want[r[0]:r[1]+1])
				}
			}
		}
		for _, k := range []int64{1, 2, 3, 100} {
			resp, body := testenv.Do(t, "GET", f.dump+"?data_type=json", "Range", "bytes=-"+strconv.FormatInt(k, 10))
			if resp.StatusCode != 206 || !bytes.Equal(body, want[n-k:]) {
				t.Fatalf("JSON last %d bytes: %d, %q, want %q", k, resp.StatusCode, body, want[n-k:])
			}
		}
		resp, body := testenv.Do(t, "HEAD", f.dump+"?data_type=json")
		if resp.StatusCode != 200 || resp.ContentLength != n || len(body) != 0 {
			t.Fatalf("HEAD JSON: %d, Content-Length %d, %d body bytes", resp.StatusCode, resp.ContentLength, len(body))
		}
	})
	t.Run("JSON and NDJSON are one writer's over the CSV", func(t *testing.T) {
		for _, format := range []string{"json", "ndjson"} {
			want := f.jsonOfCSV(t, whole, format == "ndjson")
			if _, got := testenv.Do(t, "GET", f.dump+"?data_type="+format); !bytes.Equal(got, want) {
				t.Fatalf("%s download of %d parts: %d bytes, not the %d of one writer over the CSV", format, len(m.Parts), len(got), len(want))
			}
		}
	})
	t.Run("If-None-Match", func(t *testing.T) {
		resp, body := testenv.Do(t, "GET", f.dump, "If-None-Match", etag)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Fatalf("got %d with %d bytes, want 304", resp.StatusCode, len(body))
		}
	})
	t.Run("gzip", func(t *testing.T) {
		for _, format := range []string{"csv", "ndjson", "json"} {
			_, plain := testenv.Do(t, "GET", f.dump+"?data_type="+format)
			resp, zipped := testenv.Do(t, "GET", f.dump+"?data_type="+format, "Accept-Encoding", "br;q=1, gzip;q=0.8")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" ||
				resp.Header.Get("Accept-Ranges") != "none" || strings.HasPrefix(resp.Header.Get("ETag"), `"`) {
				t.Fatalf("%s: %d %v", format, resp.StatusCode, resp.Header)
			}
			zr, err := gzip.NewReader(bytes.NewReader(zipped))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("%s: gunzip: %v", format, err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("%s: gunzipped %d bytes differ from the plain %d", format, len(got), len(plain))
			}
			if format == "csv" && len(zipped)*3 > len(plain) {
				t.Fatalf("gzip made %d bytes of %d: hardly compressed", len(zipped), len(plain))
			}
		}
		resp, _ := testenv.Do(t, "GET", f.dump, "Accept-Encoding", "gzip;q=0, identity")
		if resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("gzip;q=0 got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
	})
	t.Run("random ranges of JSON and NDJSON, parts rendered in chunks", func(t *testing.T) {
		defer gateway.SetRenderChunk(3000)() // parts of 2000 rows, ~140 kB: dozens of chunks each
		rng := rand.New(rand.NewPCG(1, 2))
		for _, format := range []string{"json", "ndjson"} {
			if _, got := testenv.Do(t, "GET", f.dump+"?data_type="+format); !bytes.Equal(got, f.jsonOfCSV(t, whole, format == "ndjson")) {
				t.Fatalf("%s rendered in chunks: %d bytes, not the %d of one renderer over the CSV", format, len(got), len(f.jsonOfCSV(t, whole, format == "ndjson")))
			}
			resp, whole := testenv.Do(t, "GET", f.dump+"?data_type="+format)
			tag := resp.Header.Get("ETag")
			if resp.ContentLength != int64(len(whole)) || resp.Header.Get("Accept-Ranges") != "bytes" || !strings.HasPrefix(tag, `"`) {
				t.Fatalf("%s: Content-Length %d of %d bytes, Accept-Ranges %q, ETag %q; want its length, ranges and a strong ETag",
					format, resp.ContentLength, len(whole), resp.Header.Get("Accept-Ranges"), tag)
			}
			n := int64(len(whole))
			for range 40 {
				a := rng.Int64N(n)
				b := a + rng.Int64N(min(n-a, 300_000))
				hdr := "bytes=" + strconv.FormatInt(a, 10) + "-" + strconv.FormatInt(b, 10)
				resp, body := testenv.Do(t, "GET", f.dump+"?data_type="+format, "Range", hdr, "If-Range", tag)
				if resp.StatusCode != 206 || resp.ContentLength != b-a+1 || !bytes.Equal(body, whole[a:b+1]) {
					t.Fatalf("%s %s: %d, %d bytes (Content-Length %d), want the %d of the file's slice", format, hdr, resp.StatusCode,
						len(body), resp.ContentLength, b-a+1)
				}
			}
		}
	})
}

// TestDownloadPartsGone checks that a result whose parts left the store is
// a 404 saying so, before any byte is sent, not a truncated file.
func TestDownloadPartsGone(t *testing.T) {
	f := ddFinishedJob(t)
	var job schema.Job
	ddGetJSON(t, f.svc.URL+"/v1/api/jobs/"+f.ticket, &job)
	if err := f.svc.Bus.DeleteParts(context.Background(), f.ticket, job.Status.Progress.Total); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{f.dump, f.dump + "?data_type=json", f.svc.URL + "/v1/api/jobs/" + f.ticket + "/manifest"} {
		resp, body := testenv.Do(t, "GET", u)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "no longer stored") {
			t.Fatalf("%s: got %d %s, want 404 saying the result is no longer stored", u, resp.StatusCode, body)
		}
	}
}

// TestDownloadJSONOfPartsWithout checks that a job one of whose parts has
// no JSON size recorded (stored before the exporter counted it) still
// downloads as JSON and NDJSON: rendered from the CSV, the same bytes,
// without a length or ranges.
func TestDownloadJSONOfPartsWithout(t *testing.T) {
	f := ddFinishedJob(t)
	part := f.storedCSV(t, 2)
	f.dropPart(t, 2)
	sp, err := testenv.PutPart(context.Background(), f.svc.Bus, f.ticket, 2, func() int64 { return int64(bytes.Count(part, []byte("\n"))) }, bytes.NewReader(part))
	if err != nil || sp.JSON != -1 {
		t.Fatalf("restored part 2: JSON %d, %v; want none", sp.JSON, err)
	}
	_, csv := testenv.Do(t, "GET", f.dump) // after: the gateway keeps the part infos of a succeeded job
	for _, format := range []string{"json", "ndjson"} {
		resp, got := testenv.Do(t, "GET", f.dump+"?data_type="+format, "Range", "bytes=0-9")
		if want := f.jsonOfCSV(t, csv, format == "ndjson"); resp.StatusCode != 200 || !bytes.Equal(got, want) || resp.ContentLength != -1 ||
			resp.Header.Get("Accept-Ranges") != "none" {
			t.Fatalf("%s: %d, %d bytes (Content-Length %d, Accept-Ranges %q), want 200 and the %d of one writer over the CSV",
				format, resp.StatusCode, len(got), resp.ContentLength, resp.Header.Get("Accept-Ranges"), len(want))
		}
	}
	var m schema.Manifest
	ddGetJSON(t, f.svc.URL+"/v1/api/jobs/"+f.ticket+"/manifest", &m)
	if !m.Output[0].Ranges || m.Output[1].Ranges {
		t.Fatalf("manifest output: %+v, want ranges for CSV only", m.Output)
	}
}

// TestDownloadEmptyPart checks a job with a part of no rows (a time slice
// with no readings), whose JSON fragment is empty: every download passes
// over it by its size, without opening it.
func TestDownloadEmptyPart(t *testing.T) {
	f := ddFinishedJob(t)
	f.dropPart(t, 2)
	w := f.svc.Bus.NewPartWriter(context.Background(), f.ticket, 2)
	w.Rendered(0, 0)
	sp, err := w.Close(0)
	if err != nil || sp.JSON != 0 || sp.Bytes != 0 {
		t.Fatalf("empty part 2: %+v, %v", sp, err)
	}
	_, csv := testenv.Do(t, "GET", f.dump)
	for _, format := range []string{"json", "ndjson"} {
		want := f.jsonOfCSV(t, csv, format == "ndjson")
		resp, got := testenv.Do(t, "GET", f.dump+"?data_type="+format)
		if resp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d, %d bytes, want the %d of one writer over the CSV", format, resp.StatusCode, len(got), len(want))
		}
		if format == "json" {
			resp, got = testenv.Do(t, "GET", f.dump+"?data_type=json", "Range", "bytes=1-")
			if resp.StatusCode != 206 || !bytes.Equal(got, want[1:]) {
				t.Fatalf("JSON from byte 1: %d, %d bytes, want %d", resp.StatusCode, len(got), len(want)-1)
			}
		}
	}
}
