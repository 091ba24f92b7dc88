package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// The follow phase (issue 17) measures what a user of `exportd get` waits
// for: from the submit to the verified file on disk, the download followed
// as the job makes it, against the ordered clickhouse-client dump of the
// same rows to a file, run just before. The target is a ratio of at most
// 1.1: the file is the job's time plus the transfer of its last part (the
// client checks each part's SHA-256 as it writes it, and reads nothing
// back: ReadBack says if it had to).

// followRun is one run of the follow phase.
type followRun struct {
	Baseline baselineRun `json:"baseline"`
	Ticket   string      `json:"ticket"`
	Rows     int64       `json:"rows"`
	Bytes    int64       `json:"bytes"`
	// Seconds is exportd get's wall time, submit to file; JobSeconds the
	// job's own, queued to succeeded, from its document.
	Seconds    float64 `json:"get_s"`
	JobSeconds float64 `json:"job_s"`
	Ratio      float64 `json:"get_over_baseline"`
	// ReadBack is the bytes get read back from its file to check them
	// after success: 0 when every part was checked as it came.
	ReadBack int64 `json:"read_back_bytes"`
	// CPU seconds meanwhile: exportd get itself, and the service's
	// processes (gateway, exporter, NATS, ClickHouse), to show what the
	// job shares two cores with.
	GetCPU        float64 `json:"get_cpu_s"`
	GatewayCPU    float64 `json:"gateway_cpu_s"`
	ExporterCPU   float64 `json:"exporter_cpu_s"`
	NATSCPU       float64 `json:"nats_cpu_s"`
	ClickHouseCPU float64 `json:"clickhouse_cpu_s"`
}

// followPhase runs the baseline, then `exportd get` for w's rows. The
// window starts run seconds later than w's (no row lies there), so that
// each run is a new job rather than the earlier one's ticket.
func (s *system) followPhase(ctx context.Context, chArgs []string, root, tmp string, w window, run int) (followRun, error) {
	var r followRun
	var err error
	if r.Baseline, err = baseline(ctx, chArgs, filepath.Join(tmp, "baseline.csv"), s.chPID); err != nil {
		return r, err
	}
	out := filepath.Join(tmp, "follow.csv")
	defer os.Remove(out)
	start := w.Start.Add(time.Duration(run+1) * time.Second)
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "exportd"), "get", "--server", s.base, "--json",
		"--network", s.cfg.Network, "--format", "csv", "--output", out,
		"--start", start.UTC().Format(schema.DatetimeLayout), "--end", w.End.UTC().Format(schema.DatetimeLayout))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	pids := []int{s.gateway.pid(), s.exporter.pid(), s.nats.pid(), s.chPID}
	before := cpuOf(pids)
	t0 := time.Now()
	err = cmd.Run()
	r.Seconds = time.Since(t0).Seconds()
	if err != nil {
		return r, fmt.Errorf("exportd get: %w: %s%s", err, stderr.String(), stdout.String())
	}
	cpu := cpuOf(pids)
	r.GetCPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	r.GatewayCPU, r.ExporterCPU, r.NATSCPU, r.ClickHouseCPU = cpu[0]-before[0], cpu[1]-before[1], cpu[2]-before[2], cpu[3]-before[3]
	var done struct {
		Event, Ticket, Verified string
		Rows, Bytes             int64
		ReadBack                int64 `json:"read_back"`
	}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		_ = json.Unmarshal(sc.Bytes(), &done) // the last line is the summary
	}
	if done.Event != "done" || done.Verified != "sha256" || done.Rows != w.Rows {
		return r, fmt.Errorf("exportd get: last line %+v, want done, verified by sha256, %d rows", done, w.Rows)
	}
	r.Ticket, r.Rows, r.Bytes, r.ReadBack = done.Ticket, done.Rows, done.Bytes, done.ReadBack
	var doc struct {
		Status struct {
			Meta schema.JobMeta `json:"meta"`
		} `json:"status"`
	}
	if _, err := s.getJSON(ctx, "/v1/api/jobs/"+r.Ticket, &doc); err != nil {
		return r, err
	}
	q, err1 := time.Parse(schema.MetaTimeLayout, doc.Status.Meta.QueueTime)
	e, err2 := time.Parse(schema.MetaTimeLayout, doc.Status.Meta.EndTime)
	if err1 == nil && err2 == nil {
		r.JobSeconds = e.Sub(q).Seconds()
	}
	r.Ratio = ratio(r.Seconds, r.Baseline.Seconds)
	return r, nil
}

// followSummary is the medians of the follow phase.
type followSummary struct {
	BaselineSeconds float64 `json:"baseline_s"`
	GetSeconds      float64 `json:"get_s"`
	JobSeconds      float64 `json:"job_s"`
	Ratio           float64 `json:"get_over_baseline"`
	RatioPaired     float64 `json:"get_over_baseline_paired"`
}

func summarizeFollow(runs []followRun) followSummary {
	var b, g, j, p []float64
	for _, r := range runs {
		b, g, j, p = append(b, r.Baseline.Seconds), append(g, r.Seconds), append(j, r.JobSeconds), append(p, r.Ratio)
	}
	s := followSummary{BaselineSeconds: median(b), GetSeconds: median(g), JobSeconds: median(j), RatioPaired: median(p)}
	s.Ratio = ratio(s.GetSeconds, s.BaselineSeconds)
	return s
}

// print adds the phase's row to the results table, when it ran.
func (s followSummary) print(row func(name, v, target string)) {
	if s.GetSeconds == 0 {
		return
	}
	row("exportd get (follow), submit to file s; / ordered dump", fmt.Sprintf("%.2f; **%.2f** (paired %.2f; the job %.2f s, the dump %.2f s)",
		s.GetSeconds, s.Ratio, s.RatioPaired, s.JobSeconds, s.BaselineSeconds), "<= 1.1")
}
