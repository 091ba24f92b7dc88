package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

// The jobs phase measures the job against three ways a user could dump the
// same rows with clickhouse-client (issue 16): the export's own ordered
// SELECT (the baseline the ratio has always used), the same without ORDER
// BY (what a user dumping by hand runs), and the read alone (FORMAT Null:
// the floor no export can beat). And a Parquet job of the same rows, with
// its file's size.

// dumpRuns are one jobs-phase run's extra baselines and Parquet job.
type dumpRuns struct {
	Unordered baselineRun `json:"unordered_dump"`
	ReadFloor baselineRun `json:"read_floor"`
	Parquet   jobRun      `json:"parquet_job"`
	// ParquetBytes and ParquetSeconds are the Parquet download's.
	ParquetBytes   int64   `json:"parquet_bytes"`
	ParquetSeconds float64 `json:"parquet_download_s"`
}

// unorderedSQL is the export's SELECT without its ORDER BY.
func unorderedSQL(ordered string) string {
	sql, _, _ := strings.Cut(ordered, " ORDER BY "+chstore.ExportOrder)
	return sql
}

// runDumps runs the unordered dump, the read floor and a Parquet job of w.
func (s *system) runDumps(ctx context.Context, chArgs []string, baseSQL, tmp, network string, w window) (dumpRuns, error) {
	var d dumpRuns
	withQuery := func(sql string) []string {
		a := append([]string(nil), chArgs...)
		a[len(a)-1] = sql
		return a
	}
	var err error
	if d.Unordered, err = baseline(ctx, withQuery(unorderedSQL(baseSQL)+" FORMAT CSVWithNames"), filepath.Join(tmp, "unordered.csv"), s.chPID); err != nil {
		return d, err
	}
	if d.Unordered.Rows != w.Rows {
		return d, fmt.Errorf("unordered dump wrote %d rows, the window holds %d", d.Unordered.Rows, w.Rows)
	}
	if d.ReadFloor, err = baseline(ctx, withQuery(baseSQL+" FORMAT Null"), filepath.Join(tmp, "null.out"), s.chPID); err != nil {
		return d, err
	}
	d.ReadFloor.Rows = w.Rows // nothing is written to count
	pw := w
	pw.DataType = schema.FormatParquet
	if d.Parquet, err = s.job(ctx, network, pw, false); err != nil {
		return d, err
	}
	if d.Parquet.Rows != w.Rows {
		return d, fmt.Errorf("the Parquet job exported %d rows, the window holds %d", d.Parquet.Rows, w.Rows)
	}
	_, d.ParquetBytes, d.ParquetSeconds, err = s.download(ctx, d.Parquet.Ticket, schema.FormatParquet)
	if err == nil && d.ParquetBytes < 12 {
		err = fmt.Errorf("the Parquet download has %d bytes", d.ParquetBytes)
	}
	return d, err
}

// windowValues are w's download parameters.
func windowValues(w window) url.Values {
	v := url.Values{"start_datetime": {w.Start.UTC().Format(schema.DatetimeLayout)},
		"end_datetime": {w.End.UTC().Format(schema.DatetimeLayout)}}
	if w.DataType != "" {
		v.Set("data_type", w.DataType)
	}
	return v
}

// dumpSummary is the medians of the dump runs and the job's ratios to them.
type dumpSummary struct {
	UnorderedSeconds  float64 `json:"unordered_dump_s"`
	ReadFloorSeconds  float64 `json:"read_floor_s"`
	JobOverUnordered  float64 `json:"job_over_unordered"`
	JobOverReadFloor  float64 `json:"job_over_read_floor"`
	ParquetSeconds    float64 `json:"parquet_job_s"`
	ParquetOverDump   float64 `json:"parquet_job_over_ordered_dump"`
	ParquetBytesRow   float64 `json:"parquet_bytes_per_row"`
	ParquetCPU        float64 `json:"parquet_job_exporter_cpu_s"`
	ExporterUsPerRow  float64 `json:"job_exporter_cpu_us_per_row"`
	ParquetUsPerRow   float64 `json:"parquet_job_exporter_cpu_us_per_row"`
	ParquetDownloadMB float64 `json:"parquet_download_mb_per_s"`
}

func (r *results) summarizeDumps(jobSeconds, orderedSeconds, jobCPU float64) dumpSummary {
	var un, rf, pq, pb, pc, pd []float64
	for _, d := range r.Dumps {
		un, rf = append(un, d.Unordered.Seconds), append(rf, d.ReadFloor.Seconds)
		pq, pc = append(pq, d.Parquet.Seconds), append(pc, d.Parquet.ExporterCPU)
		pb = append(pb, float64(d.ParquetBytes)/float64(max(r.Rows, 1)))
		pd = append(pd, float64(d.ParquetBytes)/1e6/d.ParquetSeconds)
	}
	s := dumpSummary{UnorderedSeconds: median(un), ReadFloorSeconds: median(rf), ParquetSeconds: median(pq),
		ParquetBytesRow: median(pb), ParquetCPU: median(pc), ParquetDownloadMB: median(pd)}
	s.JobOverUnordered, s.JobOverReadFloor = ratio(jobSeconds, s.UnorderedSeconds), ratio(jobSeconds, s.ReadFloorSeconds)
	s.ParquetOverDump = ratio(s.ParquetSeconds, orderedSeconds)
	s.ExporterUsPerRow = ratio(jobCPU*1e6, float64(r.Rows))
	s.ParquetUsPerRow = ratio(s.ParquetCPU*1e6, float64(r.Rows))
	return s
}

// print adds the dumps' rows to the results table.
func (s dumpSummary) print(row func(name, v, target string)) {
	row("unordered dump (what a user runs) s; job / it", fmt.Sprintf("%.2f; **%.2f**", s.UnorderedSeconds, s.JobOverUnordered), "<= 1.5")
	row("read floor (FORMAT Null) s; job / it", fmt.Sprintf("%.2f; %.2f", s.ReadFloorSeconds, s.JobOverReadFloor), "")
	row("exporter CPU per row µs (CSV job: CSV stored, JSON counted)", fmt.Sprintf("%.2f", s.ExporterUsPerRow), "<= 0.35")
	row("Parquet job s; / ordered dump", fmt.Sprintf("%.2f; **%.2f** (exporter CPU %.2f µs a row)", s.ParquetSeconds, s.ParquetOverDump, s.ParquetUsPerRow), "<= 1.1")
	row("Parquet file bytes per row; download MB/s", fmt.Sprintf("%.1f; %.0f", s.ParquetBytesRow, s.ParquetDownloadMB), "<= 12")
}
