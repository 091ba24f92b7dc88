package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestBurstOfRequests: a thousand distinct small export requests at once.
// Every one gets its own ticket and reaches success, and together their
// results hold exactly the rows of the windows they cover.
func TestBurstOfRequests(t *testing.T) {
	const jobs, clients = 1000, 16
	store := sharedStore(t)
	svc := testenv.StartService(t, testenv.ServiceOptions{Store: store})

	// Back-to-back windows of 8 minutes: distinct requests, no row in two.
	base, step := seedEnd.Add(-6*24*time.Hour), 8*time.Minute
	windowOf := func(i int) (time.Time, time.Time) {
		from := base.Add(time.Duration(i) * step)
		return from, from.Add(step)
	}
	tickets := make([]string, jobs)
	errs := make([]error, jobs)
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				from, to := windowOf(i)
				tickets[i], errs[i] = submit(svc.URL, window(from, to))
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	submitted := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	seen := map[string]int{}
	for i, tk := range tickets {
		if j, dup := seen[tk]; dup {
			t.Fatalf("requests %d and %d got the same ticket %s", j, i, tk)
		}
		seen[tk] = i
	}

	// Wait on the job documents themselves, not through HTTP.
	pending := map[string]bool{}
	for _, tk := range tickets {
		pending[tk] = true
	}
	var rows int64
	testenv.Eventually(t, 5*time.Minute, "every job of the burst finished", func() bool {
		for tk := range pending {
			rec, _, err := svc.Bus.Job(context.Background(), tk)
			if err != nil {
				if schema.ErrorCode(err) == schema.NotFound {
					continue // not projected yet
				}
				t.Fatalf("job %s: %v", tk, err)
			}
			if !rec.Terminal() {
				continue
			}
			if rec.Job.Status.Status != schema.StatusSuccess {
				t.Fatalf("job %s (request %d): got %q, result %v; want success", tk, seen[tk], rec.Job.Status.Status, rec.Job.Result)
			}
			rows += rec.DoneRows
			delete(pending, tk)
		}
		return len(pending) == 0
	})
	took := time.Since(start)
	t.Logf("burst of %d requests from %d clients: submitted in %s, all succeeded %s after the first (%.0f jobs/s)",
		jobs, clients, submitted.Round(time.Millisecond), took.Round(time.Millisecond), float64(jobs)/took.Seconds())

	// Together the results hold each row of the covered span once.
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()}, Auth: clickhouse.Auth{Database: store.Database()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, end := windowOf(jobs - 1)
	var want uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM observations WHERE network = ? AND ts >= toDateTime(?) AND ts < toDateTime(?)",
		network, uint32(base.Unix()), uint32(end.Unix())).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if rows != int64(want) || want == 0 {
		t.Fatalf("the burst's results hold %d rows, ClickHouse %d", rows, want)
	}

	// A sample, the way a client sees it: document and download.
	for i := 0; i < jobs; i += 111 {
		if j := jobDoc(t, svc.URL, tickets[i]); j.Status.Status != schema.StatusSuccess {
			t.Fatalf("GET job %s: got %q, want success", tickets[i], j.Status.Status)
		}
		from, to := windowOf(i)
		checkDownload(t, svc.URL, tickets[i], testenv.ClickHouseAddr(), store.Database(), from, to)
	}
}

// submit asks for an export, from any goroutine.
func submit(base, query string) (string, error) {
	resp, err := http.Get(base + "/v1/api/sensor-networks/" + network + "/download?" + query)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	var j schema.Job
	if resp.StatusCode != 200 || json.Unmarshal(body, &j) != nil || !schema.IsTicket(j.Ticket) {
		return "", fmt.Errorf("submit %s: got %d %s", query, resp.StatusCode, body)
	}
	return j.Ticket, nil
}
