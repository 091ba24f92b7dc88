package faults_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestRestartWholeService: `exportd serve` (embedded NATS on its data
// directory) is killed with SIGKILL while one job runs and others wait
// behind it, and started again on the same directory and ports. Every job
// finishes with success, and what existed before the kill survives: the
// document and download of a job finished earlier are unchanged.
func TestRestartWholeService(t *testing.T) {
	store := sharedStore(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	natsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	base := "http://" + httpAddr
	env := []string{"EXPORTD_DATA_DIR=" + dataDir, "EXPORTD_HTTP_ADDR=" + httpAddr, "EXPORTD_NATS_LISTEN=" + natsAddr,
		"EXPORTD_CLICKHOUSE_ADDR=" + testenv.ClickHouseAddr(), "EXPORTD_CLICKHOUSE_DB=" + store.Database(),
		"EXPORTD_DEMO_ROWS=0", "EXPORTD_MAX_ACTIVE=0", "EXPORTD_CONCURRENCY=1", "EXPORTD_PART_ROWS=50000",
		"EXPORTD_PART_ACK_WAIT=3s"}
	serve := func(name string) *proc {
		p := startExportd(t, name, env, "serve")
		waitHTTP(t, p, base+"/healthz", 60*time.Second)
		return p
	}
	first := serve("serve1")

	type job struct {
		ticket   string
		from, to time.Time
	}
	submit := func(from, to time.Time) job {
		return job{(&testenv.Service{URL: base}).Submit(t, network, window(from, to)), from, to}
	}
	day := 24 * time.Hour

	// A job finished before the kill: its document and result must survive.
	done := submit(seedEnd.Add(-day), seedEnd.Add(-day+3*time.Hour))
	before := mustSucceed(t, base, done.ticket, time.Minute)
	wantRows := checkDownload(t, base, done.ticket, testenv.ClickHouseAddr(), store.Database(), done.from, done.to)

	// A long job running, and more queued behind it.
	running := submit(seedEnd.Add(-6*day), seedEnd.Add(-4*day))
	testenv.Eventually(t, 60*time.Second, "the long job running", func() bool {
		j := jobDoc(t, base, running.ticket)
		return j.Status.Status == schema.StatusProcessing && j.Status.Progress != nil && j.Status.Progress.Rows > 0
	})
	waiting := []job{running}
	for i := range 3 {
		from := seedEnd.Add(-3*day + time.Duration(i)*6*time.Hour)
		waiting = append(waiting, submit(from, from.Add(5*time.Hour)))
	}
	for _, w := range waiting {
		j := jobDoc(t, base, w.ticket)
		var p schema.Progress
		if j.Status.Progress != nil {
			p = *j.Status.Progress
		}
		t.Logf("at the kill: %s %s, %d of %d parts, %d rows", w.ticket, j.Status.Status, p.Done, p.Total, p.Rows)
	}
	first.kill(t)
	start := time.Now()

	serve("serve2")
	t.Logf("restarted in %s", time.Since(start).Round(time.Millisecond))
	for _, w := range waiting {
		mustSucceed(t, base, w.ticket, 3*time.Minute)
	}
	t.Logf("every job finished %s after the kill", time.Since(start).Round(time.Millisecond))

	after := jobDoc(t, base, done.ticket)
	if after.Status.Status != schema.StatusSuccess || after.Status.Meta.EndTime != before.Status.Meta.EndTime ||
		fmt.Sprint(after.Result) != fmt.Sprint(before.Result) {
		t.Errorf("finished job changed across the restart:\nbefore %+v %v\nafter  %+v %v", before.Status, before.Result, after.Status, after.Result)
	}
	if n := checkDownload(t, base, done.ticket, testenv.ClickHouseAddr(), store.Database(), done.from, done.to); n != wantRows {
		t.Errorf("finished job's download: got %d rows after the restart, %d before", n, wantRows)
	}
	for _, w := range waiting {
		n := checkDownload(t, base, w.ticket, testenv.ClickHouseAddr(), store.Database(), w.from, w.to)
		if n == 0 {
			t.Errorf("job %s exported nothing", w.ticket)
		}
	}
}
