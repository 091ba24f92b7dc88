package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/testenv"
)

// slowService is a gateway whose ClickHouse queries are slow on purpose
// (max_block_size 1: a block per row), so that a deep /query page runs for
// many seconds, and a ClickHouse connection of the test's own.
func slowService(t *testing.T, rows int64, o testenv.ServiceOptions) (*testenv.Service, driver.Conn, *chstore.Store) {
	t.Helper()
	store := testenv.MustOpenStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := store.Seed(ctx, chstore.DemoNetwork(network), rows, seedEnd); err != nil {
		t.Fatal(err)
	}
	slow, err := chstore.Open(ctx, chstore.Config{Addr: testenv.ClickHouseAddr(), Database: store.Database(),
		Settings: map[string]any{"max_block_size": 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = slow.Close() })
	o.Store, o.NoExporter = slow, true
	svc := testenv.StartService(t, o)
	ch, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return svc, ch, slow
}

// deepPage is a /query path of a 10 000-reading page deep in the data:
// on 600 000 rows and the slow store, about 18 s.
var deepPage = "/v1/api/sensor-networks/" + network + "/query?feature=temperature&limit=10000&offset=100000&start_datetime=" +
	seedEnd.Add(-6*24*time.Hour).Format("2006-01-02T15:04:05") + "&end_datetime=" + seedEnd.Format("2006-01-02T15:04:05")

// running counts the queries ClickHouse runs whose id starts with prefix.
func running(t *testing.T, ch driver.Conn, prefix string) int {
	t.Helper()
	var n uint64
	if err := ch.QueryRow(context.Background(), "SELECT count() FROM system.processes WHERE startsWith(query_id, ?)", prefix).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// startQuery sends a GET over a connection of its own and leaves it open,
// the answer unread.
func startQuery(t *testing.T, base, path string, hdr ...string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: x\r\n"
	for i := 0; i+1 < len(hdr); i += 2 {
		req += hdr[i] + ": " + hdr[i+1] + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestQueryCancelledWhenClientLeaves: a slow /query runs in ClickHouse
// (seen in system.processes by its query id); its client closes the
// connection; the query is gone from ClickHouse within 3 s, long before it
// would have ended (about 18 s). A query past the time limit is stopped
// (by ClickHouse, or, where ClickHouse checks the limit late, by its
// cancellation a second later) and answered 503 with the reason.
func TestQueryCancelledWhenClientLeaves(t *testing.T) {
	svc, ch, slow := slowService(t, 600_000, testenv.ServiceOptions{QueryLimits: gateway.QueryLimits{Timeout: time.Minute}})
	prefix := slow.QueryIDPrefix()
	began := time.Now()
	c := startQuery(t, svc.URL, deepPage)
	testenv.Eventually(t, 20*time.Second, "the query running in ClickHouse", func() bool { return running(t, ch, prefix) > 0 })
	seen := time.Now()
	c.Close()
	testenv.Eventually(t, 3*time.Second, "the query gone from ClickHouse once its client left", func() bool { return running(t, ch, prefix) == 0 })
	t.Logf("query seen running %s after the request; gone %s after the client left",
		seen.Sub(began).Round(time.Millisecond), time.Since(seen).Round(time.Millisecond))

	// The same page through a gateway with a 1 s limit.
	short := testenv.StartService(t, testenv.ServiceOptions{Store: slow, NoExporter: true, QueryLimits: gateway.QueryLimits{Timeout: time.Second}})
	began = time.Now()
	resp, body := testenv.Do(t, http.MethodGet, short.URL+deepPage)
	var e struct{ Error string }
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "longer than 1s") {
		t.Fatalf("past the time limit: got %d, Retry-After %q, %s; want 503 with Retry-After and the reason", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	t.Logf("past the time limit: answered in %s: %s", time.Since(began).Round(time.Millisecond), e.Error)
	testenv.Eventually(t, 3*time.Second, "the timed-out query gone from ClickHouse", func() bool { return running(t, ch, prefix) == 0 })
}

// TestQueryConcurrencyLimits: with at most one query per client and two
// in all, a client's second query at once is a 429 and a third client's a
// 503, both with Retry-After in the error shape; once the others' clients
// leave, the third client's query runs.
func TestQueryConcurrencyLimits(t *testing.T) {
	svc, ch, slow := slowService(t, 600_000, testenv.ServiceOptions{APIKeys: []string{"ka", "kb", "kc"},
		QueryLimits: gateway.QueryLimits{PerClient: 1, Total: 2, Timeout: time.Minute}})
	prefix := slow.QueryIDPrefix()
	a := startQuery(t, svc.URL, deepPage, "Authorization", "Bearer ka")
	testenv.Eventually(t, 20*time.Second, "a's query running", func() bool { return running(t, ch, prefix) == 1 })
	check := func(key string, want int) {
		t.Helper()
		resp, body := testenv.Do(t, http.MethodGet, svc.URL+deepPage, "Authorization", "Bearer "+key)
		var e struct{ Error string }
		if resp.StatusCode != want || resp.Header.Get("Retry-After") == "" || json.Unmarshal(body, &e) != nil || e.Error == "" {
			t.Fatalf("key %s: got %d, Retry-After %q, %s; want %d with Retry-After and an error", key, resp.StatusCode, resp.Header.Get("Retry-After"), body, want)
		}
	}
	check("ka", http.StatusTooManyRequests)
	b := startQuery(t, svc.URL, deepPage, "Authorization", "Bearer kb")
	testenv.Eventually(t, 20*time.Second, "b's query running", func() bool { return running(t, ch, prefix) == 2 })
	check("kc", http.StatusServiceUnavailable)
	a.Close()
	b.Close()
	testenv.Eventually(t, 5*time.Second, "a's and b's queries gone", func() bool { return running(t, ch, prefix) == 0 })
	hour := fmt.Sprintf("/v1/api/sensor-networks/%s/query?feature=temperature&limit=10&start_datetime=%s&end_datetime=%s", network,
		seedEnd.Add(-time.Hour).Format("2006-01-02T15:04:05"), seedEnd.Format("2006-01-02T15:04:05"))
	testenv.Eventually(t, 10*time.Second, "c's query answered", func() bool {
		resp, _ := testenv.Do(t, http.MethodGet, svc.URL+hour, "Authorization", "Bearer kc")
		return resp.StatusCode == http.StatusOK
	})
}
