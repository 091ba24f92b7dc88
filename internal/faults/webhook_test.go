package faults_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestWebhookAcrossKill: `exportd serve` is killed with SIGKILL while a
// webhook's receiver is down and its first event is being retried, and
// started again on the same data directory. Once the receiver is back it
// gets every event it asked for of the job, in stream order, each once.
func TestWebhookAcrossKill(t *testing.T) {
	store := sharedStore(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	natsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	base := "http://" + httpAddr
	env := []string{"EXPORTD_DATA_DIR=" + dataDir, "EXPORTD_HTTP_ADDR=" + httpAddr, "EXPORTD_NATS_LISTEN=" + natsAddr,
		"EXPORTD_CLICKHOUSE_ADDR=" + testenv.ClickHouseAddr(), "EXPORTD_CLICKHOUSE_DB=" + store.Database(),
		"EXPORTD_DEMO_ROWS=0", "EXPORTD_PART_ROWS=20000", "EXPORTD_PART_ACK_WAIT=3s",
		"EXPORTD_WEBHOOK_ALLOW=127.0.0.0/8", "EXPORTD_WEBHOOK_BACKOFF=50ms", "EXPORTD_WEBHOOK_MAX_BACKOFF=200ms"}
	serve := func(name string) *proc {
		p := startExportd(t, name, env, "serve")
		waitHTTP(t, p, base+"/healthz", 60*time.Second)
		return p
	}
	first := serve("serve1")

	var mu sync.Mutex
	failing := true
	var attempts int
	var acked []schema.Event
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e schema.Event
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &e)
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if failing {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		acked = append(acked, e)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()

	form := url.Values{"url": {rcv.URL}, "events": {"queued,part_done,succeeded"}}
	resp, err := http.Post(base+"/v1/api/webhooks", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: got %d, want 201", resp.StatusCode)
	}
	ticket := (&testenv.Service{URL: base}).Submit(t, network, window(seedEnd.Add(-6*time.Hour), seedEnd))
	testenv.Eventually(t, 30*time.Second, "three failed attempts", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return attempts >= 3
	})
	first.kill(t)

	serve("serve2")
	mu.Lock()
	failing = false
	mu.Unlock()
	j := mustSucceed(t, base, ticket, 2*time.Minute)
	parts := j.Status.Progress.Total
	testenv.Eventually(t, 60*time.Second, "the succeeded event delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) > 0 && acked[len(acked)-1].Kind == schema.EventSucceeded
	})
	mu.Lock()
	defer mu.Unlock()
	seen := map[uint64]bool{}
	var last uint64
	var kinds []schema.EventKind
	for _, e := range acked {
		if e.Ticket != ticket || seen[e.Seq] || e.Seq <= last {
			t.Errorf("delivery %s #%d of %s: out of order, repeated or another job's", e.Kind, e.Seq, e.Ticket)
		}
		seen[e.Seq], last = true, e.Seq
		kinds = append(kinds, e.Kind)
	}
	if len(kinds) < parts+2 || kinds[0] != schema.EventQueued || kinds[len(kinds)-1] != schema.EventSucceeded {
		t.Errorf("delivered %v, want queued, %d part_done (or more: a part redone after the kill) and succeeded", kinds, parts)
	}
}
