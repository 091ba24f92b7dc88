package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/testenv"
)

// slowAggregate is an /aggregate path of one node's median over the six
// days of the data: on 600 000 rows and the slow store, many seconds.
var slowAggregate = "/v1/api/sensor-networks/" + network + "/aggregate?node=" + nodeIDs(0)[0] +
	"&feature=temperature&function=med&agg=minute&start_datetime=" +
	seedEnd.Add(-6*24*time.Hour).Format("2006-01-02T15:04:05") + "&end_datetime=" + seedEnd.Format("2006-01-02T15:04:05")

// runningAggregates counts the /aggregate queries ClickHouse runs, by
// their text: the gateway's tests run one at a time.
func runningAggregates(t *testing.T, ch driver.Conn) int {
	t.Helper()
	var n uint64
	if err := ch.QueryRow(context.Background(), "SELECT count() FROM system.processes WHERE query LIKE '%GROUP BY b, property%'"+
		" AND query NOT LIKE '%system.processes%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// TestAggregateCancelledWhenClientLeaves: a slow /aggregate runs in
// ClickHouse; its client closes the connection; the query is gone from
// ClickHouse within 3 s, as a /query's is, instead of holding one of the
// store's connections until it ends (before, it ran on for as long as it
// took). Past the time limit it is stopped and answered 503 with the
// reason, as /query is.
func TestAggregateCancelledWhenClientLeaves(t *testing.T) {
	svc, ch, slow := slowService(t, 600_000, testenv.ServiceOptions{QueryLimits: gateway.QueryLimits{Timeout: time.Minute}})
	c := startQuery(t, svc.URL, slowAggregate)
	testenv.Eventually(t, 20*time.Second, "the aggregate running in ClickHouse", func() bool { return runningAggregates(t, ch) > 0 })
	seen := time.Now()
	c.Close()
	testenv.Eventually(t, 3*time.Second, "the aggregate gone from ClickHouse once its client left", func() bool { return runningAggregates(t, ch) == 0 })
	t.Logf("gone %s after the client left", time.Since(seen).Round(time.Millisecond))

	short := testenv.StartService(t, testenv.ServiceOptions{Store: slow, NoExporter: true, QueryLimits: gateway.QueryLimits{Timeout: time.Second}})
	resp, body := testenv.Do(t, http.MethodGet, short.URL+slowAggregate)
	var e struct{ Error string }
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "longer than 1s") {
		t.Fatalf("past the time limit: got %d, Retry-After %q, %s; want 503 with Retry-After and the reason", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	testenv.Eventually(t, 3*time.Second, "the timed-out aggregate gone from ClickHouse", func() bool { return runningAggregates(t, ch) == 0 })
}
