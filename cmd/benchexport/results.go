package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plenario-next/exportd/internal/latency"
)

// results is bench/results.json: the raw runs and their medians.
type results struct {
	Config      config    `json:"config"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	BaselineSQL string    `json:"baseline_sql"`

	Rows     int64         `json:"rows"`
	Baseline []baselineRun `json:"baseline_runs"`
	Jobs     []jobRun      `json:"job_runs"`
	Dumps    []dumpRuns    `json:"dump_runs"`   // beside each job run: other baselines, a Parquet job
	Follow   []followRun   `json:"follow_runs"` // exportd get, submit to file (follow.go)

	SmallRows int64     `json:"linearity_small_rows"`
	LargeRows int64     `json:"linearity_large_rows"`
	SmallJobs []float64 `json:"linearity_small_seconds"`
	LargeJobs []float64 `json:"linearity_large_seconds"`
	// The same jobs' submit to their recorded success (jobRun.EndSeconds).
	SmallEnds []float64 `json:"linearity_small_end_seconds"`
	LargeEnds []float64 `json:"linearity_large_end_seconds"`

	Events          []latency.Result `json:"event_delays"`
	Webhooks        []latency.Stats  `json:"webhook_delays"`
	Fair            *fairRun         `json:"fair_share,omitempty"`
	Query           loadResult       `json:"query_1000"`
	Aggregate       loadResult       `json:"aggregate_hourly"`
	JobGet          loadResult       `json:"load_job_get"`
	JobGetBare      loadResult       `json:"load_job_get_bare"`
	Create          loadResult       `json:"load_create"`
	CreateBare      loadResult       `json:"load_create_bare"`
	GatewayLoadPeak int64            `json:"gateway_peak_rss_under_load"`
	// After the creation burst: the time until every job it made
	// succeeded, and the CPU of gateway, exporter, NATS and ClickHouse
	// over burst and drain per ticket, in µs.
	JobGetRuns         []float64 `json:"load_job_get_runs_req_per_s"`
	CreateRuns         []float64 `json:"load_create_runs_req_per_s"`
	CreateDrainSeconds float64   `json:"create_drain_s"`
	CreateCPUPerTicket float64   `json:"create_cpu_us_per_ticket"`

	Ingest *ingestResult `json:"ingest,omitempty"`

	Summary summary `json:"summary"`

	ticket string
}

// summary holds the medians the table shows.
type summary struct {
	Rows              int64         `json:"rows"`
	BaselineSeconds   float64       `json:"baseline_s"`
	JobSeconds        float64       `json:"job_s"`
	JobRatio          float64       `json:"job_over_baseline"`
	JobRatioPaired    float64       `json:"job_over_baseline_paired"` // median of each run's own ratio
	Dumps             dumpSummary   `json:"dumps"`
	Follow            followSummary `json:"follow"`
	BaselineBytes     int64         `json:"baseline_bytes"`
	CSVBytes          int64         `json:"csv_bytes"`
	DownloadMBps      float64       `json:"download_csv_mb_per_s"`
	JSONSeconds       float64       `json:"download_json_s"`
	CSVSeconds        float64       `json:"download_csv_s"`
	JSONOverCSV       float64       `json:"json_over_csv"`
	ExporterPeakMiB   float64       `json:"exporter_peak_rss_mib"`
	GatewayBeforeMiB  float64       `json:"gateway_rss_before_download_mib"`
	GatewayPeakMiB    float64       `json:"gateway_peak_rss_mib"`
	SmallRows         int64         `json:"small_rows"`
	LargeRows         int64         `json:"large_rows"`
	SmallSeconds      float64       `json:"small_s"`
	LargeSeconds      float64       `json:"large_s"`
	LargeOverSmall    float64       `json:"large_over_small"`
	LargeSmallPaired  float64       `json:"large_over_small_paired"`
	LargeOverSmallEnd float64       `json:"large_over_small_recorded_end"`
	JobGetRPS         float64       `json:"job_get_req_per_s"`
	JobGetP99         float64       `json:"job_get_p99_ms"`
	JobGetBareRPS     float64       `json:"job_get_bare_req_per_s"`
	JobGetRatio       float64       `json:"job_get_over_bare"`
	CreateRPS         float64       `json:"create_req_per_s"`
	CreateP99         float64       `json:"create_p99_ms"`
	CreateBareRPS     float64       `json:"create_bare_req_per_s"`
	CreateRatio       float64       `json:"create_over_bare"`
	QueryP50          float64       `json:"query_p50_ms"`
	QueryP99          float64       `json:"query_p99_ms"`
	AggregateP50      float64       `json:"aggregate_p50_ms"`
	AggregateP99      float64       `json:"aggregate_p99_ms"`
	// Event delays, publication to arrival, medians over the runs (ms).
	SSEMedian  float64 `json:"event_sse_median_ms"`
	SSEP99     float64 `json:"event_sse_p99_ms"`
	NATSMedian float64 `json:"event_nats_median_ms"`
	NATSP99    float64 `json:"event_nats_p99_ms"`
	// Webhook delivery delays, publication to arrival, medians (ms).
	WebhookMedian float64 `json:"webhook_median_ms"`
	WebhookP99    float64 `json:"webhook_p99_ms"`
	// CPU seconds, medians: where the machine's two cores went.
	BaselineCHCPU     float64 `json:"baseline_clickhouse_cpu_s"`
	BaselineClientCPU float64 `json:"baseline_client_cpu_s"`
	JobCHCPU          float64 `json:"job_clickhouse_cpu_s"`
	JobExporterCPU    float64 `json:"job_exporter_cpu_s"`
	JobNATSCPU        float64 `json:"job_nats_cpu_s"`
	DownloadGWCPU     float64 `json:"download_gateway_cpu_s"`
	DownloadNATSCPU   float64 `json:"download_nats_cpu_s"`
	DownloadClientCPU float64 `json:"download_client_cpu_s"`
	JSONGWCPU         float64 `json:"download_json_gateway_cpu_s"`
	JSONNATSCPU       float64 `json:"download_json_nats_cpu_s"`
	JSONClientCPU     float64 `json:"download_json_client_cpu_s"`
}

func (r *results) summarize() {
	var bs, js, mbps, jsonS, csvS, xp, gb, gp []float64
	var bb, cb, bch, bcl, jch, jx, jn, dg, dn, dc, jg, jnc, jc []float64
	for _, b := range r.Baseline {
		bs = append(bs, b.Seconds)
		bb = append(bb, float64(b.Bytes))
		bch = append(bch, b.ClickHouseCPU)
		bcl = append(bcl, b.ClientCPU)
	}
	for _, j := range r.Jobs {
		jch, jx, jn = append(jch, j.ClickHouseCPU), append(jx, j.ExporterCPU), append(jn, j.NATSCPU)
		dg, dn, dc = append(dg, j.DownloadGatewayCPU), append(dn, j.DownloadNATSCPU), append(dc, j.DownloadClientCPU)
		jg, jnc, jc = append(jg, j.JSONGatewayCPU), append(jnc, j.JSONNATSCPU), append(jc, j.JSONClientCPU)
		js = append(js, j.Seconds)
		mbps = append(mbps, j.CSVMBps)
		jsonS = append(jsonS, j.JSONSeconds)
		csvS = append(csvS, j.CSVSeconds)
		xp = append(xp, float64(j.ExporterPeak)/(1<<20))
		gb = append(gb, float64(j.GatewayBefore)/(1<<20))
		gp = append(gp, float64(j.GatewayPeak)/(1<<20))
		cb = append(cb, float64(j.CSVBytes))
	}
	s := summary{Rows: r.Rows, BaselineSeconds: median(bs), JobSeconds: median(js), DownloadMBps: median(mbps),
		BaselineBytes: int64(median(bb)), CSVBytes: int64(median(cb)),
		JSONSeconds: median(jsonS), CSVSeconds: median(csvS), ExporterPeakMiB: median(xp), GatewayBeforeMiB: median(gb),
		GatewayPeakMiB: median(gp), SmallRows: r.SmallRows, LargeRows: r.LargeRows, SmallSeconds: median(r.SmallJobs),
		LargeSeconds: median(r.LargeJobs), JobGetRPS: r.JobGet.OKPerSec, JobGetP99: r.JobGet.P99ms,
		JobGetBareRPS: r.JobGetBare.OKPerSec, CreateRPS: r.Create.OKPerSec, CreateP99: r.Create.P99ms,
		CreateBareRPS: r.CreateBare.OKPerSec, QueryP50: r.Query.P50ms, QueryP99: r.Query.P99ms,
		AggregateP50: r.Aggregate.P50ms, AggregateP99: r.Aggregate.P99ms,
		BaselineCHCPU: median(bch), BaselineClientCPU: median(bcl), JobCHCPU: median(jch), JobExporterCPU: median(jx),
		JobNATSCPU: median(jn), DownloadGWCPU: median(dg), DownloadNATSCPU: median(dn), DownloadClientCPU: median(dc),
		JSONGWCPU: median(jg), JSONNATSCPU: median(jnc), JSONClientCPU: median(jc)}
	var sm, sp, nm, np []float64
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, e := range r.Events {
		sm, sp, nm, np = append(sm, ms(e.SSE.Median)), append(sp, ms(e.SSE.P99)), append(nm, ms(e.NATS.Median)), append(np, ms(e.NATS.P99))
	}
	s.SSEMedian, s.SSEP99, s.NATSMedian, s.NATSP99 = median(sm), median(sp), median(nm), median(np)
	var wm, wp []float64
	for _, w := range r.Webhooks {
		wm, wp = append(wm, ms(w.Median)), append(wp, ms(w.P99))
	}
	s.WebhookMedian, s.WebhookP99 = median(wm), median(wp)
	s.JobRatio = ratio(s.JobSeconds, s.BaselineSeconds)
	// Runs alternate, so each pair saw about the same machine: the median
	// of the pairs' ratios drifts less than the ratio of the medians.
	var pj, pl []float64
	for i := range min(len(r.Jobs), len(r.Baseline)) {
		pj = append(pj, ratio(r.Jobs[i].Seconds, r.Baseline[i].Seconds))
	}
	for i := range min(len(r.SmallJobs), len(r.LargeJobs)) {
		pl = append(pl, ratio(r.LargeJobs[i], r.SmallJobs[i]))
	}
	s.JobRatioPaired, s.LargeSmallPaired = median(pj), median(pl)
	s.Dumps = r.summarizeDumps(s.JobSeconds, s.BaselineSeconds, s.JobExporterCPU)
	s.Follow = summarizeFollow(r.Follow)
	s.JSONOverCSV = ratio(s.JSONSeconds, s.CSVSeconds)
	s.LargeOverSmall = ratio(s.LargeSeconds, s.SmallSeconds)
	s.LargeOverSmallEnd = ratio(median(r.LargeEnds), median(r.SmallEnds))
	s.JobGetRatio = ratio(s.JobGetRPS, s.JobGetBareRPS)
	s.CreateRatio = ratio(s.CreateRPS, s.CreateBareRPS)
	r.Summary = s
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// print writes the table of medians as Markdown, the targets
// beside.
func (r *results) print(w io.Writer) {
	s := r.Summary
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug)
	row := func(name, v, target string) { fmt.Fprintf(tw, " %s\t %s\t %s\t\n", name, v, target) }
	row("measure", fmt.Sprintf("median of %d runs", r.Config.Runs), "target")
	row("---", "---", "---")
	row("rows", fmt.Sprint(s.Rows), "")
	row("baseline (clickhouse-client) s", fmt.Sprintf("%.2f", s.BaselineSeconds), "")
	row("job, submit to success s", fmt.Sprintf("%.2f", s.JobSeconds), "")
	row("**job / baseline**", fmt.Sprintf("**%.2f** (paired runs %.2f)", s.JobRatio, s.JobRatioPaired), "<= 1.0 (issue 16)")
	s.Dumps.print(row)
	s.Follow.print(row)
	row("download CSV MB/s", fmt.Sprintf("%.0f (%.0f MB in %.2f s)", s.DownloadMBps, float64(s.CSVBytes)/1e6, s.CSVSeconds), ">= 500")
	row("exporter peak RSS MiB", fmt.Sprintf("%.0f", s.ExporterPeakMiB), "<= 150")
	row("gateway RSS before / peak during download MiB", fmt.Sprintf("%.0f / %.0f", s.GatewayBeforeMiB, s.GatewayPeakMiB), "flat")
	row("JSON / CSV download time", fmt.Sprintf("%.2f (%.2f s / %.2f s)", s.JSONOverCSV, s.JSONSeconds, s.CSVSeconds), "<= 1.5")
	row("large / small job time", fmt.Sprintf("%.2f (%.2f s / %.2f s; paired %.2f)", s.LargeOverSmall, s.LargeSeconds,
		s.SmallSeconds, s.LargeSmallPaired),
		fmt.Sprintf("8-11 (rows %d / %d)", s.LargeRows, s.SmallRows))
	row("large / small job time, to the recorded success", fmt.Sprintf("%.2f (%.3f s / %.3f s; not polled)", s.LargeOverSmallEnd,
		median(r.LargeEnds), median(r.SmallEnds)), "")
	row("GET /jobs/{ticket} req/s", fmt.Sprintf("%.0f (runs %s; bare fasthttp %.0f, ratio %.2f)", s.JobGetRPS, rates(r.JobGetRuns), s.JobGetBareRPS, s.JobGetRatio), ">= 30000")
	row("GET /jobs/{ticket} p99 ms", fmt.Sprintf("%.1f (bare %.1f)", s.JobGetP99, r.JobGetBare.P99ms), "<= 20")
	row("ticket creation req/s", fmt.Sprintf("%.0f (runs %s; bare fasthttp %.0f, ratio %.2f)", s.CreateRPS, rates(r.CreateRuns), s.CreateBareRPS, s.CreateRatio), ">= 5000")
	row("ticket creation p99 ms", fmt.Sprintf("%.1f (%d non-200)", s.CreateP99, r.Create.Other), "")
	row("ticket creation: drain after the burst s / CPU µs per ticket", fmt.Sprintf("%.1f / %.0f",
		r.CreateDrainSeconds, r.CreateCPUPerTicket), "")
	row("CPU s, ticket creation: gateway / exporter / nats / clickhouse", fmt.Sprintf("%.1f / %.1f / %.1f / %.1f",
		r.Create.GatewayCPU, r.Create.ExporterCPU, r.Create.NATSCPU, r.Create.ClickHouseCPU), "")
	if f := r.Fair; f != nil {
		row("fair share: small job after six whole-table jobs s / the six s", fmt.Sprintf("%.2f / %.2f (%d rows)", f.SmallSeconds, f.BigSeconds, f.SmallRows), "<= 2 / as before")
	}
	row("/query 1000 rows p50 / p99 ms", fmt.Sprintf("%.1f / %.1f", s.QueryP50, s.QueryP99), "<= 20 / <= 100")
	row("/aggregate hourly avg, one node, whole table p50 / p99 ms", fmt.Sprintf("%.1f / %.1f", s.AggregateP50, s.AggregateP99), "< 1000")
	row("event delay, SSE (10 clients) median / p99 ms", fmt.Sprintf("%.2f / %.2f", s.SSEMedian, s.SSEP99), "")
	row("event delay, NATS subscriber median / p99 ms", fmt.Sprintf("%.2f / %.2f", s.NATSMedian, s.NATSP99), "")
	row("webhook delivery delay median / p99 ms", fmt.Sprintf("%.2f / %.2f", s.WebhookMedian, s.WebhookP99), "")
	row("CPU s, baseline: clickhouse / client", fmt.Sprintf("%.1f / %.1f", s.BaselineCHCPU, s.BaselineClientCPU), "")
	row("CPU s, job: clickhouse / exporter / nats", fmt.Sprintf("%.1f / %.1f / %.1f", s.JobCHCPU, s.JobExporterCPU, s.JobNATSCPU), "")
	row("CPU s, CSV download: gateway / nats / client", fmt.Sprintf("%.1f / %.1f / %.1f", s.DownloadGWCPU, s.DownloadNATSCPU, s.DownloadClientCPU), "")
	row("CPU s, JSON download: gateway / nats / client", fmt.Sprintf("%.1f / %.1f / %.1f", s.JSONGWCPU, s.JSONNATSCPU, s.JSONClientCPU), "")
	if r.Ingest != nil {
		r.Ingest.rows(row)
	}
	tw.Flush()
}

// rates lists request rates, rounded.
func rates(rs []float64) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strings.Join(out, ", ")
}
