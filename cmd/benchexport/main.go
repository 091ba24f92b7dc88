// Command benchexport is `make bench`: it measures exportd's bulk export
// against ClickHouse dumping the same rows itself, side by side in one run
// (issue 6), and the gateway's throughput against a bare fasthttp handler.
//
// It seeds the demo network into its own database once, builds bin/exportd
// and runs it as separate processes on loopback: a NATS server (this
// binary, `benchexport nats-server`), `exportd gateway` and `exportd
// exporter`, so each one's peak memory is its own. Then, BENCH_RUNS times
// alternating, it runs the baseline (clickhouse-client, the export's exact
// SELECT, FORMAT CSVWithNames, to a file), our job (HTTP submit, poll
// every 50 ms until success, download CSV and JSON through the gateway),
// the same dump unordered and read into FORMAT Null, and a Parquet job
// (dumps.go).
// The gateway load runs BENCH_RUNS times too; the run of median rate is
// reported, with every run's rate.
//
// Environment: BENCH_ROWS (20000000), BENCH_RUNS (3), BENCH_DB
// (exportd_bench; exportd_bench_<rows> for another BENCH_ROWS), BENCH_NETWORK (array_of_things), BENCH_OUT
// (bench/results.json), BENCH_LOAD_SECONDS (5), BENCH_LOAD_CONNS (64),
// BENCH_QUERY_REQUESTS (200), BENCH_CONCURRENCY (exporter workers; default
// exportd's, one per core), EXPORTD_CLICKHOUSE_ADDR (127.0.0.1:19000),
// BENCH_PHASES (all of jobs,follow,linearity,events,webhooks,fair,query,aggregate,load,ingest; a subset runs
// only those; fair runs once, not BENCH_RUNS times; ingest alone needs no seeded data), BENCH_INGEST_LINES
// (10000000, the ingest phase's digest) and BENCH_PROFILE_DIR (CPU profiles of the gateway and the
// exporter during the load phases, written there).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "nats-server" {
		if err := natsServerMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "benchexport nats-server:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "benchexport:", err)
		os.Exit(1)
	}
}

// bench is one run: its settings, the seeded data, exportd running, the
// baseline's query and the results so far. Each phase is a method.
type bench struct {
	cfg       config
	root, tmp string // the repository; the run's scratch directory (logs, files)
	net0      *schema.Network
	whole     window // all the seeded rows
	sys       *system
	res       *results
	baseSQL   string   // the export's SELECT, its arguments inlined
	chArgs    []string // clickhouse-client's, to run baseSQL as CSVWithNames
}

func run(ctx context.Context) (err error) {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "exportd")); err != nil {
		return errors.New("run from the repository root (make bench)")
	}
	chHost, chPort, err := net.SplitHostPort(cfg.ClickHouse)
	if err != nil {
		return fmt.Errorf("EXPORTD_CLICKHOUSE_ADDR: %w", err)
	}
	if _, err := exec.LookPath("clickhouse-client"); err != nil {
		return errors.New("clickhouse-client not found: the baseline needs it (scripts/clickhouse.sh install)")
	}

	if slices.Equal(cfg.Phases, []string{"ingest"}) {
		return ingestOnly(ctx, cfg, root) // no seeded data, no running exportd
	}
	// 1. The data, seeded once.
	b := &bench{cfg: cfg, root: root, net0: chstore.DemoNetwork(cfg.Network),
		whole: window{Start: seedEnd.Add(-seedSpan - time.Hour), End: seedEnd}}
	if b.whole.Rows, err = ensureSeeded(ctx, cfg, b.net0, b.whole); err != nil {
		return err
	}

	// 2. exportd, for real, as separate processes.
	if b.tmp, err = os.MkdirTemp("", "benchexport-"); err != nil {
		return err
	}
	defer func() {
		if err == nil {
			os.RemoveAll(b.tmp)
			return
		}
		// Keep the processes' logs of a failed run, not their data.
		os.RemoveAll(filepath.Join(b.tmp, "nats"))
		os.RemoveAll(filepath.Join(b.tmp, "data"))
		logf("logs of the failed run kept in %s", b.tmp)
	}()
	logf("building bin/exportd")
	build := exec.CommandContext(ctx, "go", "build", "-o", "bin/exportd", "./cmd/exportd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	if b.sys, err = startSystem(ctx, cfg, root, b.tmp); err != nil {
		return err
	}
	defer b.sys.stop()
	logf("exportd up: gateway %s (pid %d), exporter pid %d, nats pid %d; logs in %s; /debug/pprof/ of gateway %s, exporter %s, nats %s",
		b.sys.httpAddr, b.sys.gateway.pid(), b.sys.exporter.pid(), b.sys.nats.pid(), b.tmp, b.sys.gatewayOps, b.sys.exporterOps, b.sys.natsOps)

	b.res = &results{Config: cfg, Started: time.Now().UTC(), Rows: b.whole.Rows}
	q, err := b.whole.query(b.net0)
	if err != nil {
		return err
	}
	sqlText, args := chstore.ExportSQL(&q, q.Start, q.End)
	if b.baseSQL, err = chstore.InlineSQL(sqlText, args); err != nil {
		return err
	}
	b.res.BaselineSQL = b.baseSQL + " FORMAT CSVWithNames"
	b.chArgs = []string{"--host", chHost, "--port", chPort, "--database", cfg.DB, "--query", b.res.BaselineSQL}

	if err := b.phases(ctx); err != nil {
		return err
	}
	return b.write()
}

// write prints the results and writes them to BENCH_OUT.
func (b *bench) write() error {
	b.res.Finished = time.Now().UTC()
	b.res.summarize()
	b.res.print(os.Stdout)
	if err := os.MkdirAll(filepath.Dir(b.cfg.Out), 0o755); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(b.res, "", "  ")
	if err := os.WriteFile(b.cfg.Out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	logf("wrote %s", b.cfg.Out)
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func listenTCP(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true,
	ReadBufferSize: 256 << 10}}
