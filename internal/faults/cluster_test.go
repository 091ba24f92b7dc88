package faults_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// startCluster starts three in-process nats-servers with JetStream,
// clustered over loopback routes, and waits for a JetStream meta leader.
func startCluster(t *testing.T) []*server.Server {
	t.Helper()
	var routes []string
	var ports []int
	for range 3 {
		p := testenv.FreePort(t)
		ports = append(ports, p)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var nodes []*server.Server
	for i := range 3 {
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, r)
			}
		}
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i+1)),
			Cluster: server.ClusterOpts{Name: "faults", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(others, ",")),
			NoSigs:  true, NoLog: true, MaxPayload: 8 << 20,
		})
		if err != nil {
			t.Fatalf("nats-server n%d: %v", i+1, err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		nodes = append(nodes, s)
	}
	for _, s := range nodes {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("%s did not start", s.Name())
		}
	}
	testenv.Eventually(t, 30*time.Second, "cluster routes up and a JetStream meta leader", func() bool {
		leader := false
		for _, s := range nodes {
			if s.NumRoutes() < 2 {
				return false
			}
			leader = leader || s.JetStreamIsLeader()
		}
		return leader
	})
	// The leader knows every peer only a moment later: until then an R3
	// stream has "no suitable peers for placement".
	nc, err := nats.Connect(nodes[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "an R3 stream can be placed", func() bool {
		_, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe"}, Replicas: 3})
		return err == nil
	})
	if err := js.DeleteStream(t.Context(), "PROBE"); err != nil {
		t.Fatal(err)
	}
	return nodes
}

// TestNATSNodeDown: on a three-node NATS cluster with every stream, bucket
// and the object store replicated three times, one node is shut down in
// the middle of a job: the node this service is connected to, or another
// one (the leader of the partition stream when that is not ours). The job
// still succeeds and its download equals ClickHouse.
func TestNATSNodeDown(t *testing.T) {
	store := sharedStore(t)
	for _, which := range []string{"connected", "other"} {
		t.Run(which, func(t *testing.T) {
			nodes := startCluster(t)
			var urls []string
			for _, s := range nodes {
				urls = append(urls, s.ClientURL())
			}
			svc := testenv.StartService(t, testenv.ServiceOptions{Store: store, NATSURL: strings.Join(urls, ","),
				PartRows: 50_000, Concurrency: 2, Events: events.Config{Replicas: 3, PartAckWait: 3 * time.Second}})
			info, err := svc.JS.Stream(t.Context(), events.PartStream)
			if err != nil {
				t.Fatal(err)
			}
			if r := info.CachedInfo().Config.Replicas; r != 3 {
				t.Fatalf("part stream has %d replicas, want 3", r)
			}

			from, to := seedEnd.Add(-3*24*time.Hour), seedEnd.Add(-24*time.Hour)
			ticket := svc.Submit(t, network, window(from, to))
			testenv.Eventually(t, 90*time.Second, "the job half way", func() bool {
				j := jobDoc(t, svc.URL, ticket)
				if j.Status.Status != schema.StatusProcessing {
					if j.Status.Status != schema.StatusQueued {
						t.Fatalf("job %s before a node went down", j.Status.Status)
					}
					return false
				}
				return j.Status.Progress.Done >= 2
			})

			connected := svc.Bus.ConnectedServer()
			victim := connected
			if which == "other" {
				victim = ""
				if si, err := svc.JS.Stream(t.Context(), events.PartStream); err == nil {
					if ci := si.CachedInfo().Cluster; ci != nil && ci.Leader != connected {
						victim = ci.Leader
					}
				}
				for _, s := range nodes {
					if victim == "" && s.Name() != connected {
						victim = s.Name()
					}
				}
			}
			j := jobDoc(t, svc.URL, ticket)
			for _, s := range nodes {
				if s.Name() == victim {
					s.Shutdown()
					s.WaitForShutdown()
				}
			}
			start := time.Now()
			t.Logf("shut down %s (connected to %s) at %d of %d parts", victim, connected, j.Status.Progress.Done, j.Status.Progress.Total)

			mustSucceed(t, svc.URL, ticket, 3*time.Minute)
			t.Logf("job succeeded %s after the node went down; now connected to %s", time.Since(start).Round(time.Millisecond),
				svc.Bus.ConnectedServer())
			checkDownload(t, svc.URL, ticket, testenv.ClickHouseAddr(), store.Database(), from, to)
		})
	}
}
