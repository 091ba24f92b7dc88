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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

// seedEnd is the time of the last seeded observation: fixed, so that the
// window of the data is known and a database seeded earlier is reused.
var seedEnd = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seedSpan is how far back chstore.Seed spreads the rows from seedEnd.
const seedSpan = 6 * 24 * time.Hour

const defaultRows = 20_000_000

type config struct {
	Rows          int64    `json:"rows"`
	Runs          int      `json:"runs"`
	DB            string   `json:"database"`
	Network       string   `json:"network"`
	ClickHouse    string   `json:"clickhouse"`
	LoadSeconds   int      `json:"load_seconds"`
	LoadConns     int      `json:"load_conns"`
	QueryRequests int      `json:"query_requests"`
	Concurrency   string   `json:"exporter_concurrency,omitempty"`
	Phases        []string `json:"phases"`
	ProfileDir    string   `json:"-"`
	Out           string   `json:"-"`
	CPUs          int      `json:"cpus"`
	GoVersion     string   `json:"go"`
}

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

func envInt(name string, def int64) (int64, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("bad %s=%q: want a positive integer", name, v)
	}
	return n, nil
}

func envStr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func loadConfig() (config, error) {
	c := config{DB: envStr("BENCH_DB", "exportd_bench"), Network: envStr("BENCH_NETWORK", "array_of_things"),
		ClickHouse: envStr("EXPORTD_CLICKHOUSE_ADDR", chstore.DefaultAddr), Out: envStr("BENCH_OUT", "bench/results.json"),
		Concurrency: os.Getenv("BENCH_CONCURRENCY"), CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	var err error
	var n int64
	if c.Rows, err = envInt("BENCH_ROWS", defaultRows); err != nil {
		return c, err
	}
	if n, err = envInt("BENCH_RUNS", 3); err != nil {
		return c, err
	}
	c.Runs = int(n)
	if os.Getenv("BENCH_DB") == "" && c.Rows != defaultRows {
		// Another size gets its own database: a quick run at 2 million
		// rows must not drop the 20 million seeded for the real one.
		c.DB += "_" + strconv.FormatInt(c.Rows, 10)
	}
	if n, err = envInt("BENCH_LOAD_SECONDS", 5); err != nil {
		return c, err
	}
	c.LoadSeconds = int(n)
	if n, err = envInt("BENCH_LOAD_CONNS", 64); err != nil {
		return c, err
	}
	c.LoadConns = int(n)
	if n, err = envInt("BENCH_QUERY_REQUESTS", 200); err != nil {
		return c, err
	}
	c.QueryRequests = int(n)
	c.Phases = strings.Split(envStr("BENCH_PHASES", strings.Join(allPhases, ",")), ",")
	for _, p := range c.Phases {
		if !slices.Contains(allPhases, p) {
			return c, fmt.Errorf("BENCH_PHASES: unknown phase %q (phases: %s)", p, strings.Join(allPhases, ","))
		}
	}
	if c.ProfileDir = os.Getenv("BENCH_PROFILE_DIR"); c.ProfileDir != "" {
		if err := os.MkdirAll(c.ProfileDir, 0o755); err != nil {
			return c, fmt.Errorf("BENCH_PROFILE_DIR: %w", err)
		}
	}
	return c, nil
}

// allPhases are the parts of the benchmark, in the order they run.
var allPhases = []string{"jobs", "follow", "linearity", "events", "webhooks", "fair", "query", "aggregate", "load", "ingest"}

func (c config) runs(phase string) bool { return slices.Contains(c.Phases, phase) }

// phaseRuns is 1 when phase runs, else 0: a multiplier of its loop's runs.
func (c config) phaseRuns(phase string) int {
	if c.runs(phase) {
		return 1
	}
	return 0
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// window is a slice of the seeded data: the query parameters of a
// download and the rows it holds.
type window struct {
	Start, End time.Time
	Rows       int64
	DataType   string // the job's format; "": the default
}

func (w window) values() url.Values { return windowValues(w) }

// query resolves w as the gateway does for a download.
func (w window) query(n *schema.Network) (schema.Query, error) {
	return schema.ParseQuery(schema.Download, w.values(), n, time.Now())
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
	net0 := chstore.DemoNetwork(cfg.Network)
	whole := window{Start: seedEnd.Add(-seedSpan - time.Hour), End: seedEnd}
	if whole.Rows, err = ensureSeeded(ctx, cfg, net0, whole); err != nil {
		return err
	}

	// 2. exportd, for real, as separate processes.
	tmp, err := os.MkdirTemp("", "benchexport-")
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			os.RemoveAll(tmp)
			return
		}
		// Keep the processes' logs of a failed run, not their data.
		os.RemoveAll(filepath.Join(tmp, "nats"))
		os.RemoveAll(filepath.Join(tmp, "data"))
		logf("logs of the failed run kept in %s", tmp)
	}()
	logf("building bin/exportd")
	build := exec.CommandContext(ctx, "go", "build", "-o", "bin/exportd", "./cmd/exportd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	sys, err := startSystem(ctx, cfg, root, tmp)
	if err != nil {
		return err
	}
	defer sys.stop()
	logf("exportd up: gateway %s (pid %d), exporter pid %d, nats pid %d; logs in %s; /debug/pprof/ of gateway %s, exporter %s, nats %s",
		sys.httpAddr, sys.gateway.pid(), sys.exporter.pid(), sys.nats.pid(), tmp, sys.gatewayOps, sys.exporterOps, sys.natsOps)

	res := &results{Config: cfg, Started: time.Now().UTC()}
	res.Rows = whole.Rows
	q, err := whole.query(net0)
	if err != nil {
		return err
	}
	sqlText, args := chstore.ExportSQL(&q, q.Start, q.End)
	baseSQL, err := chstore.InlineSQL(sqlText, args)
	if err != nil {
		return err
	}
	res.BaselineSQL = baseSQL + " FORMAT CSVWithNames"
	chArgs := []string{"--host", chHost, "--port", chPort, "--database", cfg.DB, "--query", res.BaselineSQL}

	// 3. Baseline and job, alternating.
	for i := range cfg.Runs * cfg.phaseRuns("jobs") {
		b, err := baseline(ctx, chArgs, filepath.Join(tmp, "baseline.csv"), sys.chPID)
		if err != nil {
			return err
		}
		logf("run %d/%d baseline: %d rows in %.2fs (%.0f MB; CPU s: clickhouse %.1f, client %.1f)", i+1, cfg.Runs, b.Rows,
			b.Seconds, float64(b.Bytes)/1e6, b.ClickHouseCPU, b.ClientCPU)
		res.Baseline = append(res.Baseline, b)
		if b.Rows != whole.Rows {
			return fmt.Errorf("baseline wrote %d rows, the window holds %d", b.Rows, whole.Rows)
		}
		j, err := sys.job(ctx, cfg.Network, whole, true)
		if err != nil {
			return err
		}
		logf("run %d/%d job: %.2fs (%d parts; CPU s: exporter %.1f, nats %.1f, clickhouse %.1f), exporter peak %s",
			i+1, cfg.Runs, j.Seconds, j.Parts, j.ExporterCPU, j.NATSCPU, j.ClickHouseCPU, mib(j.ExporterPeak))
		logf("run %d/%d download: CSV %.0f MB in %.2fs = %.0f MB/s (CPU s: gateway %.1f, nats %.1f, client %.1f), JSON %.0f MB in %.2fs (%.1f, %.1f, %.1f); gateway RSS %s before, peak %s",
			i+1, cfg.Runs, float64(j.CSVBytes)/1e6, j.CSVSeconds, j.CSVMBps, j.DownloadGatewayCPU, j.DownloadNATSCPU, j.DownloadClientCPU,
			float64(j.JSONBytes)/1e6, j.JSONSeconds, j.JSONGatewayCPU, j.JSONNATSCPU, j.JSONClientCPU, mib(j.GatewayBefore), mib(j.GatewayPeak))
		if j.CSVRows != b.Rows {
			return fmt.Errorf("the download has %d rows, the baseline %d", j.CSVRows, b.Rows)
		}
		res.Jobs = append(res.Jobs, j)
		res.ticket = j.Ticket
		d, err := sys.runDumps(ctx, chArgs, baseSQL, tmp, cfg.Network, whole)
		if err != nil {
			return err
		}
		logf("run %d/%d: unordered dump %.2fs, read floor (FORMAT Null) %.2fs; Parquet job %.2fs (CPU s: exporter %.1f), file %.0f MB (%.1f bytes a row) downloaded in %.2fs",
			i+1, cfg.Runs, d.Unordered.Seconds, d.ReadFloor.Seconds, d.Parquet.Seconds, d.Parquet.ExporterCPU,
			float64(d.ParquetBytes)/1e6, float64(d.ParquetBytes)/float64(whole.Rows), d.ParquetSeconds)
		res.Dumps = append(res.Dumps, d)
	}

	// 3b. Submit to file with exportd get, following (follow.go).
	for i := range cfg.Runs * cfg.phaseRuns("follow") {
		f, err := sys.followPhase(ctx, chArgs, root, tmp, whole, i)
		if err != nil {
			return err
		}
		logf("follow run %d/%d: exportd get %.2fs (job %.2fs), ordered dump %.2fs: %.2f", i+1, cfg.Runs, f.Seconds, f.JobSeconds,
			f.Baseline.Seconds, f.Ratio)
		res.Follow = append(res.Follow, f)
	}

	// 4a. Linearity: a twentieth and a half of the data, the newest rows.
	small, err := sys.countWindow(ctx, cfg, net0, whole, 20)
	if err != nil {
		return err
	}
	large, err := sys.countWindow(ctx, cfg, net0, whole, 2)
	if err != nil {
		return err
	}
	res.SmallRows, res.LargeRows = small.Rows, large.Rows
	for i := range cfg.Runs * cfg.phaseRuns("linearity") {
		for _, w := range []window{small, large} {
			j, err := sys.job(ctx, cfg.Network, w, false)
			if err != nil {
				return err
			}
			logf("linearity run %d/%d: %d rows in %.2fs", i+1, cfg.Runs, w.Rows, j.Seconds)
			if w == small {
				res.SmallJobs = append(res.SmallJobs, j.Seconds)
			} else {
				res.LargeJobs = append(res.LargeJobs, j.Seconds)
			}
		}
	}

	// 4b. Event and webhook delays (webhooks.go).
	if err := sys.delayPhases(ctx, cfg, res, large); err != nil {
		return err
	}

	// 4c. Fair share: a small job after six whole-table ones.
	if cfg.runs("fair") {
		f, err := sys.fairShare(ctx, net0, whole)
		if err != nil {
			return err
		}
		res.Fair = &f
		logf("fair share: a %d-row job %.2fs after six of %d rows; the six took %.2fs", f.SmallRows, f.SmallSeconds, f.BigRows, f.BigSeconds)
	}

	// 4d. /query, a 1000-row page of the newest readings on the big table.
	if cfg.runs("query") {
		if res.Query, err = sys.queryLatency(ctx, cfg, whole); err != nil {
			return err
		}
		logf("/query 1000 rows: p50 %.1f ms, p99 %.1f ms over %d requests", res.Query.P50ms, res.Query.P99ms, res.Query.Requests)
	}
	if cfg.runs("aggregate") { // 4d'. /aggregate, hourly, over the whole table
		if res.Aggregate, err = sys.aggregateLatency(ctx, cfg, net0, whole); err != nil {
			return err
		}
		logf("/aggregate hourly avg, whole table: p50 %.1f ms, p99 %.1f ms over %d requests", res.Aggregate.P50ms, res.Aggregate.P99ms, res.Aggregate.Requests)
	}

	// 4e. Gateway load, with a bare fasthttp handler in this process for
	// the ratio, polling a finished job (a small one when the jobs phase
	// did not run).
	if cfg.runs("load") {
		if res.ticket == "" {
			j, err := sys.job(ctx, cfg.Network, small, false)
			if err != nil {
				return err
			}
			res.ticket = j.Ticket
		}
		if err := sys.loadTests(ctx, cfg, res); err != nil {
			return err
		}
	}

	if cfg.runs("ingest") { // 4f. exportd load against clickhouse-client INSERT
		if res.Ingest, err = ingest(ctx, cfg, root, tmp); err != nil {
			return err
		}
	}
	res.Finished = time.Now().UTC()
	res.summarize()
	res.print(os.Stdout)
	if err := os.MkdirAll(filepath.Dir(cfg.Out), 0o755); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(cfg.Out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	logf("wrote %s", cfg.Out)
	return nil
}

// ensureSeeded makes the bench database hold exactly cfg.Rows rows of the
// demo network in w, seeding it when it does not, and returns the count.
func ensureSeeded(ctx context.Context, cfg config, n *schema.Network, w window) (int64, error) {
	store, err := chstore.Open(ctx, chstore.Config{Addr: cfg.ClickHouse, Database: cfg.DB})
	if err != nil {
		return 0, fmt.Errorf("clickhouse at %s: %w", cfg.ClickHouse, err)
	}
	defer func() { store.Close() }()
	q, err := w.query(n)
	if err != nil {
		return 0, err
	}
	have, err := store.Count(ctx, &q)
	if err != nil {
		return 0, err
	}
	if have == cfg.Rows {
		if _, err := store.Network(ctx, cfg.Network); err == nil {
			logf("reusing %d rows of %s in database %s", have, cfg.Network, cfg.DB)
			return have, nil
		}
	}
	if have > 0 {
		logf("database %s holds %d rows, not %d: dropping it", cfg.DB, have, cfg.Rows)
		if err := store.DropDatabase(ctx); err != nil {
			return 0, err
		}
		store.Close()
		if store, err = chstore.Open(ctx, chstore.Config{Addr: cfg.ClickHouse, Database: cfg.DB}); err != nil {
			return 0, err
		}
	}
	logf("seeding %d rows of %s into database %s (once; later runs reuse them)", cfg.Rows, cfg.Network, cfg.DB)
	start := time.Now()
	if err := store.Seed(ctx, n, cfg.Rows, seedEnd); err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	if have, err = store.Count(ctx, &q); err != nil {
		return 0, err
	}
	logf("seeded %d rows in %s", have, time.Since(start).Round(time.Second))
	if have != cfg.Rows {
		return 0, fmt.Errorf("seeded %d rows but the window holds %d", cfg.Rows, have)
	}
	return have, nil
}

type baselineRun struct {
	Rows    int64   `json:"rows"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	// CPU seconds spent meanwhile by clickhouse-server and by the client.
	ClickHouseCPU float64 `json:"clickhouse_cpu_s"`
	ClientCPU     float64 `json:"client_cpu_s"`
}

// baseline runs clickhouse-client with the export's SELECT into a file.
func baseline(ctx context.Context, args []string, path string, chPID int) (baselineRun, error) {
	f, err := os.Create(path)
	if err != nil {
		return baselineRun{}, err
	}
	defer os.Remove(path)
	cmd := exec.CommandContext(ctx, "clickhouse-client", args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = f, &stderr
	cpu0 := cpuSeconds(chPID)
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	chCPU := cpuSeconds(chPID) - cpu0
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return baselineRun{}, fmt.Errorf("clickhouse-client: %w: %s", err, stderr.String())
	}
	rf, err := os.Open(path)
	if err != nil {
		return baselineRun{}, err
	}
	defer rf.Close()
	lines, size, err := countLines(rf)
	if err != nil {
		return baselineRun{}, err
	}
	return baselineRun{Rows: lines - 1, Bytes: size, Seconds: took.Seconds(), ClickHouseCPU: chCPU,
		ClientCPU: (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()}, nil
}

// countLines counts newlines and bytes of r.
func countLines(r io.Reader) (lines, size int64, err error) {
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		size += int64(n)
		lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		if err == io.EOF {
			return lines, size, nil
		}
		if err != nil {
			return lines, size, err
		}
	}
}

func listenTCP(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true,
	ReadBufferSize: 256 << 10}}
