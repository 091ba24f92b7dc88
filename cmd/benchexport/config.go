package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/plenario-next/exportd/chstore"
)

// defaultRows is BENCH_ROWS unless set: the size BENCHMARKS.md reports.
const defaultRows = 20_000_000

// config is the run's settings, from the environment (see the package
// doc); bench/results.json records it beside the figures.
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
