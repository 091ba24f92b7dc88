package gateway_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// streamConsumers is the number of consumers of every stream, by name.
func streamConsumers(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[string]int{}
	l := js.ListStreams(ctx)
	for info := range l.Info() {
		out[info.Config.Name] = info.State.Consumers
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNoLeakedConsumers is the load that used to exhaust the streams'
// consumers (each read of a part, each Range and each event stream made
// one that outlived it): 5 000 clients following one job, 2 000 one-byte
// Ranges, 200 whole downloads and 200 manifests of another, all at once. Afterwards every
// stream has the consumers it had before, and a download is byte-exact.
func TestNoLeakedConsumers(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const sseClients, ranges, downloads, manifests = 5000, 2000, 200, 200
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	store := testenv.MustOpenStore(t)
	if err := store.Seed(ctx, chstore.DemoNetwork("array_of_things"), ddRows, ddSeedEnd); err != nil {
		t.Fatal(err)
	}
	svc := testenv.StartService(t, testenv.ServiceOptions{Store: store, NoExporter: true})

	// A planner and an exporter of the test's own export the job to
	// download, and stop: the job the clients follow then stays processing
	// until the test ends it.
	wctx, stopWork := context.WithCancel(ctx)
	var work sync.WaitGroup
	pl := exporter.NewPlanner(svc.Bus, store, testenv.TestLogger())
	pl.PartRows = 2000
	ex := exporter.NewExporter(svc.Bus, store, testenv.TestLogger())
	for _, run := range []func(context.Context) error{pl.Run, ex.Run} {
		work.Add(1)
		go func() { defer work.Done(); _ = run(wctx) }()
	}
	ticket := svc.Submit(t, "array_of_things", "start_datetime="+ddSeedEnd.Add(-24*time.Hour).Format(time.RFC3339)+"&end_datetime="+ddSeedEnd.Format(time.RFC3339))
	if job := svc.Wait(t, ticket, time.Minute); job.Status.Status != schema.StatusSuccess {
		t.Fatalf("export: %s", job.Status.Status)
	}
	stopWork()
	work.Wait()
	dump := svc.URL + "/v1/api/datadump/" + ticket
	resp, want := testenv.Do(t, "GET", dump)
	if resp.StatusCode != 200 || len(want) < 1000 {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(want))
	}
	wantSum := sha256.Sum256(want)

	followed := handJob(t, svc)
	publish(t, svc, schema.Event{Kind: schema.EventStarted, Ticket: followed, Parts: 1, Estimate: 100, Worker: "hand"})
	testenv.Eventually(t, 10*time.Second, "the followed job is processing", func() bool {
		rec, _, err := svc.Bus.Job(ctx, followed)
		return err == nil && rec.Job.Status.Status == schema.StatusProcessing
	})
	base := streamConsumers(t, svc.JS)

	clients := openSSEClients(t, svc.URL, followed, sseClients)
	if got := streamConsumers(t, svc.JS)[events.EventStream]; got != base[events.EventStream]+1 {
		t.Errorf("%d clients of one job: %d event stream consumers, want %d", sseClients, got, base[events.EventStream]+1)
	}

	var failures atomic.Int64
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 5 {
			t.Errorf(format, args...)
		}
	}
	var wg sync.WaitGroup
	bounded(&wg, 32, ranges, func(i int) {
		k := (i * 7919) % len(want)
		resp, body := testenv.Do(t, "GET", dump, "Range", "bytes="+strconv.Itoa(k)+"-"+strconv.Itoa(k))
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[k:k+1]) {
			fail("Range %d: %d %q, want 206 %q", k, resp.StatusCode, body, want[k:k+1])
		}
	})
	bounded(&wg, 16, downloads, func(i int) {
		var hdr []string
		if i%4 == 0 {
			hdr = []string{"Accept-Encoding", "gzip"}
		}
		resp, body := testenv.Do(t, "GET", dump, hdr...)
		if hdr != nil {
			body = gunzip(t, body)
		}
		if resp.StatusCode != 200 || sha256.Sum256(body) != wantSum {
			fail("download %d: %d, %d bytes, want 200 and the %d of the first", i, resp.StatusCode, len(body), len(want))
		}
	})
	bounded(&wg, 8, manifests, func(i int) {
		if code, body := testenv.Get(t, svc.URL+"/v1/api/jobs/"+ticket+"/manifest"); code != 200 {
			fail("manifest %d: %d %s", i, code, body)
		}
	})
	wg.Wait()

	publish(t, svc, schema.Event{Kind: schema.EventPartDone, Ticket: followed, Part: 1, Rows: 100})
	publish(t, svc, schema.Event{Kind: schema.EventSucceeded, Ticket: followed, Rows: 100})
	clients.untilTerminal(t, fail)

	testenv.Eventually(t, 30*time.Second, "every stream back to its consumers", func() bool {
		got := streamConsumers(t, svc.JS)
		for name, n := range base {
			if got[name] != n {
				return false
			}
		}
		return true
	})
	if resp, body := testenv.Do(t, "GET", dump); resp.StatusCode != 200 || sha256.Sum256(body) != wantSum {
		t.Fatalf("download after the load: %d, %d bytes, want 200 and %d", resp.StatusCode, len(body), len(want))
	}
}

// bounded runs f(0..n-1) on workers goroutines, adding them to wg.
func bounded(wg *sync.WaitGroup, workers, n int, f func(i int)) {
	next := make(chan int)
	go func() {
		for i := range n {
			next <- i
		}
		close(next)
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
}

// sseClients are raw event stream connections, each read on a goroutine
// of its own that records the events' kinds.
type sseClients struct {
	conns []net.Conn
	done  sync.WaitGroup
	kinds [][]string
}

// openSSEClients connects n event stream clients to ticket's stream, each
// having received the job document when it returns.
func openSSEClients(t *testing.T, base, ticket string, n int) *sseClients {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	req := "GET /v1/api/jobs/" + ticket + "/events HTTP/1.1\r\nHost: " + host + "\r\nAccept: text/event-stream\r\n\r\n"
	c := &sseClients{conns: make([]net.Conn, n), kinds: make([][]string, n)}
	t.Cleanup(func() {
		for _, conn := range c.conns {
			if conn != nil {
				conn.Close()
			}
		}
	})
	var opened sync.WaitGroup
	var errs atomic.Int64
	bounded(&opened, 64, n, func(i int) {
		conn, err := net.DialTimeout("tcp", host, 10*time.Second)
		if err != nil {
			errs.Add(1)
			return
		}
		c.conns[i] = conn
		conn.SetDeadline(time.Now().Add(time.Minute))
		if _, err := io.WriteString(conn, req); err != nil {
			errs.Add(1)
			return
		}
		br := bufio.NewReader(conn)
		if status, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(status, "HTTP/1.1 200 ") {
			errs.Add(1)
			return
		}
		for { // until the document
			line, err := br.ReadString('\n')
			if err != nil {
				errs.Add(1)
				return
			}
			if line == "event: job\n" {
				break
			}
		}
		c.done.Add(1)
		go func() {
			defer c.done.Done()
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if kind, ok := strings.CutPrefix(line, "event: "); ok {
					c.kinds[i] = append(c.kinds[i], strings.TrimSpace(kind))
					if kind == string(schema.EventSucceeded)+"\n" {
						return
					}
				}
			}
		}()
	})
	opened.Wait()
	if n := errs.Load(); n > 0 {
		t.Fatalf("%d of the event stream clients did not get the document", n)
	}
	return c
}

// untilTerminal waits for every client to have read the job's end.
func (c *sseClients) untilTerminal(t *testing.T, fail func(string, ...any)) {
	t.Helper()
	c.done.Wait()
	for i, k := range c.kinds {
		if got := strings.Join(k, " "); got != "part_done succeeded" {
			fail("client %d saw %q, want %q", i, got, "part_done succeeded")
		}
	}
}

// gunzip is b decompressed; nil if it is not whole gzip.
func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil
	}
	return out
}
