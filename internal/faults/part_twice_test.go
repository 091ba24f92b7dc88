package faults_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestExporterDiesBeforeAck: an `exportd exporter` stores a part, publishes
// its part_done and dies before its ack reaches the server (a NATS proxy
// in front of it swallows the ack, and the process is then killed). Rows
// are loaded into the part's window meanwhile, so that the slice read
// again differs. The part comes back after the ack wait to a second
// exporter; the part that the first part_done announced, which a partial
// manifest and a follower served, stays the part: the final manifest
// names it, the follower's file is the final download byte for byte, and
// every part of that download has the final manifest's digest.
func TestExporterDiesBeforeAck(t *testing.T) {
	const rows, partRows = 600_000, 20_000
	env := startTwice(t, rows, partRows)
	// exporter1's first ack of a part is swallowed, and nothing of it
	// passes after.
	caught := make(chan struct{})
	var once sync.Once
	tap := startNATSTap(t, env.ns.Addr().String(), func(subject string, payload []byte) bool {
		if strings.HasPrefix(subject, "$JS.ACK."+events.PartStream+".") && string(payload) == "+ACK" {
			once.Do(func() { close(caught) })
			return false
		}
		return true
	})
	first, firstWorker := env.exporter("exporter1", "nats://"+tap.addr)

	ticket := env.svc.Submit(t, network, everything)
	select {
	case <-caught:
	case <-time.After(2 * time.Minute):
		t.Fatal("exporter1 acknowledged no part in 2 minutes")
	}
	first.kill(t)
	killed := time.Now()
	part, plan := env.partDone(ticket, firstWorker)
	if len(plan) < 10 {
		t.Fatalf("got %d parts, want many: the job must outlast the ack wait", len(plan))
	}
	announced, follower := env.served(ticket, part)
	env.loadLate(plan[part-1])

	// The part is due again once its ack wait is over: exporter2, started
	// then, takes it while the job's other parts are still queued.
	env.ackWaitOver(killed)
	_, secondWorker := env.exporter("exporter2", env.ns.ClientURL())
	j := mustSucceed(t, env.svc.URL, ticket, 3*time.Minute)
	again := false
	for _, e := range env.log.snapshot() {
		if e.Ticket == ticket && e.Kind == schema.EventPartDone && e.Part == part && e.Worker == secondWorker {
			again = true
		}
		if e.Ticket == ticket && e.Kind == schema.EventSucceeded && !again {
			t.Fatalf("the job succeeded before part %d came back to exporter2: the test needs the job to outlast the ack wait", part)
		}
	}
	env.check(ticket, j, part, announced, follower, rows)
}

// TestExporterStalledPastAckWait: an `exportd exporter` stops (SIGSTOP)
// while it stores a part, past the part's ack wait; a second exporter
// takes the part and stores it, with rows loaded into its window
// meanwhile, and its part_done is served by a partial manifest and a
// follower. The first exporter, continued, finds the part stored and
// drops its own read of it instead of replacing it: the final manifest
// names the part that was announced, the follower's file is the final
// download, and no chunk of the dropped read is left in the store. It is
// stopped either half-way through its part, or inside its Close, between
// its look at the part (none stored yet) and the metadata that would make
// its read the part: that publish is held until the second exporter has
// stored the part (the object store's Put and UpdateMeta then replaced
// it, and purged its chunks under the follower).
func TestExporterStalledPastAckWait(t *testing.T) {
	t.Run("storing its part", func(t *testing.T) { stalledPastAckWait(t, false) })
	t.Run("inside its Close", func(t *testing.T) { stalledPastAckWait(t, true) })
}

func stalledPastAckWait(t *testing.T, inClose bool) {
	const rows, partRows = 1_500_000, 100_000
	env := startTwice(t, rows, partRows)
	// exporter1 is stopped at its first chunk of a part: a part of 100 000
	// rows is some 7 MB of CSV, two chunks of S2 or more, so it is then
	// half read. Or at its first metadata of a part, all its chunks
	// stored: the tap holds it, and all of exporter1's traffic after it,
	// until released.
	stopAt := "$O." + events.ResultBucket + ".C."
	if inClose {
		stopAt = "$O." + events.ResultBucket + ".M."
	}
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	tap := startNATSTap(t, env.ns.Addr().String(), func(subject string, _ []byte) bool {
		if strings.HasPrefix(subject, stopAt) {
			held := false
			once.Do(func() { close(reached); held = inClose })
			if held {
				select {
				case <-release:
				case <-t.Context().Done():
				}
			}
		}
		return true
	})
	first, firstWorker := env.exporter("exporter1", "nats://"+tap.addr)
	ticket := env.svc.Submit(t, network, everything)
	select {
	case <-reached:
	case <-time.After(2 * time.Minute):
		t.Fatalf("exporter1 sent nothing on %s* in 2 minutes", stopAt)
	}
	first.signal(t, syscall.SIGSTOP)
	stopped := time.Now()
	var plan []schema.PartSpec
	testenv.Eventually(t, 10*time.Second, "the job's plan seen", func() bool {
		for _, e := range env.log.snapshot() {
			if e.Ticket == ticket && e.Kind == schema.EventStarted {
				plan = e.Plan
			}
		}
		return plan != nil
	})
	if len(plan) < 10 {
		t.Fatalf("got %d parts, want many", len(plan))
	}
	env.loadLate(plan[0])
	env.ackWaitOver(stopped)
	second, secondWorker := env.exporter("exporter2", env.ns.ClientURL())
	part, _ := env.partDone(ticket, secondWorker)
	second.signal(t, syscall.SIGSTOP) // the job waits on it while exporter1 goes on
	if part != 1 {
		t.Fatalf("exporter2 stored part %d first, want part 1, the one exporter1 held", part)
	}
	for _, e := range env.log.snapshot() {
		if e.Ticket == ticket && e.Kind == schema.EventPartDone && e.Worker == firstWorker {
			t.Fatalf("exporter1 stored part %d before it was stopped, want it stopped inside part 1", e.Part)
		}
	}
	announced, follower := env.served(ticket, part)
	close(release)
	first.signal(t, syscall.SIGCONT)
	testenv.Eventually(t, time.Minute, "exporter1 through with part 1", func() bool {
		p, _ := env.partDone(ticket, firstWorker)
		return p > 0
	})
	second.signal(t, syscall.SIGCONT)
	j := mustSucceed(t, env.svc.URL, ticket, 3*time.Minute)
	env.check(ticket, j, part, announced, follower, rows+lateRows)
	env.onlyPartsChunks(ticket, len(plan))
}

// twice is a service (gateway and projector) on a NATS server of the
// test's own, over a database of its own, whose exporters the test starts.
type twice struct {
	t        *testing.T
	store    *chstore.Store
	ns       *server.Server
	svc      *testenv.Service
	log      eventLog
	partRows int
}

// twiceAckWait is the exporters' ack wait.
const twiceAckWait = 3 * time.Second

func startTwice(t *testing.T, rows int64, partRows int) *twice {
	store := testenv.MustOpenStore(t)
	seed(t, store, rows)
	ns := testenv.MustStartNATS(t)
	env := &twice{t: t, store: store, ns: ns, partRows: partRows}
	env.svc = testenv.StartService(t, testenv.ServiceOptions{Store: store, NoExporter: true, NATSURL: ns.ClientURL(),
		Events: events.Config{PartAckWait: twiceAckWait}})
	sub, err := env.svc.NC.Subscribe(schema.EventSubjectAll, func(m *nats.Msg) {
		var e schema.Event
		if json.Unmarshal(m.Data, &e) == nil {
			env.log.add(e)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return env
}

// exporter starts an `exportd exporter` of one worker on natsURL and
// returns it with its worker name.
func (env *twice) exporter(name, natsURL string) (*proc, string) {
	t := env.t
	port := testenv.FreePort(t)
	p := startExportd(t, name, []string{
		"EXPORTD_CLICKHOUSE_ADDR=" + testenv.ClickHouseAddr(), "EXPORTD_CLICKHOUSE_DB=" + env.store.Database()},
		"exporter", "--nats", natsURL, "--part-ack-wait", twiceAckWait.String(), "--concurrency", "1",
		"--part-rows", strconv.Itoa(env.partRows), "--metrics", "127.0.0.1:"+strconv.Itoa(port))
	waitHTTP(t, p, fmt.Sprintf("http://127.0.0.1:%d/readyz", port), 30*time.Second)
	host, _ := os.Hostname()
	return p, fmt.Sprintf("exporter-%s-%d", host, p.cmd.Process.Pid)
}

// partDone waits for worker's first part_done of ticket and returns its
// part and the job's plan.
func (env *twice) partDone(ticket, worker string) (int, []schema.PartSpec) {
	var part int
	var plan []schema.PartSpec
	testenv.Eventually(env.t, time.Minute, worker+"'s part_done seen", func() bool {
		for _, e := range env.log.snapshot() {
			switch {
			case e.Ticket != ticket:
			case e.Kind == schema.EventStarted:
				plan = e.Plan
			case e.Kind == schema.EventPartDone && e.Worker == worker && part == 0:
				part = e.Part
			}
		}
		return part > 0 && plan != nil
	})
	return part, plan
}

// served returns part as a partial manifest announces it, and starts a
// followed download of the job, whose file comes on the channel.
func (env *twice) served(ticket string, part int) (schema.ManifestPart, <-chan []byte) {
	var partial schema.Manifest
	testenv.Eventually(env.t, 10*time.Second, "part "+strconv.Itoa(part)+" in the partial manifest", func() bool {
		partial = getManifest(env.t, env.svc.URL, ticket)
		return !partial.Complete && manifestPart(partial, part) != nil
	})
	follower := make(chan []byte, 1)
	go func() { follower <- download(env.t, env.svc.URL, ticket, "&follow=true") }()
	return *manifestPart(partial, part), follower
}

// lateRows is how many rows loadLate adds.
const lateRows = 500

// loadLate loads lateRows rows into a part's window, copies of its first
// with other values: read again, the slice differs from what was stored.
func (env *twice) loadLate(spec schema.PartSpec) {
	late := testenv.DirectRows(env.t, env.store, `SELECT node_id, ts, sensor, feature, property, value FROM observations
		WHERE network = ? AND ts >= toDateTime(?) AND ts < toDateTime(?) ORDER BY ts LIMIT ?`,
		network, uint32(spec.From.Unix()), uint32(spec.To.Unix()), lateRows)
	if len(late) != lateRows {
		env.t.Fatalf("part %d's window has %d rows, want %d at least", spec.Part, len(late), lateRows)
	}
	for i := range late {
		late[i].Value += 1000
	}
	testenv.InsertRaw(env.t, env.store, network, late)
}

// ackWaitOver waits until the ack wait of a part last told alive at since
// is over: it is then due to another exporter.
func (env *twice) ackWaitOver(since time.Time) {
	testenv.Eventually(env.t, 2*twiceAckWait, "the ack wait over", func() bool {
		return time.Since(since) > twiceAckWait+500*time.Millisecond
	})
}

// check compares the succeeded job j with what was served of part while
// it ran: the final manifest names the part announced, its rows are the
// job's (wantRows), the download has each part's digest, and the
// follower's file is the download.
func (env *twice) check(ticket string, j schema.Job, part int, announced schema.ManifestPart, follower <-chan []byte, wantRows int64) {
	t := env.t
	final := getManifest(t, env.svc.URL, ticket)
	got := manifestPart(final, part)
	if got == nil || got.SHA256 != announced.SHA256 || got.Rows != announced.Rows || got.Bytes != announced.Bytes {
		t.Fatalf("part %d: the final manifest names %+v; the partial manifest announced %+v", part, got, announced)
	}
	if res, _ := j.Result.(map[string]any); res == nil || res["rows"] != float64(final.Rows) || final.Rows != wantRows {
		t.Errorf("the job's result %v, the final manifest %d rows; want both %d", j.Result, final.Rows, wantRows)
	}
	body := download(t, env.svc.URL, ticket, "")
	if int64(len(body)) != final.Bytes {
		t.Fatalf("download: %d bytes, the manifest says %d", len(body), final.Bytes)
	}
	for _, p := range final.Parts {
		sum := sha256.Sum256(body[p.Offset : p.Offset+p.Bytes])
		if hex.EncodeToString(sum[:]) != p.SHA256 {
			t.Errorf("download's part %d: digest %x, the manifest's %s", p.Part, sum, p.SHA256)
		}
	}
	select {
	case fb := <-follower:
		if !bytes.Equal(fb, body) {
			t.Errorf("the followed download (%d bytes) differs from the download (%d bytes)", len(fb), len(body))
		}
	case <-time.After(time.Minute):
		t.Fatal("the followed download did not end a minute after the job")
	}
}

// onlyPartsChunks waits until the result store holds no chunks but those
// of the job's parts: the reads that lost to another delivery's were
// purged (an exporter continued may still be dropping one).
func (env *twice) onlyPartsChunks(ticket string, parts int) {
	t := env.t
	store, err := env.svc.JS.ObjectStore(t.Context(), events.ResultBucket)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for p := 1; p <= parts; p++ {
		info, err := store.GetInfo(t.Context(), schema.PartObject(ticket, p))
		if err != nil {
			t.Fatal(err)
		}
		want["$O."+events.ResultBucket+".C."+info.NUID] = true
	}
	s, err := env.svc.JS.Stream(t.Context(), "OBJ_"+events.ResultBucket)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "no chunks but the parts'", func() bool {
		info, err := s.Info(t.Context(), jetstream.WithSubjectFilter("$O."+events.ResultBucket+".C.>"))
		if err != nil {
			t.Fatal(err)
		}
		for subject := range info.State.Subjects {
			if !want[subject] {
				return false
			}
		}
		return len(info.State.Subjects) == parts
	})
}

// getManifest GETs a job's manifest, partial or complete.
func getManifest(t *testing.T, base, ticket string) schema.Manifest {
	t.Helper()
	code, body := testenv.Get(t, base+"/v1/api/jobs/"+ticket+"/manifest")
	if code != 200 {
		t.Fatalf("manifest of %s: %d %s", ticket, code, body)
	}
	var m schema.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func manifestPart(m schema.Manifest, part int) *schema.ManifestPart {
	for i := range m.Parts {
		if m.Parts[i].Part == part {
			return &m.Parts[i]
		}
	}
	return nil
}

// download GETs a job's CSV as identity bytes, with extra query
// parameters; a broken or non-200 response fails the test.
func download(t *testing.T, base, ticket, extra string) []byte {
	req, err := http.NewRequest(http.MethodGet, base+"/v1/api/datadump/"+ticket+"?data_type=csv"+extra, nil)
	if err != nil {
		t.Error(err)
		return nil
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("download %s%s: %d, %v: %.300s", ticket, extra, resp.StatusCode, err, b)
	}
	return b
}

// natsTap is a NATS proxy for one client: it passes the client's protocol
// on to the server, each message shown to pass first (its subject and
// payload); a message that pass refuses is swallowed, and from then on
// nothing more of the client's goes through, as if the process had died
// just before it.
type natsTap struct {
	addr string
	pass func(subject string, payload []byte) bool
}

func startNATSTap(t *testing.T, target string, pass func(subject string, payload []byte) bool) *natsTap {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tap := &natsTap{addr: ln.Addr().String(), pass: pass}
	ctx, cancel := context.WithCancel(context.Background())
	var conns sync.WaitGroup
	t.Cleanup(func() { cancel(); _ = ln.Close(); conns.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { tap.pipe(ctx, c, target) })
		}
	}()
	return tap
}

func (tap *natsTap) pipe(ctx context.Context, client net.Conn, target string) {
	defer client.Close()
	server, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer server.Close()
	stop := context.AfterFunc(ctx, func() { _ = client.Close(); _ = server.Close() })
	defer stop()
	go func() { _, _ = io.Copy(client, server); _ = client.Close() }()
	r := bufio.NewReaderSize(client, 64<<10)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		var payload []byte
		if len(f) >= 3 && (strings.EqualFold(f[0], "PUB") || strings.EqualFold(f[0], "HPUB")) {
			n, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return
			}
			payload = make([]byte, n+2) // and its CRLF
			if _, err := io.ReadFull(r, payload); err != nil {
				return
			}
			if !tap.pass(f[1], payload[:n]) {
				<-ctx.Done() // nothing more: the process is killed
				return
			}
		}
		if _, err := io.WriteString(server, line); err != nil {
			return
		}
		if _, err := server.Write(payload); err != nil {
			return
		}
	}
}

// signal sends sig (SIGSTOP, SIGCONT) to the process.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: %v: %v", p.name, sig, err)
	}
}
