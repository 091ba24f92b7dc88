package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/plenario-next/exportd/aot/aottest"
	"github.com/plenario-next/exportd/chstore"
)

// ingestNetwork is the network the ingest phase loads into.
const ingestNetwork = "bench_ingest"

// ingestResult is the ingest phase: `exportd load` of a generated digest
// (BENCH_INGEST_LINES lines, default 10 million) against clickhouse-client
// inserting the same rows, already in our columns, as CSV. Runs alternate,
// each on a fresh database.
type ingestResult struct {
	Lines       int64 `json:"lines"`
	DigestBytes int64 `json:"digest_gz_bytes"`
	CSVBytes    int64 `json:"baseline_csv_bytes"`
	// Per run: seconds, CPU seconds of ClickHouse and of the client
	// (clickhouse-client, or exportd load), and exportd's peak RSS.
	Baseline          []float64 `json:"baseline_s"`
	BaselineCHCPU     []float64 `json:"baseline_clickhouse_cpu_s"`
	BaselineClientCPU []float64 `json:"baseline_client_cpu_s"`
	Load              []float64 `json:"load_s"`
	LoadCHCPU         []float64 `json:"load_clickhouse_cpu_s"`
	LoadCPU           []float64 `json:"load_exportd_cpu_s"`
	LoadPeakRSS       []int64   `json:"load_peak_rss"`
	// Medians: the paired ratio, lines per second of the load, peak RSS.
	Ratio       float64 `json:"load_over_baseline"`
	LinesPerSec float64 `json:"load_lines_per_s"`
	PeakMiB     float64 `json:"load_peak_rss_mib"`
}

// ingest runs the ingest phase; bin/exportd is built.
func ingest(ctx context.Context, cfg config, root, tmp string) (*ingestResult, error) {
	lines, err := envInt("BENCH_INGEST_LINES", 10_000_000)
	if err != nil {
		return nil, err
	}
	r := &ingestResult{Lines: lines}
	dir := filepath.Join(tmp, "ingest", aottest.Folder)
	csvPath := filepath.Join(tmp, "ingest", "baseline.csv")
	logf("ingest: writing a digest of %d lines and the same rows as CSV", lines)
	if r.DigestBytes, r.CSVBytes, err = writeIngestData(dir, csvPath, lines); err != nil {
		return nil, err
	}
	defer os.RemoveAll(filepath.Join(tmp, "ingest"))
	db := cfg.DB + "_ingest"
	chHost, chPort, _ := net.SplitHostPort(cfg.ClickHouse)
	chPID := clickhousePID(root, cfg.ClickHouse)
	defer freshDB(context.WithoutCancel(ctx), cfg, db, false)
	for i := range cfg.Runs {
		if err := freshDB(ctx, cfg, db, true); err != nil {
			return nil, err
		}
		in, err := os.Open(csvPath)
		if err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, "clickhouse-client", "--host", chHost, "--port", chPort, "--database", db,
			"--query", "INSERT INTO observations FORMAT CSV")
		var stderr bytes.Buffer
		cmd.Stdin, cmd.Stderr = in, &stderr
		cpu0, start := cpuSeconds(chPID), time.Now()
		err = cmd.Run()
		in.Close()
		if err != nil {
			return nil, fmt.Errorf("clickhouse-client insert: %w: %s", err, stderr.String())
		}
		r.Baseline = append(r.Baseline, time.Since(start).Seconds())
		r.BaselineCHCPU = append(r.BaselineCHCPU, cpuSeconds(chPID)-cpu0)
		r.BaselineClientCPU = append(r.BaselineClientCPU, (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds())
		if err := checkIngested(ctx, cfg, db, lines); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}

		if err := freshDB(ctx, cfg, db, true); err != nil {
			return nil, err
		}
		secs, peak, cpu, chCPU, err := loadRun(ctx, cfg, root, tmp, db, dir, lines, chPID)
		if err != nil {
			return nil, err
		}
		r.Load, r.LoadPeakRSS = append(r.Load, secs), append(r.LoadPeakRSS, peak)
		r.LoadCPU, r.LoadCHCPU = append(r.LoadCPU, cpu), append(r.LoadCHCPU, chCPU)
		logf("ingest run %d/%d: clickhouse-client %.2fs, exportd load %.2fs (%.0f lines/s, peak %s; CPU s: exportd %.1f, clickhouse %.1f vs %.1f)",
			i+1, cfg.Runs, r.Baseline[i], secs, float64(lines)/secs, mib(peak), cpu, chCPU, r.BaselineCHCPU[i])
	}
	var pairs, rss []float64
	for i := range r.Load {
		pairs = append(pairs, ratio(r.Load[i], r.Baseline[i]))
		rss = append(rss, float64(r.LoadPeakRSS[i])/(1<<20))
	}
	r.Ratio, r.PeakMiB = median(pairs), median(rss)
	r.LinesPerSec = float64(lines) / median(r.Load)
	return r, nil
}

// loadRun runs bin/exportd load on the digest once, as its own process.
func loadRun(ctx context.Context, cfg config, root, tmp, db, dir string, lines int64, chPID int) (secs float64, peak int64, cpu, chCPU float64, err error) {
	logPath := filepath.Join(tmp, "ingest-load.log")
	env := append(os.Environ(), "EXPORTD_CLICKHOUSE_ADDR="+cfg.ClickHouse, "EXPORTD_CLICKHOUSE_DB="+db)
	cpu0, start := cpuSeconds(chPID), time.Now()
	c, err := startChild("exportd load", logPath, env, filepath.Join(root, "bin", "exportd"), "load", "--json", "--network", ingestNetwork, dir)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		c.terminate()
		return 0, 0, 0, 0, ctx.Err()
	}
	secs, chCPU = time.Since(start).Seconds(), cpuSeconds(chPID)-cpu0
	out, _ := os.ReadFile(logPath)
	if c.err != nil {
		return 0, 0, 0, 0, fmt.Errorf("exportd load: %v: %s", c.err, out)
	}
	var rep struct {
		Loaded int64 `json:"loaded"`
	}
	if err := json.Unmarshal(lastLine(out), &rep); err != nil || rep.Loaded != lines {
		return 0, 0, 0, 0, fmt.Errorf("exportd load reported %s, want %d loaded", out, lines)
	}
	if err := checkIngested(ctx, cfg, db, lines); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("exportd load: %w", err)
	}
	return secs, c.peak(), (c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()).Seconds(), chCPU, nil
}

func lastLine(b []byte) []byte {
	b = bytes.TrimRight(b, "\n")
	return b[bytes.LastIndexByte(b, '\n')+1:]
}

// writeIngestData writes the digest into dir and the same rows, in the
// columns of observations, to csvPath.
func writeIngestData(dir, csvPath string, lines int64) (gzBytes, csvBytes int64, err error) {
	if _, err := (aottest.Digest{Data: []byte{}}).WriteDir(dir); err != nil {
		return 0, 0, err
	}
	gz, err := os.Create(filepath.Join(dir, "data.csv.gz"))
	if err != nil {
		return 0, 0, err
	}
	defer gz.Close()
	cf, err := os.Create(csvPath)
	if err != nil {
		return 0, 0, err
	}
	defer cf.Close()
	bw := bufio.NewWriterSize(cf, 1<<20)
	var line []byte
	// 100 nodes, 10 parameters, every 10 minutes: 10 million lines span
	// 70 days, three partitions.
	err = aottest.Synthetic(gz, time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC), 10*time.Minute, 100, lines,
		func(ts time.Time, node, sensor, feature, property string, v float64) error {
			line = append(line[:0], ingestNetwork+","...)
			line = append(append(line, node...), ',')
			line = append(ts.AppendFormat(line, time.DateTime), ',')
			line = append(append(line, sensor...), ',')
			line = append(append(line, feature...), ',')
			line = append(append(line, property...), ',')
			line = append(strconv.AppendFloat(line, v, 'f', -1, 64), '\n')
			_, err := bw.Write(line)
			return err
		})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return 0, 0, err
	}
	gst, _ := gz.Stat()
	cst, _ := cf.Stat()
	return gst.Size(), cst.Size(), nil
}

// freshDB drops db and, with create, makes it anew with exportd's tables.
func freshDB(ctx context.Context, cfg config, db string, create bool) error {
	s, err := chstore.Open(ctx, chstore.Config{Addr: cfg.ClickHouse, Database: db})
	if err != nil {
		return err
	}
	err = s.DropDatabase(ctx)
	s.Close()
	if err != nil || !create {
		return err
	}
	s, err = chstore.Open(ctx, chstore.Config{Addr: cfg.ClickHouse, Database: db})
	if err == nil {
		s.Close()
	}
	return err
}

// checkIngested checks that db holds lines rows of the ingest network.
func checkIngested(ctx context.Context, cfg config, db string, lines int64) error {
	s, err := chstore.Open(ctx, chstore.Config{Addr: cfg.ClickHouse, Database: db})
	if err != nil {
		return err
	}
	defer s.Close()
	n, err := s.CountNetwork(ctx, ingestNetwork)
	if err != nil {
		return err
	}
	if n != lines {
		return fmt.Errorf("%d rows stored, want %d", n, lines)
	}
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// rows adds the phase's lines to the results table.
func (r *ingestResult) rows(row func(name, v, target string)) {
	row(fmt.Sprintf("**exportd load / clickhouse-client INSERT CSV**, %d lines", r.Lines),
		fmt.Sprintf("**%.2f** (%.2f s / %.2f s)", r.Ratio, median(r.Load), median(r.Baseline)), "<= 1.5")
	row("exportd load lines/s / peak RSS MiB", fmt.Sprintf("%.0f / %.0f", r.LinesPerSec, r.PeakMiB), "flat")
	row("CPU s, load: exportd / clickhouse (baseline: client / clickhouse)", fmt.Sprintf("%.1f / %.1f (%.1f / %.1f)",
		median(r.LoadCPU), median(r.LoadCHCPU), median(r.BaselineClientCPU), median(r.BaselineCHCPU)), "")
}

// ingestOnly is BENCH_PHASES=ingest: build exportd, run the phase, report.
func ingestOnly(ctx context.Context, cfg config, root string) error {
	tmp, err := os.MkdirTemp("", "benchexport-ingest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	logf("building bin/exportd")
	build := exec.CommandContext(ctx, "go", "build", "-o", "bin/exportd", "./cmd/exportd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	res := &results{Config: cfg, Started: time.Now().UTC()}
	if res.Ingest, err = ingest(ctx, cfg, root, tmp); err != nil {
		return err
	}
	res.Finished = time.Now().UTC()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', tabwriter.Debug)
	row := func(name, v, target string) { fmt.Fprintf(tw, " %s\t %s\t %s\t\n", name, v, target) }
	row("measure", fmt.Sprintf("median of %d runs", cfg.Runs), "target")
	row("---", "---", "---")
	res.Ingest.rows(row)
	tw.Flush()
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
