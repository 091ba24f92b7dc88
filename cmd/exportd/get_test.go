package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/duckdb"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// getSeedEnd ends the demo data `exportd get` exports: 18 000 rows in parts
// of about 2 000.
var getSeedEnd = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)

func startGetService(t *testing.T) *testenv.Service {
	t.Helper()
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 2000})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), 18_000, getSeedEnd); err != nil {
		t.Fatal(err)
	}
	return svc
}

// getWindow is the flags of the whole seeded window.
func getWindow() []string {
	return []string{"--start", getSeedEnd.Add(-7 * 24 * time.Hour).Format(schema.DatetimeLayout), "--end", getSeedEnd.Format(schema.DatetimeLayout)}
}

// runGet runs `exportd get` as main would, returning its error and the JSON
// lines it printed.
func runGet(t *testing.T, server string, args ...string) (error, []map[string]any) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{"get", "--server", server, "--json"}, args...)
	err := run(ctx, all, func(string) string { return "" }, &out)
	var lines []map[string]any
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("--json printed a line that is not JSON: %q", sc.Text())
		}
		lines = append(lines, m)
	}
	return err, lines
}

func lastEvent(lines []map[string]any) map[string]any {
	if len(lines) == 0 {
		return nil
	}
	return lines[len(lines)-1]
}

func sortedObs(o []testenv.Obs) []testenv.Obs {
	sort.Slice(o, func(i, j int) bool { return fmt.Sprint(o[i]) < fmt.Sprint(o[j]) })
	return o
}

const directSelect = "SELECT node_id, ts, sensor, feature, property, value FROM observations WHERE network = 'array_of_things' AND ts >= ? AND ts < ?"

// TestGet exports, follows and downloads with `exportd get`, and compares
// the file with what ClickHouse holds, row for row.
func TestGet(t *testing.T) {
	svc := startGetService(t)
	dir := t.TempDir()
	from, to := getSeedEnd.Add(-7*24*time.Hour), getSeedEnd
	var ticket string

	t.Run("csv", func(t *testing.T) {
		file := filepath.Join(dir, "all.csv")
		err, lines := runGet(t, svc.URL, append(getWindow(), "--output", file)...)
		if err != nil {
			t.Fatalf("get: %v (exit %d)", err, exitCode(err))
		}
		done := lastEvent(lines)
		ticket, _ = done["ticket"].(string)
		if done["event"] != "done" || done["verified"] != "sha256" || done["parts"].(float64) < 3 {
			t.Fatalf("last line %v, want done, verified by sha256, several parts", done)
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got := testenv.ParseCSV(t, f)
		want := testenv.DirectRows(t, svc.Store, directSelect, from, to)
		if len(got) != len(want) || len(want) != 18_000 || done["rows"].(float64) != float64(len(want)) {
			t.Fatalf("file has %d rows, ClickHouse %d, get said %v", len(got), len(want), done["rows"])
		}
		if !reflect.DeepEqual(sortedObs(got), sortedObs(want)) {
			t.Fatal("the file's rows differ from ClickHouse's")
		}
		if _, err := os.Stat(file + ".part"); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s.part left behind: %v", file, err)
		}
		var sawProgress bool
		for _, l := range lines {
			sawProgress = sawProgress || (l["event"] == "progress" && l["status"] == "success")
		}
		if !sawProgress {
			t.Fatalf("no progress line with the final status in %v", lines)
		}
	})

	t.Run("ndjson filtered", func(t *testing.T) {
		file := filepath.Join(dir, "temp.ndjson")
		err, lines := runGet(t, svc.URL, append(getWindow(), "--features", "temperature", "--nodes", "001e0610b000,001e0610b001",
			"--format", "ndjson", "--output", file)...)
		if err != nil {
			t.Fatalf("get: %v (exit %d)", err, exitCode(err))
		}
		want := testenv.DirectRows(t, svc.Store, directSelect+" AND feature = 'temperature' AND node_id IN ('001e0610b000', '001e0610b001')", from, to)
		done := lastEvent(lines)
		if len(want) == 0 || done["event"] != "done" || done["rows"].(float64) != float64(len(want)) || done["verified"] != "rows" {
			t.Fatalf("last line %v, want done with %d rows", done, len(want))
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var o schema.Observation
			if err := json.Unmarshal(line, &o); err != nil || o.Feature != "temperature" {
				t.Fatalf("line %q: %v", line, err)
			}
			n += len(o.Results)
		}
		if n != len(want) {
			t.Fatalf("file has %d values, ClickHouse %d", n, len(want))
		}
	})

	t.Run("parquet", func(t *testing.T) {
		file := filepath.Join(dir, "temp.parquet")
		err, lines := runGet(t, svc.URL, append(getWindow(), "--features", "temperature", "--format", "parquet", "--output", file)...)
		if err != nil {
			t.Fatalf("get: %v (exit %d)", err, exitCode(err))
		}
		want := testenv.DirectRows(t, svc.Store, directSelect+" AND feature = 'temperature'", from, to)
		done := lastEvent(lines)
		if len(want) == 0 || done["event"] != "done" || done["rows"].(float64) != float64(len(want)) || done["verified"] != "rows" {
			t.Fatalf("last line %v, want done with %d rows", done, len(want))
		}
		got := duckdb.Query(t, fmt.Sprintf(`SELECT count(*) AS n, count(*) FILTER (WHERE feature = 'temperature') AS t FROM read_parquet('%s')`, file))
		if n := fmt.Sprint(len(want)); got[0]["n"] != n || got[0]["t"] != n {
			t.Fatalf("DuckDB reads %v rows (%v of temperature), ClickHouse has %s", got[0]["n"], got[0]["t"], n)
		}
	})

	t.Run("compressed", func(t *testing.T) {
		plain, err := os.ReadFile(filepath.Join(dir, "all.csv"))
		if err != nil {
			t.Fatal(err)
		}
		// A proxy that notes how the file travelled.
		target, _ := url.Parse(svc.URL)
		proxy := httputil.NewSingleHostReverseProxy(target)
		var encoding atomic.Value
		proxy.ModifyResponse = func(r *http.Response) error {
			if strings.HasPrefix(r.Request.URL.Path, "/v1/api/datadump/") {
				encoding.Store(r.Header.Get("Content-Encoding"))
			}
			return nil
		}
		front := httptest.NewServer(proxy)
		defer front.Close()
		file := filepath.Join(dir, "zipped.csv")
		// A job submitted through the proxy has its links there too. (A
		// second later start: the same query would be the same ticket, with
		// the links of its first submission.)
		err, lines := runGet(t, front.URL, "--start", getSeedEnd.Add(-7*24*time.Hour+time.Second).Format(schema.DatetimeLayout),
			"--end", getSeedEnd.Format(schema.DatetimeLayout), "--compressed", "--output", file)
		if done := lastEvent(lines); err != nil || done["verified"] != "sha256" || encoding.Load() != "gzip" {
			t.Fatalf("get --compressed: %v, last line %v, Content-Encoding %v", err, done, encoding.Load())
		}
		got, err := os.ReadFile(file)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("the unzipped file (%d bytes, %v) differs from the plain download (%d bytes)", len(got), err, len(plain))
		}
	})

	t.Run("existing ticket", func(t *testing.T) {
		file := filepath.Join(dir, "again.json")
		err, lines := runGet(t, svc.URL, "--ticket", ticket, "--format", "json", "--output", file)
		if done := lastEvent(lines); err != nil || done["rows"] != 18_000.0 || done["ticket"] != ticket {
			t.Fatalf("get --ticket: %v, last line %v", err, done)
		}
		for _, bad := range []string{"xyz", strings.Repeat("0", 32)} {
			if err, _ := runGet(t, svc.URL, "--ticket", bad); exitCode(err) != exitBadRequest {
				t.Fatalf("--ticket %s: got %v (exit %d), want exit 2", bad, err, exitCode(err))
			}
		}
	})

	t.Run("bad request", func(t *testing.T) {
		file := filepath.Join(dir, "never.csv")
		err, lines := runGet(t, svc.URL, "--features", "no_such_feature", "--output", file)
		if exitCode(err) != exitBadRequest || !strings.Contains(err.Error(), "features: ") || !strings.Contains(err.Error(), "no_such_feature") {
			t.Fatalf("got %v (exit %d), want exit 2 naming the feature", err, exitCode(err))
		}
		if l := lastEvent(lines); l["event"] != "error" || l["code"].(float64) != exitBadRequest {
			t.Fatalf("last line %v, want the error", l)
		}
		if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("a file was written for a refused export")
		}
		if err, _ := runGet(t, svc.URL, "--network", "no_such_network"); exitCode(err) != exitBadRequest {
			t.Fatalf("unknown network: got %v (exit %d), want exit 2", err, exitCode(err))
		}
		if err, _ := runGet(t, svc.URL, "--format", "xml"); exitCode(err) != exitBadRequest {
			t.Fatalf("--format xml: got %v (exit %d), want exit 2", err, exitCode(err))
		}
	})

	t.Run("server down", func(t *testing.T) {
		err, _ := runGet(t, "http://127.0.0.1:1", "--output", filepath.Join(dir, "x.csv"))
		if exitCode(err) != exitOther {
			t.Fatalf("got %v (exit %d), want exit 1", err, exitCode(err))
		}
	})
}

// breakingBody ends a response with an error after left bytes, as a
// dropped connection does.
type breakingBody struct {
	io.ReadCloser
	left   int64
	broken *atomic.Bool // set once it broke, if not nil
}

func (b *breakingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		if b.broken != nil {
			b.broken.Store(true)
		}
		return 0, errors.New("connection dropped by the test")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// flippingBody changes the byte at offset at.
type flippingBody struct {
	io.ReadCloser
	at, pos int64
}

func (b *flippingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if i := b.at - b.pos; i >= 0 && i < int64(n) {
		p[i] ^= 0x01
	}
	b.pos += int64(n)
	return n, err
}

// TestGetResumes puts a proxy between `exportd get` and the server that
// drops the first two downloads part way: the client resumes with Range
// each time and still writes a file that matches the manifest.
func TestGetResumes(t *testing.T) {
	svc := startGetService(t)
	old := retryDelay
	retryDelay = 10 * time.Millisecond
	t.Cleanup(func() { retryDelay = old })

	target, _ := url.Parse(svc.URL)
	var dumps, ranged atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	proxy.ModifyResponse = func(r *http.Response) error {
		if !strings.HasPrefix(r.Request.URL.Path, "/v1/api/datadump/") {
			return nil
		}
		if r.Request.Header.Get("Range") != "" {
			ranged.Add(1)
		}
		switch dumps.Add(1) {
		case 1: // in the middle of some part
			r.Body = &breakingBody{ReadCloser: r.Body, left: 30_000}
		case 2: // a little further
			r.Body = &breakingBody{ReadCloser: r.Body, left: 50_001}
		}
		return nil
	}
	front := httptest.NewServer(proxy)
	defer front.Close()

	file := filepath.Join(t.TempDir(), "resumed.csv")
	err, lines := runGet(t, front.URL, append(getWindow(), "--output", file)...)
	if err != nil {
		t.Fatalf("get: %v (exit %d)", err, exitCode(err))
	}
	if dumps.Load() != 3 || ranged.Load() != 2 {
		t.Fatalf("%d datadump requests, %d with Range; want 3 and 2", dumps.Load(), ranged.Load())
	}
	retries := 0
	for _, l := range lines {
		if l["event"] == "retry" {
			retries++
		}
	}
	if done := lastEvent(lines); retries != 2 || done["event"] != "done" || done["verified"] != "sha256" {
		t.Fatalf("%d retry lines, last line %v", retries, done)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, whole := testenv.Get(t, svc.URL+"/v1/api/datadump/"+lines[0]["ticket"].(string))
	if !bytes.Equal(got, whole) {
		t.Fatalf("resumed file (%d bytes) differs from a direct download (%d bytes)", len(got), len(whole))
	}

	// JSON is stored too: it resumes the same way.
	dumps.Store(0)
	ranged.Store(0)
	fileJSON := filepath.Join(t.TempDir(), "resumed.json")
	err, lines = runGet(t, front.URL, "--ticket", lines[0]["ticket"].(string), "--format", "json", "--output", fileJSON)
	if err != nil {
		t.Fatalf("get JSON: %v (exit %d)", err, exitCode(err))
	}
	if dumps.Load() != 3 || ranged.Load() != 2 {
		t.Fatalf("JSON: %d datadump requests, %d with Range; want 3 and 2", dumps.Load(), ranged.Load())
	}
	gotJSON, err := os.ReadFile(fileJSON)
	if err != nil {
		t.Fatal(err)
	}
	if _, whole := testenv.Get(t, svc.URL+"/v1/api/datadump/"+lines[0]["ticket"].(string)+"?data_type=json"); !bytes.Equal(gotJSON, whole) {
		t.Fatalf("resumed JSON (%d bytes) differs from a direct download (%d bytes)", len(gotJSON), len(whole))
	}

	// A byte changed on the way: the part that holds it fails its digest,
	// exit 4, no file.
	proxy.ModifyResponse = func(r *http.Response) error {
		if strings.HasPrefix(r.Request.URL.Path, "/v1/api/datadump/") {
			r.Body = &flippingBody{ReadCloser: r.Body, at: 40_000}
		}
		return nil
	}
	file3 := filepath.Join(t.TempDir(), "corrupt.csv")
	err, _ = runGet(t, front.URL, "--ticket", lines[0]["ticket"].(string), "--output", file3)
	if exitCode(err) != exitDownload || !strings.Contains(err.Error(), "sha256") || !strings.Contains(err.Error(), "part ") {
		t.Fatalf("corrupted download: got %v (exit %d), want exit 4 naming the part", err, exitCode(err))
	}
	if _, err := os.Stat(file3); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a corrupted download was kept")
	}

	// A server that keeps dropping: bounded retries, then exit 4.
	dumps.Store(-100)
	proxy.ModifyResponse = func(r *http.Response) error {
		if strings.HasPrefix(r.Request.URL.Path, "/v1/api/datadump/") {
			r.Body = &breakingBody{ReadCloser: r.Body, left: 1000}
		}
		return nil
	}
	file2 := filepath.Join(t.TempDir(), "never.csv")
	err, _ = runGet(t, front.URL, append(getWindow(), "--output", file2, "--retries", "2")...)
	if exitCode(err) != exitDownload {
		t.Fatalf("got %v (exit %d), want exit 4", err, exitCode(err))
	}
	if _, err := os.Stat(file2); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed download left its file")
	}
	if _, err := os.Stat(file2 + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed download left its .part file")
	}
}

// TestGetCancelled cancels the job `exportd get` is following: it exits 3,
// the code of a job that ended without a result.
func TestGetCancelled(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true}) // the job stays queued
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), 900, getSeedEnd); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"get", "--server", svc.URL, "--json", "--output", filepath.Join(t.TempDir(), "x.csv")},
			func(string) string { return "" }, pw)
		pw.Close()
		errc <- err
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("no output: %v", <-errc)
	}
	var first map[string]any
	if err := json.Unmarshal(sc.Bytes(), &first); err != nil || first["event"] != "submitted" {
		t.Fatalf("first line %q, want the submitted ticket", sc.Text())
	}
	req, _ := http.NewRequest(http.MethodDelete, svc.URL+"/v1/api/jobs/"+first["ticket"].(string), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: status %d", resp.StatusCode)
	}
	for sc.Scan() {
	}
	if err := <-errc; exitCode(err) != exitJobFailed || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("got %v (exit %d), want exit 3 saying cancelled", err, exitCode(err))
	}
}
