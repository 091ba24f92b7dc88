package gateway_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// rawFollower is a followed download on a TCP connection of its own, so
// that the test can close it (the client gone) or stop reading it (a
// client too slow to keep up) as a real client does.
type rawFollower struct {
	format string
	coding string // Content-Encoding asked for: "", gzip or s2
	conn   net.Conn
	body   io.ReadCloser
	got    []byte
}

// openRawFollower asks for ticket's followed download as format and reads
// its first n bytes.
func openRawFollower(base, ticket, format, coding string, n int) (*rawFollower, error) {
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		return nil, err
	}
	f := &rawFollower{format: format, coding: coding, conn: conn}
	conn.SetDeadline(time.Now().Add(2 * time.Minute)) // a hang fails the test, not the run
	req := "GET /v1/api/datadump/" + ticket + "?follow=true&data_type=" + format + " HTTP/1.1\r\nHost: " + host + "\r\n"
	if coding != "" {
		req += "Accept-Encoding: " + coding + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Preference-Applied") != "follow" {
		conn.Close()
		return nil, fmt.Errorf("%s: got %d, Preference-Applied %q; want 200 followed", format, resp.StatusCode, resp.Header.Get("Preference-Applied"))
	}
	f.body = resp.Body
	f.got = make([]byte, n)
	if _, err := io.ReadFull(f.body, f.got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: first %d bytes: %v", format, n, err)
	}
	return f, nil
}

// finish reads the rest of the download and returns the file it holds
// (decoded when sent with a coding).
func (f *rawFollower) finish() ([]byte, error) {
	rest, err := io.ReadAll(f.body)
	f.got = append(f.got, rest...)
	if err != nil {
		return nil, fmt.Errorf("%v after %d bytes, want a clean end", err, len(f.got))
	}
	switch f.coding {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(f.got))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	case "s2":
		return io.ReadAll(s2.NewReader(bytes.NewReader(f.got)))
	}
	return f.got, nil
}

// goroutinesAtMost polls until the process runs at most n goroutines.
func goroutinesAtMost(t *testing.T, n int, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for g := runtime.NumGoroutine(); g > n; g = runtime.NumGoroutine() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d goroutines after %s, want at most %d", what, g, within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// natsSubs counts the NATS server's subscriptions by subject, inboxes as
// one.
func natsSubs(t *testing.T, s *server.Server) map[string]int {
	t.Helper()
	cz, err := s.Connz(&server.ConnzOptions{Subscriptions: true, Limit: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range cz.Conns {
		for _, sub := range c.Subs {
			if strings.HasPrefix(sub, "_INBOX.") {
				sub = "_INBOX." + strings.Repeat(".*", strings.Count(sub, "."))[1:] // a reply inbox; ".*.*": a response mux
			}
			sub = c.Name + " " + sub
			out[sub]++
		}
	}
	return out
}

// subsBack polls until the server has no more subscriptions of any
// subject than base had, and names those left over if it has.
func subsBack(t *testing.T, s *server.Server, base map[string]int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var extra []string
		for sub, n := range natsSubs(t, s) {
			if n > base[sub] {
				extra = append(extra, fmt.Sprintf("%s: %d, was %d", sub, n, base[sub]))
			}
		}
		if len(extra) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("NATS subscriptions left over after %s: %s", within, strings.Join(extra, "; "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFollowManyClients follows one running job with 200 clients in every
// format at once. Half of them close their connection while the job is
// held (a pipeline restarted, a browser tab closed): the gateway lets go
// of them then, not when the next part happens to be stored, which may be
// never. A tenth of the rest stop reading: the job still succeeds, the
// others and a plain download get the whole file, and the slow ones get it
// too once they read again. Afterwards the NATS server has the consumers
// and subscriptions it had before, and the gateway the goroutines.
func TestFollowManyClients(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const followers, slack = 200, 25
	h := startHeld(t)
	ticket := h.submit(t)
	h.HoldAfterFirstPart(t, ticket)
	baseConsumers := streamConsumers(t, h.JS)
	baseSubs := natsSubs(t, h.NATS)
	baseG := runtime.NumGoroutine()

	formats := []struct {
		name   string
		coding string
	}{{"csv", ""}, {"json", ""}, {"ndjson", ""}, {"csv", "gzip"}, {"parquet", ""}, {"csv", "s2"}, {"json", "gzip"}}
	fs := make([]*rawFollower, followers)
	errs := make([]error, followers)
	var wg sync.WaitGroup
	bounded(&wg, 32, followers, func(i int) {
		f := formats[i%len(formats)]
		fs[i], errs[i] = openRawFollower(h.URL, ticket, f.name, f.coding, 4)
	})
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("follower %d: %v", i, err)
		}
	}
	t.Cleanup(func() {
		for _, f := range fs {
			f.conn.Close()
		}
	})
	openG := runtime.NumGoroutine()
	if got, want := streamConsumers(t, h.JS), baseConsumers; got[events.EventStream] > want[events.EventStream]+1 {
		t.Errorf("%d followers of one job: %d consumers of the event stream, want at most %d", followers, got[events.EventStream], want[events.EventStream]+1)
	}

	// Half leave while the job cannot move on.
	for i := 1; i < followers; i += 2 {
		fs[i].conn.Close()
	}
	goroutinesAtMost(t, baseG+(openG-baseG)/2+slack, time.Minute, fmt.Sprintf("%d of %d followers gone while the job is held", followers/2, followers))

	// The rest: every tenth stops reading, the others read to the end.
	var fast, slow []*rawFollower
	for i := 0; i < followers; i += 2 {
		if i%20 == 0 {
			slow = append(slow, fs[i])
		} else {
			fast = append(fast, fs[i])
		}
	}
	h.Run()
	files := make([][]byte, len(fast))
	errs = make([]error, len(fast))
	for i, f := range fast {
		wg.Add(1)
		go func() { defer wg.Done(); files[i], errs[i] = f.finish() }()
	}
	wg.Wait()
	if st := h.Wait(t, ticket, time.Minute).Status.Status; st != schema.StatusSuccess {
		t.Fatalf("job %s with %d followers not reading", st, len(slow))
	}
	// The exporter's consumers and goroutines are not the followers'.
	h.Hold()
	want := map[string][]byte{} // the download after success, by format
	for _, f := range formats {
		if want[f.name] == nil {
			resp, body := testenv.Do(t, "GET", h.URL+"/v1/api/datadump/"+ticket+"?data_type="+f.name)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("download %s after success: %d %.200s", f.name, resp.StatusCode, body)
			}
			want[f.name] = body
		}
	}
	check := func(what string, f *rawFollower, got []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s %s (coding %q): %v", what, f.format, f.coding, err)
		}
		if !bytes.Equal(got, want[f.format]) {
			t.Fatalf("%s %s (coding %q): %d bytes (sha256 %s), the download after success %d (%s)", what, f.format, f.coding,
				len(got), ddHex(got), len(want[f.format]), ddHex(want[f.format]))
		}
	}
	for i, f := range fast {
		check("follower", f, files[i], errs[i])
	}
	for _, f := range slow {
		got, err := f.finish()
		check("follower that stopped reading", f, got, err)
	}
	for _, f := range fs {
		f.conn.Close()
	}

	testenv.Eventually(t, 30*time.Second, "every stream back to its consumers", func() bool {
		got := streamConsumers(t, h.JS)
		for name, n := range baseConsumers {
			if got[name] != n {
				return false
			}
		}
		return true
	})
	subsBack(t, h.NATS, baseSubs, 30*time.Second)
	goroutinesAtMost(t, baseG+slack, time.Minute, "every follower done")
}

// TestFollowStalledClient: followers that stop reading a job's download
// (their windows full, the server's writes blocked) hold up neither the
// job nor for ever what they were sent from: they are cut off once they
// have taken nothing for the stall limit, and find their stream broken
// off, never a clean end.
func TestFollowStalledClient(t *testing.T) {
	defer gateway.SetWriteStall(time.Second)()
	const stalled, slack = 20, 10
	// Some 12 MB of JSON: more than the kernels hold for a client that
	// reads nothing (its receive buffer 4 KiB, the server's send buffer
	// at most 4 MiB), so the server's writes block.
	h := &heldExport{testenv.StartHeld(t, 60_000, ddSeedEnd)}
	ticket := h.submit(t)
	baseG := runtime.NumGoroutine()
	conns := stalledClients(t, h.URL, "/v1/api/datadump/"+ticket+"?follow=true&data_type=json", stalled)
	h.Run()
	if st := h.Wait(t, ticket, 2*time.Minute).Status.Status; st != schema.StatusSuccess {
		t.Fatalf("job %s with %d followers reading nothing", st, stalled)
	}
	h.Hold()
	stalledAtLeast(t, h.URL, stalled, 30*time.Second)
	goroutinesAtMost(t, baseG+slack, 30*time.Second, fmt.Sprintf("%d followers that read nothing, past the stall limit", stalled))
	brokenOff(t, conns, "stalled follower")
}
