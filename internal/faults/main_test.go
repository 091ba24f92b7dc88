package faults_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// exportdBin is the exportd binary built for this run; modRoot the module's
// directory.
var exportdBin, modRoot string

// seedEnd is where the seeded data ends: the six days before it hold rows.
var seedEnd = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

const network = "array_of_things"

// everything is the query string of an export of all seeded rows.
const everything = "start_datetime=2026-09-24T00:00:00&end_datetime=2026-10-01T00:00:00"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		fmt.Fprintln(os.Stderr, "faults: cannot find the module root:", err)
		return 1
	}
	modRoot = filepath.Dir(strings.TrimSpace(string(out)))
	dir, err := os.MkdirTemp("", "exportd-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	exportdBin = filepath.Join(dir, "exportd")
	build := exec.Command("go", "build", "-o", exportdBin, "./cmd/exportd")
	build.Dir = modRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "faults: go build ./cmd/exportd: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	if shared.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = shared.store.DropDatabase(ctx)
		_ = shared.store.Close()
	}
	return code
}

// sharedRows is how many rows the shared database holds.
const sharedRows = 2_000_000

// shared is a database of sharedRows demo rows, seeded once for the tests
// that only read it and dropped after the run.
var shared struct {
	once  sync.Once
	store *chstore.Store
	err   error
}

// sharedStore returns the shared database, seeding it on first use.
func sharedStore(t *testing.T) *chstore.Store {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		shared.store, shared.err = chstore.Open(ctx, chstore.Config{Addr: testenv.ClickHouseAddr(), Database: testenv.RandomName("exportd_faults_")})
		if shared.err != nil {
			return
		}
		start := time.Now()
		shared.err = shared.store.Seed(ctx, chstore.DemoNetwork(network), sharedRows, seedEnd)
		t.Logf("seeded the shared database with %d rows in %s", sharedRows, time.Since(start).Round(time.Millisecond))
	})
	if shared.err != nil {
		t.Fatalf("shared database on %s: %v", testenv.ClickHouseAddr(), shared.err)
	}
	return shared.store
}

// proc is an exportd OS process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // its stdout and stderr
	done chan struct{}
	err  error
}

// startExportd starts exportd with args and env (on top of a cleaned
// environment: no EXPORTD_ variable of the caller leaks in) and kills it
// when the test ends; its output goes to a file shown when the test fails.
func startExportd(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(t.TempDir(), name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(exportdBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EXPORTD_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, "EXPORTD_LOG_FORMAT=text")
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("--- tail of %s's log ---\n%s", name, b)
		}
	})
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitHTTP waits until url answers 200, failing early if p exits.
func waitHTTP(t *testing.T, p *proc, url string, within time.Duration) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	testenv.Eventually(t, within, url+" answers", func() bool {
		if p.exited() {
			t.Fatalf("%s exited: %v", p.name, p.err)
		}
		resp, err := c.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// jobDoc GETs a job document.
func jobDoc(t *testing.T, base, ticket string) schema.Job {
	t.Helper()
	code, body := testenv.Get(t, base+"/v1/api/jobs/"+ticket)
	if code != 200 {
		t.Fatalf("GET job %s: %d %s", ticket, code, body)
	}
	var j schema.Job
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatal(err)
	}
	return j
}

// mustSucceed waits for a job through the HTTP API and fails the test
// unless it succeeded.
func mustSucceed(t *testing.T, base, ticket string, within time.Duration) schema.Job {
	t.Helper()
	j := (&testenv.Service{URL: base}).Wait(t, ticket, within)
	if j.Status.Status != schema.StatusSuccess {
		t.Fatalf("job %s: got status %q, result %v; want success", ticket, j.Status.Status, j.Result)
	}
	return j
}

// window is a query string for [from, to).
func window(from, to time.Time) string {
	return "start_datetime=" + from.UTC().Format("2006-01-02T15:04:05") + "&end_datetime=" + to.UTC().Format("2006-01-02T15:04:05")
}

// seed loads rows demo observations ending at seedEnd into s.
func seed(t *testing.T, s *chstore.Store, rows int64) {
	t.Helper()
	start := time.Now()
	if err := s.Seed(context.Background(), chstore.DemoNetwork(network), rows, seedEnd); err != nil {
		t.Fatalf("seed: %v", err)
	}
	t.Logf("seeded %d rows in %s", rows, time.Since(start).Round(time.Millisecond))
}

// checkDownload downloads a successful job's CSV and compares it, row by
// row and in order, with the direct ClickHouse query of [from, to) on the
// database db at addr: nothing lost, nothing twice, nothing changed. Both
// sides are streamed. It returns the number of rows.
func checkDownload(t *testing.T, base, ticket, addr, db string, from, to time.Time) int64 {
	t.Helper()
	began := time.Now()
	req, err := http.NewRequest(http.MethodGet, base+"/v1/api/datadump/"+ticket+"?data_type=csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity") // the plain CSV, as curl fetches it
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("download %s: got %d %s", ticket, resp.StatusCode, b)
	}
	cr := csv.NewReader(bufio.NewReaderSize(resp.Body, 1<<20))
	cr.FieldsPerRecord = 6
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil || strings.Join(head, ",") != "node_id,datetime,sensor,feature,property,value" {
		t.Fatalf("download %s: bad header %q (%v)", ticket, head, err)
	}

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rows, err := conn.Query(ctx, `SELECT node_id, ts, sensor, feature, property, value FROM observations
		WHERE network = ? AND ts >= toDateTime(?) AND ts < toDateTime(?)
		ORDER BY ts, node_id, sensor, feature, property`, network, uint32(from.Unix()), uint32(to.Unix()))
	if err != nil {
		t.Fatalf("direct query: %v", err)
	}
	defer rows.Close()
	var n int64
	var w testenv.Obs
	var ts time.Time
	for rows.Next() {
		if err := rows.Scan(&w.Node, &ts, &w.Sensor, &w.Feature, &w.Property, &w.Value); err != nil {
			t.Fatal(err)
		}
		w.TS = ts.UTC().Format("2006-01-02T15:04:05")
		rec, err := cr.Read()
		if err == io.EOF {
			t.Fatalf("download %s: ends after %d rows; ClickHouse has more, next %+v", ticket, n, w)
		}
		if err != nil {
			t.Fatalf("download %s, row %d: %v", ticket, n+1, err)
		}
		v, err := strconv.ParseFloat(rec[5], 64)
		if err != nil {
			t.Fatalf("download %s, row %d: value %q: %v", ticket, n+1, rec[5], err)
		}
		if g := (testenv.Obs{Node: rec[0], TS: rec[1], Sensor: rec[2], Feature: rec[3], Property: rec[4], Value: v}); g != w {
			t.Fatalf("download %s, row %d: got %+v, want %+v", ticket, n+1, g, w)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("direct query: %v", err)
	}
	if rec, err := cr.Read(); err != io.EOF {
		t.Fatalf("download %s: has rows beyond ClickHouse's %d: %q (%v)", ticket, n, rec, err)
	}
	t.Logf("download of %s equals ClickHouse: %d rows, compared in %s", ticket, n, time.Since(began).Round(time.Millisecond))
	return n
}

// metric reads one unlabelled sample from a Prometheus text endpoint.
func metric(t *testing.T, url, name string) float64 {
	t.Helper()
	code, body := testenv.Get(t, url)
	if code != 200 {
		t.Fatalf("GET %s: %d", url, code)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %q", name, line)
			}
			return f
		}
	}
	t.Fatalf("metric %s not found at %s", name, url)
	return 0
}

// eventLog collects the events of one ticket seen on the bus.
type eventLog struct {
	mu     sync.Mutex
	events []schema.Event
}

func (l *eventLog) add(e schema.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) snapshot() []schema.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]schema.Event(nil), l.events...)
}
