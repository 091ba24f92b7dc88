package faults_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/aot/aottest"
	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
)

// killLines is the size of the digest killed mid-load: three months of
// readings every ten minutes from ten nodes.
const killLines = 3 * 30 * 144 * 100

// TestLoadKilled kills `exportd load` with SIGKILL once it has attached a
// month and is inside the next, runs it again, and finds every line stored
// exactly once. Then a broken digest exits non-zero with a clear message.
func TestLoadKilled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), aottest.Folder)
	if _, err := (aottest.Digest{Data: []byte{}}).WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "data.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := aottest.Synthetic(f, start, 10*time.Minute, 10, killLines, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()

	db := testenv.RandomName("exportd_faults_")
	t.Cleanup(func() { testenv.DropDatabase(t, db) })
	env := []string{"EXPORTD_CLICKHOUSE_ADDR=" + testenv.ClickHouseAddr(), "EXPORTD_CLICKHOUSE_DB=" + db}
	// Small batches: many inserts per month, so the kill lands mid-month.
	p := startExportd(t, "load", env, "load", "--batch-rows", "20000", dir)
	ctx := context.Background()
	var store *chstore.Store
	testenv.Eventually(t, 2*time.Minute, "the first month attached", func() bool {
		if p.exited() {
			t.Fatalf("load exited before the kill: %v", p.err)
		}
		if store == nil {
			store, _ = chstore.Open(ctx, chstore.Config{Addr: testenv.ClickHouseAddr(), Database: db})
			return false
		}
		st, found, _ := store.LoadState(ctx, "aot_chicago")
		return found && st.LoadedUntil.After(start.AddDate(0, 1, 0))
	})
	defer store.Close()
	p.kill(t)
	st, _, err := store.LoadState(ctx, "aot_chicago")
	if err != nil || st.Finished {
		t.Fatalf("after the kill: %+v, %v; want an unfinished load (make the digest bigger?)", st, err)
	}
	t.Logf("killed with every reading before %s stored", st.LoadedUntil)

	p = startExportd(t, "load again", env, "load", "--json", dir)
	testenv.Eventually(t, 3*time.Minute, "the second load ends", p.exited)
	if p.err != nil {
		t.Fatalf("second load: %v", p.err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rows, unique uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(node_id, ts, sensor, property) FROM observations WHERE network = 'aot_chicago'").Scan(&rows, &unique); err != nil {
		t.Fatal(err)
	}
	if rows != killLines || unique != killLines {
		t.Fatalf("after kill and rerun: %d rows, %d unique; want %d, each once", rows, unique, killLines)
	}
	if st, _, _ := store.LoadState(ctx, "aot_chicago"); !st.Finished {
		t.Errorf("load state %+v, want finished", st)
	}

	// A digest without nodes.csv: a message naming it, exit status 1.
	if err := os.Remove(filepath.Join(dir, "nodes.csv")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exportdBin, "load", dir)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "nodes.csv") {
		t.Errorf("load without nodes.csv: %v, stderr %q; want exit status 1 naming nodes.csv", err, stderr.String())
	}
}
