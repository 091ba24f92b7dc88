package main

// What `exportd get` shows while it runs: progress lines on a terminal,
// JSON lines with --json, and the numbers in them.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// progressMeter turns successive row counts into a rate.
type progressMeter struct {
	t0    time.Time
	rows0 int64
}

func (p *progressMeter) rate(rows int64) float64 {
	now := time.Now()
	if p.t0.IsZero() {
		p.t0, p.rows0 = now, rows
		return 0
	}
	if d := now.Sub(p.t0).Seconds(); d > 0.2 {
		return float64(rows-p.rows0) / d
	}
	return 0
}

func (g *getter) showJob(job *jobDoc, prog *progressMeter) {
	var done, total int
	var rows, est int64
	if p := job.Status.Progress; p != nil {
		done, total, rows, est = p.Done, p.Total, p.Rows, p.Estimate
	}
	rate := prog.rate(rows)
	g.emit(job.terminal(), map[string]any{"event": "progress", "ticket": job.Ticket, "status": job.Status.Status,
		"rows": rows, "estimate": est, "parts_done": done, "parts_total": total, "rows_per_s": int64(rate)})
	if !g.tty {
		return
	}
	line := fmt.Sprintf("%-10s %s rows", job.Status.Status, commas(rows))
	if est > 0 {
		line += " of ~" + commas(est)
	}
	if total > 0 {
		line += fmt.Sprintf("  parts %d/%d", done, total)
	}
	if rate > 0 {
		line += "  " + commas(int64(rate)) + " rows/s"
		if est > rows {
			line += "  ETA " + eta(float64(est-rows)/rate)
		}
	}
	fmt.Fprint(g.stderr, "\r\033[K"+line)
}

func (g *getter) endLine() {
	if g.tty {
		fmt.Fprintln(g.stderr)
	}
}

// emit writes one JSON line in --json mode; progress lines at most once a
// second unless force.
func (g *getter) emit(force bool, v map[string]any) {
	if !g.json {
		return
	}
	if !force && time.Since(g.lastJSON) < time.Second {
		return
	}
	g.lastJSON = time.Now()
	b, _ := json.Marshal(v)
	fmt.Fprintf(g.stdout, "%s\n", b)
}

func sizeStr(n int64) string {
	if n < 0 {
		return "?"
	}
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, u := float64(n), 0
	for f >= unit && u < 4 {
		f /= unit
		u++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGT"[u-1])
}

func eta(sec float64) string {
	return (time.Duration(sec) * time.Second).Round(time.Second).String()
}

// commas writes n with thousands separators.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// isTerminal reports whether w is a character device, as a terminal is.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
