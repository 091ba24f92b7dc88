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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// startGet runs `exportd get --json` with args in the background and
// returns the ticket it submitted, a channel of its end and its lines.
func startGet(t *testing.T, server string, args ...string) (string, <-chan error, *[]map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"get", "--server", server, "--json"}, args...), func(string) string { return "" }, pw)
		pw.Close()
		errc <- err
	}()
	sc := bufio.NewScanner(pr)
	var lines []map[string]any
	if !sc.Scan() {
		t.Fatalf("no output: %v", <-errc)
	}
	var first map[string]any
	if err := json.Unmarshal(sc.Bytes(), &first); err != nil || first["event"] != "submitted" {
		t.Fatalf("first line %q, want the submitted ticket", sc.Text())
	}
	lines = append(lines, first)
	done := make(chan error, 1)
	go func() {
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines = append(lines, m)
			}
		}
		done <- <-errc
	}()
	return first["ticket"].(string), done, &lines
}

// TestGetFollows: `exportd get` writes the file as the job makes it. With
// the job held after its first part, the .part file already holds more
// than the header; once the job succeeds the file is the download's, byte
// for byte, verified by SHA-256. With --no-follow nothing is written
// before success.
func TestGetFollows(t *testing.T) {
	h := testenv.StartHeld(t, 18_000, getSeedEnd)
	dir := t.TempDir()
	for i, tc := range []struct {
		name, format string
		follow       bool
	}{
		{"csv", "csv", true},
		{"json", "json", true},
		{"no-follow", "csv", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.name+"."+tc.format)
			// A new job each: the same query would be the same ticket.
			args := []string{"--start", getSeedEnd.Add(-7*24*time.Hour + time.Duration(i)*time.Second).Format(schema.DatetimeLayout),
				"--end", getSeedEnd.Format(schema.DatetimeLayout), "--format", tc.format, "--output", file}
			if !tc.follow {
				args = append(args, "--no-follow")
			}
			ticket, done, lines := startGet(t, h.URL, args...)
			h.HoldAfterFirstPart(t, ticket)
			if tc.follow {
				testenv.Eventually(t, time.Minute, "the .part file past the header while the job is held", func() bool {
					fi, err := os.Stat(file + ".part")
					return err == nil && fi.Size() > int64(len(schema.CSVHeader))
				})
			} else if _, err := os.Stat(file + ".part"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("--no-follow: %s.part exists (%v) before the job succeeded", file, err)
			}
			if st := h.Job(t, ticket).Status.Status; st != schema.StatusProcessing {
				t.Fatalf("job %s while held", st)
			}
			h.Run()
			if err := <-done; err != nil {
				t.Fatalf("get: %v (exit %d)", err, exitCode(err))
			}
			h.Hold()
			last := (*lines)[len(*lines)-1]
			want := map[string]string{"csv": "sha256", "json": "rows"}[tc.format]
			if last["event"] != "done" || last["verified"] != want {
				t.Fatalf("last line %v, want done, verified by %s", last, want)
			}
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if _, whole := testenv.Get(t, h.URL+"/v1/api/datadump/"+ticket+"?data_type="+tc.format); !bytes.Equal(got, whole) {
				t.Fatalf("file of %d bytes, the download %d", len(got), len(whole))
			}
		})
	}
}

// TestGetFollowBroken: a followed download that breaks while the job runs
// is finished, once the job has succeeded, by a ranged download from where
// it stopped, and the file still verifies. The break comes at byte 100 of
// what is sent: of the file itself when identity is forced, of the S2
// stream get asks for otherwise, where byte 100 lies in part 1's first
// block, and only the head line was written.
func TestGetFollowBroken(t *testing.T) {
	h := testenv.StartHeld(t, 18_000, getSeedEnd)
	for i, tc := range []struct {
		name     string
		identity bool  // the proxy asks for identity bytes, whatever get asks
		written  int64 // the .part file at the break
	}{
		{"identity", true, 100},
		{"s2", false, int64(len(schema.CSVHeader))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, _ := url.Parse(h.URL)
			proxy := httputil.NewSingleHostReverseProxy(target)
			proxy.ErrorLog = log.New(io.Discard, "", 0)
			if tc.identity {
				forceIdentity(proxy)
			}
			var dumps atomic.Int32
			var broken atomic.Bool
			var mu sync.Mutex
			var seen []string // each datadump request: its query, Range and the coding answered
			proxy.ModifyResponse = func(r *http.Response) error {
				if !strings.HasPrefix(r.Request.URL.Path, "/v1/api/datadump/") {
					return nil
				}
				mu.Lock()
				seen = append(seen, r.Request.URL.RawQuery+" "+r.Request.Header.Get("Range")+" "+r.Header.Get("Content-Encoding"))
				mu.Unlock()
				if dumps.Add(1) == 1 {
					r.Body = &breakingBody{ReadCloser: r.Body, left: 100, broken: &broken} // in part 1
				}
				return nil
			}
			front := httptest.NewServer(proxy)
			defer front.Close()
			file := filepath.Join(t.TempDir(), "broken.csv")
			args := append(getWindow(), "--output", file)
			args[1] = getSeedEnd.Add(-7*24*time.Hour + time.Duration(i)*time.Second).Format(schema.DatetimeLayout) // a job each
			ticket, done, lines := startGet(t, front.URL, args...)
			h.HoldAfterFirstPart(t, ticket)
			testenv.Eventually(t, time.Minute, "the followed download broken at byte 100", func() bool {
				fi, err := os.Stat(file + ".part")
				return broken.Load() && err == nil && fi.Size() == tc.written
			})
			h.Run()
			err := <-done
			h.Hold()
			if err != nil {
				t.Fatalf("get: %v (exit %d)", err, exitCode(err))
			}
			retried := false
			for _, l := range *lines {
				retried = retried || l["event"] == "retry"
			}
			if last := (*lines)[len(*lines)-1]; !retried || last["event"] != "done" || last["verified"] != "sha256" {
				t.Fatalf("last line %v (a retry line: %v), want done, verified by sha256, after a retry", last, retried)
			}
			mu.Lock()
			defer mu.Unlock()
			coding := map[bool]string{true: "", false: "s2"}[tc.identity]
			if len(seen) != 2 || !strings.Contains(seen[0], "follow=true") || !strings.HasSuffix(seen[0], " "+coding) ||
				!strings.HasSuffix(seen[1], fmt.Sprintf(" bytes=%d- ", tc.written)) {
				t.Fatalf("datadump requests %q, want the followed one (coded %q), then an identity Range from byte %d", seen, coding, tc.written)
			}
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if _, whole := testenv.Get(t, h.URL+"/v1/api/datadump/"+ticket); !bytes.Equal(got, whole) {
				t.Fatalf("file of %d bytes, the download %d", len(got), len(whole))
			}
		})
	}
}

// forceIdentity makes a proxy ask for identity bytes, whatever its client
// asks for.
func forceIdentity(p *httputil.ReverseProxy) {
	direct := p.Director
	p.Director = func(r *http.Request) {
		direct(r)
		r.Header.Set("Accept-Encoding", "identity")
	}
}

// TestGetFollowCancelled cancels a job while `exportd get` follows it, with
// part 1 written from its S2 stream: the stream ends unfinished, and get
// exits 3 saying so, leaving no file, neither whole-looking nor .part.
func TestGetFollowCancelled(t *testing.T) {
	h := testenv.StartHeld(t, 18_000, getSeedEnd)
	p := startWatchingProxy(t, h.URL, nil)
	file := filepath.Join(t.TempDir(), "cancelled.csv")
	ticket, done, _ := startGet(t, p.URL, append(getWindow(), "--output", file)...)
	h.HoldAfterFirstPart(t, ticket)
	testenv.Eventually(t, time.Minute, "the .part file past the header while the job is held", func() bool {
		fi, err := os.Stat(file + ".part")
		return err == nil && fi.Size() > int64(len(schema.CSVHeader))
	})
	if resp, _ := testenv.Do(t, http.MethodDelete, h.URL+"/v1/api/jobs/"+ticket); resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("get still running a minute after its job was cancelled")
	}
	if exitCode(err) != exitJobFailed || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("got %v (exit %d), want exit 3 saying cancelled", err, exitCode(err))
	}
	for _, name := range []string{file, file + ".part"} {
		if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left behind (%v)", name, err)
		}
	}
	if p.mu.Lock(); len(p.codings) != 1 || p.codings[0] != "s2" {
		t.Fatalf("downloads coded %q, want the followed one, s2", p.codings)
	}
	p.mu.Unlock()
}
