package main

import (
	"context"
	"fmt"
	"path/filepath"
)

// phases runs the phases cfg names, in allPhases' order, each recording
// into b.res.
func (b *bench) phases(ctx context.Context) (err error) {
	cfg, sys, res := b.cfg, b.sys, b.res
	if err := b.jobs(ctx); err != nil {
		return err
	}
	if err := b.follow(ctx); err != nil {
		return err
	}
	small, large, err := b.linearity(ctx)
	if err != nil {
		return err
	}

	// 4b. Event and webhook delays (webhooks.go).
	if err := sys.delayPhases(ctx, cfg, res, large); err != nil {
		return err
	}

	// 4c. Fair share: a small job after six whole-table ones.
	if cfg.runs("fair") {
		f, err := sys.fairShare(ctx, b.net0, b.whole)
		if err != nil {
			return err
		}
		res.Fair = &f
		logf("fair share: a %d-row job %.2fs after six of %d rows; the six took %.2fs", f.SmallRows, f.SmallSeconds, f.BigRows, f.BigSeconds)
	}

	// 4d. /query, a 1000-row page of the newest readings on the big table.
	if cfg.runs("query") {
		if res.Query, err = sys.queryLatency(ctx, cfg, b.whole); err != nil {
			return err
		}
		logf("/query 1000 rows: p50 %.1f ms, p99 %.1f ms over %d requests", res.Query.P50ms, res.Query.P99ms, res.Query.Requests)
	}
	if cfg.runs("aggregate") { // 4d'. /aggregate, hourly, over the whole table
		if res.Aggregate, err = sys.aggregateLatency(ctx, cfg, b.net0, b.whole); err != nil {
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
		if res.Ingest, err = ingest(ctx, cfg, b.root, b.tmp); err != nil {
			return err
		}
	}
	return nil
}

// jobs is phase 3: BENCH_RUNS times, the baseline and the job on the whole
// data, alternating, then the other dumps and the Parquet job (dumps.go).
func (b *bench) jobs(ctx context.Context) error {
	cfg, sys, res, whole := b.cfg, b.sys, b.res, b.whole
	for i := range cfg.Runs * cfg.phaseRuns("jobs") {
		bl, err := baseline(ctx, b.chArgs, filepath.Join(b.tmp, "baseline.csv"), sys.chPID)
		if err != nil {
			return err
		}
		logf("run %d/%d baseline: %d rows in %.2fs (%.0f MB; CPU s: clickhouse %.1f, client %.1f)", i+1, cfg.Runs, bl.Rows,
			bl.Seconds, float64(bl.Bytes)/1e6, bl.ClickHouseCPU, bl.ClientCPU)
		res.Baseline = append(res.Baseline, bl)
		if bl.Rows != whole.Rows {
			return fmt.Errorf("baseline wrote %d rows, the window holds %d", bl.Rows, whole.Rows)
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
		if j.CSVRows != bl.Rows {
			return fmt.Errorf("the download has %d rows, the baseline %d", j.CSVRows, bl.Rows)
		}
		res.Jobs = append(res.Jobs, j)
		res.ticket = j.Ticket
		d, err := sys.runDumps(ctx, b.chArgs, b.baseSQL, b.tmp, cfg.Network, whole)
		if err != nil {
			return err
		}
		logf("run %d/%d: unordered dump %.2fs, read floor (FORMAT Null) %.2fs; Parquet job %.2fs (CPU s: exporter %.1f), file %.0f MB (%.1f bytes a row) downloaded in %.2fs",
			i+1, cfg.Runs, d.Unordered.Seconds, d.ReadFloor.Seconds, d.Parquet.Seconds, d.Parquet.ExporterCPU,
			float64(d.ParquetBytes)/1e6, float64(d.ParquetBytes)/float64(whole.Rows), d.ParquetSeconds)
		res.Dumps = append(res.Dumps, d)
	}
	return nil
}

// follow is phase 3b: submit to file with exportd get, following
// (follow.go).
func (b *bench) follow(ctx context.Context) error {
	for i := range b.cfg.Runs * b.cfg.phaseRuns("follow") {
		f, err := b.sys.followPhase(ctx, b.chArgs, b.root, b.tmp, b.whole, i)
		if err != nil {
			return err
		}
		logf("follow run %d/%d: exportd get %.2fs (job %.2fs, get - job %.2fs, %d bytes read back), ordered dump %.2fs: %.2f; CPU s: get %.1f, gateway %.1f, exporter %.1f, nats %.1f, clickhouse %.1f",
			i+1, b.cfg.Runs, f.Seconds, f.JobSeconds, f.Seconds-f.JobSeconds, f.ReadBack, f.Baseline.Seconds, f.Ratio,
			f.GetCPU, f.GatewayCPU, f.ExporterCPU, f.NATSCPU, f.ClickHouseCPU)
		b.res.Follow = append(b.res.Follow, f)
	}
	return nil
}

// linearity is phase 4a: jobs of a twentieth and of a half of the data,
// the newest rows. The two windows are counted whether the phase runs or
// not: later phases use them.
func (b *bench) linearity(ctx context.Context) (small, large window, err error) {
	cfg, sys, res := b.cfg, b.sys, b.res
	if small, err = sys.countWindow(ctx, cfg, b.net0, b.whole, 20); err != nil {
		return small, large, err
	}
	if large, err = sys.countWindow(ctx, cfg, b.net0, b.whole, 2); err != nil {
		return small, large, err
	}
	res.SmallRows, res.LargeRows = small.Rows, large.Rows
	for i := range cfg.Runs * cfg.phaseRuns("linearity") {
		for _, w := range []window{small, large} {
			j, err := sys.job(ctx, cfg.Network, w, false)
			if err != nil {
				return small, large, err
			}
			logf("linearity run %d/%d: %d rows in %.2fs (success recorded at %.3fs; plan %.3fs)", i+1, cfg.Runs, w.Rows, j.Seconds,
				j.EndSeconds, j.PlanSeconds)
			if w == small {
				res.SmallJobs, res.SmallEnds = append(res.SmallJobs, j.Seconds), append(res.SmallEnds, j.EndSeconds)
			} else {
				res.LargeJobs, res.LargeEnds = append(res.LargeJobs, j.Seconds), append(res.LargeEnds, j.EndSeconds)
			}
		}
	}
	return small, large, nil
}
