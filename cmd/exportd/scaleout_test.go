package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"maps"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// startComposeNATS starts compose.yaml's NATS nodes in the test process,
// with their own flags and config file (name, JetStream, cluster, routes,
// users and their passwords), moved to loopback ports, and returns them by
// service name once JetStream has a leader.
func startComposeNATS(t *testing.T, c composeFile) (map[string]*server.Server, []string) {
	t.Helper()
	opts := map[string]*server.Options{}
	clusterPort := map[string]int{}
	for name, s := range c.Services {
		if !strings.HasPrefix(s.Image, "nats:2") {
			continue
		}
		fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		for k, v := range s.Environment { // the passwords its config file reads
			t.Setenv(k, v)
		}
		o, err := server.ConfigureOptions(fs, natsCommand(s), func() {}, func() {}, func() {})
		if err != nil {
			t.Fatal(err)
		}
		opts[name] = o
		clusterPort[name] = testenv.FreePort(t)
	}
	servers := map[string]*server.Server{}
	var urls []string
	for name, o := range opts {
		o.Host, o.Port, o.HTTPPort = "127.0.0.1", -1, 0
		o.StoreDir = t.TempDir()
		o.Cluster.Host, o.Cluster.Port = "127.0.0.1", clusterPort[name]
		for _, r := range o.Routes {
			host, _, _ := net.SplitHostPort(r.Host)
			r.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(clusterPort[host]))
		}
		o.NoLog, o.NoSigs = true, true
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers[name] = s
	}
	for name, s := range servers {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("%s did not start", name)
		}
		urls = append(urls, s.ClientURL())
	}
	nc, err := nats.Connect(strings.Join(urls, ","), composeExportd)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	testenv.Eventually(t, 30*time.Second, "JetStream cluster up", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return servers, urls
}

// composeExportd logs in as compose.yaml's exportd identity.
var composeExportd = nats.UserInfo("exportd", composeSecrets["NATS_EXPORTD_PASSWORD"])

var metricsRE = regexp.MustCompile(`"http":"(http://[^"]+)"`)

// startRole runs `exportd <role>` with env and returns the URL it logs
// (the API for a gateway, /metrics for an exporter).
func startRole(t *testing.T, role string, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &testenv.LockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{role}, func(k string) string { return env[k] }, out) }()
	t.Cleanup(func() { cancel(); <-done })
	var u string
	testenv.Eventually(t, 60*time.Second, role+" listening", func() bool {
		select {
		case err := <-done:
			t.Fatalf("%s returned early: %v\n%s", role, err, out)
		default:
		}
		if m := metricsRE.FindStringSubmatch(out.String()); m != nil {
			u = m[1]
			return true
		}
		return false
	})
	return u
}

// counter reads an unlabelled counter from a Prometheus text page.
func counter(t *testing.T, page, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s in the metrics", name)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestScaleOut runs compose.yaml's deployment in the test process: its
// three NATS nodes as a JetStream cluster, its gateway and two exporters
// with their own environment (only addresses changed), against the local
// ClickHouse. Exports succeed, both exporters share the work, the metrics
// add up, and losing one NATS node loses no job.
func TestScaleOut(t *testing.T) {
	c := loadCompose(t)
	servers, urls := startComposeNATS(t, c)
	if nc, err := nats.Connect(strings.Join(urls, ",")); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("anonymous client of compose's NATS: got %v, want %v", err, nats.ErrAuthorization)
	}

	db := testenv.RandomName("exportd_scaleout_")
	store, err := chstore.Open(context.Background(), chstore.Config{Addr: testenv.ClickHouseAddr(), Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(); testenv.DropDatabase(t, db) })
	if err := store.Seed(context.Background(), chstore.DemoNetwork("array_of_things"), 100_000,
		time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}

	envOf := func(service string, set map[string]string) map[string]string {
		env := maps.Clone(c.Services[service].Environment)
		if env["EXPORTD_REPLICAS"] != "3" {
			t.Fatalf("%s: compose sets EXPORTD_REPLICAS=%q", service, env["EXPORTD_REPLICAS"])
		}
		env["EXPORTD_NATS_URL"] = strings.Join(urls, ",")
		env["EXPORTD_CLICKHOUSE_ADDR"], env["EXPORTD_CLICKHOUSE_DB"] = testenv.ClickHouseAddr(), db
		env["EXPORTD_PART_ROWS"] = "2000"
		delete(env, "EXPORTD_URL_ROOT")
		maps.Copy(env, set)
		return env
	}
	var exporters []string
	for name, s := range c.Services {
		if len(s.Command) > 0 && s.Command[0] == "exporter" {
			exporters = append(exporters, startRole(t, "exporter", envOf(name, map[string]string{"EXPORTD_METRICS_ADDR": "127.0.0.1:0"})))
		}
	}
	api := startRole(t, "gateway", envOf("gateway", map[string]string{"EXPORTD_HTTP_ADDR": "127.0.0.1:0"}))

	export := func(q string) schema.Job {
		t.Helper()
		code, body := testenv.Get(t, api+"/v1/api/sensor-networks/array_of_things/download?"+q)
		if code != 200 {
			t.Fatalf("submit: got %d %s", code, body)
		}
		var j schema.Job
		if err := json.Unmarshal(body, &j); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 60*time.Second, "job finished", func() bool {
			_, body := testenv.Get(t, api+"/v1/api/jobs/"+j.Ticket)
			_ = json.Unmarshal(body, &j)
			return j.Status.Status != schema.StatusQueued && j.Status.Status != schema.StatusProcessing
		})
		if j.Status.Status != schema.StatusSuccess {
			t.Fatalf("got %q (%v), want success", j.Status.Status, j.Result)
		}
		return j
	}
	q := url.Values{"start_datetime": {"2026-09-24T00:00:00"}, "end_datetime": {"2026-10-01T00:00:00"}}.Encode()
	first := export(q)
	rows := first.Result.(map[string]any)["rows"].(float64)

	var sum float64
	for _, u := range exporters {
		for _, probe := range []string{"/healthz", "/readyz"} {
			if code, body := testenv.Get(t, strings.TrimSuffix(u, "/metrics")+probe); code != 200 {
				t.Errorf("exporter %s: got %d %s, want 200", probe, code, body)
			}
		}
		_, page := testenv.Get(t, u)
		n := counter(t, string(page), "exportd_exported_rows_total")
		if n == 0 {
			t.Errorf("exporter %s exported nothing: the two exporters do not share the work", u)
		}
		sum += n
	}
	if sum != rows {
		t.Errorf("exporters' rows add up to %v, want the job's %v", sum, rows)
	}

	// Every stream, the job KV and the result store are on all three nodes.
	nc, err := nats.Connect(strings.Join(urls, ","), composeExportd)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	streams := 0
	for name := range js.StreamNames(context.Background()).Name() {
		streams++
		s, err := js.Stream(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("stream %s: %d replicas, want 3", name, r)
		}
	}
	nc.Close()
	if streams < 4 {
		t.Errorf("got %d streams, want the events, the parts, the job KV and the result store", streams)
	}

	// One NATS node down: R3 streams keep a quorum, clients reconnect.
	for _, s := range servers {
		s.Shutdown()
		break
	}
	second := export(q)
	if got := second.Result.(map[string]any)["rows"].(float64); got != rows {
		t.Fatalf("with a NATS node down: got %v rows, want %v", got, rows)
	}
}
