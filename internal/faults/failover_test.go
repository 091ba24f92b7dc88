package faults_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestPartConsumerLeaderDown: on a three-node cluster of nats-server
// processes the node leading the bulk lane's consumer is killed (SIGKILL:
// no leadership handed over, no goodbye to its routes) while the only
// exporter, connected to another node, is busy with a part, and another
// part is queued. Until a new leader is elected (seconds) the worker's
// pull requests get no responders (503); the part must be delivered
// soon after the election, not up to a second later. Measured from the
// new leader's election advisory, or the part's being stored if later,
// to the part's delivery, in five runs. When the worker paused a second
// after each 503 that took 6 to 866 ms, median 668, in ten runs, 8 of
// them over 300; asking again after 25 ms doubling to 200 ms, 0 to 180.
// The median of the five is held to 300 ms, which the old pause passed
// in about one try in twenty; a bound on the worst run was met by the
// old code too rarely to tell but failed the new one under CI's load
// (898 ms in one of five, 2026-12-02 16:02, the gateway's tests beside).
func TestPartConsumerLeaderDown(t *testing.T) {
	const runs, bound = 5, 300 * time.Millisecond
	took := make([]time.Duration, 0, runs)
	for i := range runs {
		t.Run(fmt.Sprint(i+1), func(t *testing.T) { took = append(took, leaderDownDelivery(t)) })
	}
	if len(took) < runs {
		return // a run failed, and said why
	}
	slices.Sort(took)
	median := took[runs/2]
	t.Logf("%d runs, after the election (or the part's storing): %v; median %s", runs, took, median.Round(time.Millisecond))
	if median > bound {
		t.Errorf("a part waited %s (median of %d runs) after its consumer's new leader was elected, want at most %s", median.Round(time.Millisecond), runs, bound)
	}
}

// leaderDownDelivery runs the failover once and returns the time from the
// new consumer leader's election, or the part's being stored if that
// came later (the stream may have lost its leader too), to the part's
// delivery.
func leaderDownDelivery(t *testing.T) time.Duration {
	ctx := t.Context()
	nodes := startProcCluster(t)
	cfg := events.Config{Replicas: 3, PartAckWait: 10 * time.Second}
	admin, err := events.Connect(ctx, nodes[0].url, events.ConnectOptions{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	js, err := jetstream.New(mustConnectURL(t, nodes[0].url))
	if err != nil {
		t.Fatal(err)
	}
	c, err := js.Consumer(ctx, events.PartStream, events.ExporterName)
	if err != nil {
		t.Fatal(err)
	}
	leader := c.CachedInfo().Cluster.Leader
	var victim, survivor *natsProc
	for _, n := range nodes {
		switch {
		case n.name == leader:
			victim = n
		case survivor == nil:
			survivor = n
		}
	}
	if victim == nil || survivor == nil {
		t.Fatalf("consumer leader %q not among the nodes", leader)
	}
	exporter, err := events.Connect(ctx, survivor.url, events.ConnectOptions{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exporter.Close)
	elected := make(chan time.Time, 4)
	sub, err := mustConnectURL(t, survivor.url).Subscribe(
		"$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED."+events.PartStream+"."+events.ExporterName,
		func(*nats.Msg) { elected <- time.Now() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	log := &testenv.LockedBuffer{}
	delivered := make(chan int, 4)
	var second time.Time // when part 2 came
	busy := make(chan struct{})
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() {
		ran <- exporter.ConsumeParts(runCtx, 1, slog.New(slog.NewTextHandler(log, nil)), func(ctx context.Context, d *events.Delivery) {
			var task schema.PartTask
			if err := json.Unmarshal(d.Data(), &task); err != nil {
				t.Errorf("part %q: %v", d.Data(), err)
			}
			if task.Spec.Part == 2 && second.IsZero() {
				second = time.Now()
			}
			if err := d.Ack(ctx); err != nil && task.Spec.Part == 1 {
				t.Errorf("ack: %v", err)
			}
			delivered <- task.Spec.Part
			if task.Spec.Part == 1 {
				select { // busy until the leader is dead: no request of the lane open on it
				case <-busy:
				case <-ctx.Done():
				}
			}
		})
	}()
	t.Cleanup(func() { stop(); <-ran })

	ticket := newTicketID()
	queue := func(part int) {
		task := schema.PartTask{Ticket: ticket, Parts: 2, Spec: schema.PartSpec{Part: part}}
		testenv.Eventually(t, 30*time.Second, "part queued", func() bool {
			return exporter.QueuePart(ctx, task, events.Bulk) == nil
		})
	}
	queue(1)
	select {
	case <-delivered:
	case <-time.After(30 * time.Second):
		t.Fatal("first part not delivered")
	}
	killed := time.Now()
	victim.kill(t)
	close(busy)
	queue(2)
	queued := time.Now()
	var at time.Time
	for at.IsZero() {
		select {
		case part := <-delivered:
			if part == 2 {
				at = second
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("part 2 not delivered; log:\n%s", log)
		}
	}
	var won time.Time
	select {
	case won = <-elected:
	case <-time.After(10 * time.Second):
		t.Fatal("no leader election advisory")
	}
	from := won
	if queued.After(from) {
		from = queued
	}
	t.Logf("killed %s; part 2 stored after %s, new leader elected after %s, part delivered %s after both; %d fetch warnings: %s",
		leader, queued.Sub(killed).Round(time.Millisecond), won.Sub(killed).Round(time.Millisecond),
		at.Sub(from).Round(time.Millisecond), strings.Count(log.String(), "exporter fetch"), firstLines(log.String(), 1))
	return at.Sub(from)
}

// firstLines is s's first n lines.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], " | ")
}

// newTicketID is a fresh ticket of 32 hex digits.
func newTicketID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// natsServerBin is a nats-server binary built (once) from the module's
// own dependency, for tests that kill a node outright.
var natsServerBin struct {
	once sync.Once
	path string
	err  error
}

// natsProc is a nats-server process of a cluster, killed as exportd's
// are (proc.kill: SIGKILL).
type natsProc struct {
	*proc
	url string
}

// startProcCluster starts three nats-server processes with JetStream,
// clustered over loopback routes, killed when the test ends, and waits
// until an R3 stream can be placed.
func startProcCluster(t *testing.T) []*natsProc {
	t.Helper()
	natsServerBin.once.Do(func() {
		natsServerBin.path = filepath.Join(filepath.Dir(exportdBin), "nats-server")
		build := exec.Command("go", "build", "-o", natsServerBin.path, "github.com/nats-io/nats-server/v2")
		build.Dir = modRoot
		if out, err := build.CombinedOutput(); err != nil {
			natsServerBin.err = fmt.Errorf("go build nats-server: %v\n%s", err, out)
		}
	})
	if natsServerBin.err != nil {
		t.Fatal(natsServerBin.err)
	}
	// A free port can be taken by another test before a node binds it:
	// that node exits, and the cluster is started anew on other ports.
	var err error
	for range 3 {
		var nodes []*natsProc
		if nodes, err = tryProcCluster(t); err == nil {
			return nodes
		}
		t.Log(err)
	}
	t.Fatal(err)
	return nil
}

// tryProcCluster starts a cluster for startProcCluster; an error when a
// node exits before the cluster is up.
func tryProcCluster(t *testing.T) ([]*natsProc, error) {
	var routes []string
	for range 3 {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", testenv.FreePort(t)))
	}
	var nodes []*natsProc
	for i := range 3 {
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, fmt.Sprintf("%q", r))
			}
		}
		port := testenv.FreePort(t)
		dir := t.TempDir()
		conf := fmt.Sprintf("server_name: n%d\nlisten: \"127.0.0.1:%d\"\nmax_payload: 8MB\njetstream { store_dir: %q }\n"+
			"cluster { name: faults, listen: %q, routes: [%s] }\n",
			i+1, port, filepath.Join(dir, "js"), strings.TrimPrefix(routes[i], "nats://"), strings.Join(others, ", "))
		path := filepath.Join(dir, "nats.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, "nats.log"))
		if err != nil {
			t.Fatal(err)
		}
		n := &natsProc{url: fmt.Sprintf("nats://127.0.0.1:%d", port), proc: &proc{name: fmt.Sprintf("n%d", i+1),
			cmd: exec.Command(natsServerBin.path, "-c", path), log: out.Name(), done: make(chan struct{})}}
		n.cmd.Stdout, n.cmd.Stderr = out, out
		if err := n.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { n.err = n.cmd.Wait(); out.Close(); close(n.done) }()
		t.Cleanup(func() { n.kill(t) })
		nodes = append(nodes, n)
	}
	exited := func() error {
		for _, n := range nodes {
			select {
			case <-n.done:
				b, _ := os.ReadFile(n.log)
				return fmt.Errorf("nats-server %s exited (%v): %s", n.name, n.err, b)
			default:
			}
		}
		return nil
	}
	var js jetstream.JetStream
	var gone error
	testenv.Eventually(t, 60*time.Second, "nats-server n1 up", func() bool {
		if gone = exited(); gone != nil {
			return true
		}
		nc, err := nats.Connect(nodes[0].url)
		if err != nil {
			return false
		}
		t.Cleanup(nc.Close)
		js, err = jetstream.New(nc)
		return err == nil
	})
	if gone != nil {
		return nil, gone
	}
	testenv.Eventually(t, 60*time.Second, "an R3 stream can be placed", func() bool {
		if gone = exited(); gone != nil {
			return true
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe"}, Replicas: 3})
		return err == nil
	})
	if gone != nil {
		return nil, gone
	}
	if err := js.DeleteStream(t.Context(), "PROBE"); err != nil {
		t.Fatal(err)
	}
	return nodes, nil
}

// mustConnectURL connects to url, closed when the test ends.
func mustConnectURL(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
