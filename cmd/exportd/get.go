package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// Exit codes of `exportd get`, so that scripts can tell what went wrong.
const (
	exitOther      = 1 // anything else: the server unreachable, a 5xx, interrupted
	exitBadRequest = 2 // the server refused the query (400, 404): fix the flags
	exitJobFailed  = 3 // the job ended in error, was cancelled or expired
	exitDownload   = 4 // the download failed or did not match the manifest
)

// exitError is an error with the process exit code it calls for.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// exitCode is the process exit code for err: 0 for nil, the code of an
// exitError, else 1.
func exitCode(err error) int {
	var e *exitError
	if err == nil {
		return 0
	}
	if errors.As(err, &e) {
		return e.code
	}
	return exitOther
}

// Client timing; variables so that tests can shorten them.
var (
	pollInterval  = 500 * time.Millisecond // between job polls without SSE
	sseSafetyPoll = 2 * time.Second        // between job polls while SSE wakes us
	retryDelay    = 500 * time.Millisecond // first wait before resuming a download
)

// getter is one `exportd get` run.
type getter struct {
	server   string
	format   string
	output   string
	quiet    bool
	json     bool
	retries  int
	gzip     bool // ask for a gzipped transfer: less to send, but no resuming
	noFollow bool // wait for success before downloading
	stdout   io.Writer
	stderr   io.Writer
	tty      bool // stderr is a terminal: draw live progress lines
	http     *http.Client
	lastJSON time.Time
}

// get submits an export with the query syntax as flags, follows the job to
// its end, downloads the result and verifies it against the manifest.
func get(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("exportd get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := getenv("EXPORTD_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	g := &getter{stdout: stdout, stderr: stderr}
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: exportd get [flags]

Submits a bulk export with the query as flags, follows the job, downloads
the result to a .part file as the job makes it (with --no-follow, once it
has succeeded; resuming with Range if the connection drops), verifies it
against the job's manifest (SHA-256 of every part) and renames it into place.

exit codes: 0 done, 1 other failure, 2 the server refused the request,
3 the job failed or was cancelled, 4 the download failed or did not verify.

flags:
`)
		fs.PrintDefaults()
	}
	network := fs.String("network", "array_of_things", "sensor network")
	features := fs.String("features", "", "features of interest, comma separated (feature or feature.property); default all")
	nodes := fs.String("nodes", "", "node ids, comma separated; default all")
	sensors := fs.String("sensors", "", "sensor names, comma separated; default all")
	geom := fs.String("geom", "", "GeoJSON polygon (or feature) the nodes must lie in")
	start := fs.String("start", "", "start_datetime (default: 7 days before end)")
	end := fs.String("end", "", "end_datetime (default: now)")
	fs.StringVar(&g.format, "format", schema.FormatCSV, "csv, json, ndjson or parquet")
	fs.StringVar(&g.output, "output", "", "file to write (default <network>.datadump.<format>, in the current directory)")
	fs.StringVar(&g.server, "server", server, "exportd base URL ($EXPORTD_SERVER)")
	fs.BoolVar(&g.quiet, "quiet", false, "print nothing but errors")
	fs.BoolVar(&g.json, "json", false, "machine-readable progress and summary: one JSON object a line on stdout")
	fs.IntVar(&g.retries, "retries", 5, "how many times to resume a broken download")
	fs.BoolVar(&g.gzip, "compressed", false, "transfer gzipped (about a tenth of the bytes) and unzip while writing; a broken transfer starts over")
	fs.BoolVar(&g.noFollow, "no-follow", false, "download only once the job has succeeded, instead of as it makes the file")
	ticket := fs.String("ticket", "", "follow and download an existing job instead of submitting one")
	apiKey := fs.String("api-key", getenv("EXPORTD_API_KEY"), "API key sent as Authorization: Bearer ($EXPORTD_API_KEY)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: exitBadRequest, err: err}
	}
	if fs.NArg() > 0 {
		return exitf(exitBadRequest, "unexpected arguments: %v", fs.Args())
	}
	g.format = strings.ToLower(g.format)
	if !schema.IsFormat(g.format) {
		return exitf(exitBadRequest, "--format must be csv, json, ndjson or parquet, not %q", g.format)
	}
	if *ticket != "" && !schema.IsTicket(*ticket) {
		return exitf(exitBadRequest, "--ticket %q is not a ticket (32 lowercase hex digits)", *ticket)
	}
	g.server = strings.TrimRight(g.server, "/")
	g.tty = !g.quiet && !g.json && isTerminal(stderr)
	g.http = &http.Client{Transport: bearer{key: *apiKey,
		rt: &http.Transport{DisableCompression: true, Proxy: http.ProxyFromEnvironment}}}
	defer func() {
		if err != nil && g.json {
			g.emit(true, map[string]any{"event": "error", "code": exitCode(err), "error": err.Error()})
		}
	}()

	q := url.Values{}
	for k, v := range map[string]string{"features": *features, "nodes": *nodes, "sensors": *sensors, "geom": *geom,
		"start_datetime": *start, "end_datetime": *end, "data_type": g.format} {
		if v != "" {
			q.Set(k, v)
		}
	}
	began := time.Now()
	job := &jobDoc{Ticket: *ticket}
	if *ticket == "" {
		if job, err = g.submit(ctx, *network, q); err != nil {
			return err
		}
		g.emit(true, map[string]any{"event": "submitted", "ticket": job.Ticket})
		if !g.quiet && !g.json {
			fmt.Fprintf(stderr, "ticket %s\n", job.Ticket)
		}
	}
	var res *downloaded
	if job, res, err = g.result(ctx, job, *network); err != nil { // follow.go
		return err
	}
	took := time.Since(began)
	g.emit(true, map[string]any{"event": "done", "ticket": job.Ticket, "file": g.output, "format": g.format,
		"rows": res.rows, "bytes": res.bytes, "parts": res.parts, "verified": res.verified, "seconds": took.Seconds()})
	if !g.quiet && !g.json {
		fmt.Fprintf(stderr, "wrote %s: %s rows, %s, verified by %s, in %s\n", g.output, commas(res.rows), sizeStr(res.bytes),
			res.verified, took.Round(time.Millisecond))
	}
	return nil
}

// bearer adds the API key, if any, to every request.
type bearer struct {
	key string
	rt  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.key != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.key)
	}
	return b.rt.RoundTrip(r)
}

// jobDoc is the job document as the client reads it.
type jobDoc struct {
	Ticket  string `json:"ticket"`
	Request struct {
		Query struct {
			Network string `json:"network"`
		} `json:"query"`
	} `json:"request"`
	Status struct {
		Status   string           `json:"status"`
		Progress *schema.Progress `json:"progress"`
	} `json:"status"`
	Result json.RawMessage `json:"result"`
	result struct {
		URL      string `json:"url"`
		Error    string `json:"error"`
		Rows     int64  `json:"rows"`
		Bytes    int64  `json:"bytes"`
		Parts    int    `json:"parts"`
		Manifest string `json:"manifest"`
	}
}

func (j *jobDoc) decode(b []byte) error {
	if err := json.Unmarshal(b, j); err != nil {
		return err
	}
	if len(j.Result) > 0 && j.Result[0] == '{' {
		return json.Unmarshal(j.Result, &j.result)
	}
	return nil
}

func (j *jobDoc) terminal() bool {
	switch j.Status.Status {
	case schema.StatusSuccess, schema.StatusError, schema.StatusCancelled, schema.StatusExpired:
		return true
	}
	return false
}

// apiGet GETs an API URL with a bounded wait and returns status and body.
func (g *getter) apiGet(ctx context.Context, u string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := g.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, body, err
}

func (g *getter) submit(ctx context.Context, network string, q url.Values) (*jobDoc, error) {
	u := g.server + "/v1/api/sensor-networks/" + url.PathEscape(network) + "/download"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	status, body, err := g.apiGet(ctx, u)
	if err != nil {
		return nil, exitf(exitOther, "submit: %v", err)
	}
	switch {
	case status == http.StatusOK:
	case status == http.StatusBadRequest || status == http.StatusNotFound || status == http.StatusUnprocessableEntity ||
		status == http.StatusUnauthorized || status == http.StatusForbidden:
		return nil, exitf(exitBadRequest, "the server refused the export (%d):\n%s", status, errorMessages(body))
	default:
		return nil, exitf(exitOther, "submit: status %d: %s", status, errorMessages(body))
	}
	var job jobDoc
	if err := job.decode(body); err != nil || !schema.IsTicket(job.Ticket) {
		return nil, exitf(exitOther, "submit: not a job document: %.200s", body)
	}
	return &job, nil
}

// errorMessages renders a Plenario error body, {"error": {"field":
// ["message", ...]}} or {"error": "message"}, one problem a line.
func errorMessages(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) == 0 {
		return strings.TrimSpace(string(body))
	}
	var s string
	if json.Unmarshal(e.Error, &s) == nil {
		return "  " + s
	}
	var fields map[string][]string
	if json.Unmarshal(e.Error, &fields) != nil {
		return strings.TrimSpace(string(body))
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, msg := range fields[k] {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "  %s: %s", k, msg)
		}
	}
	return b.String()
}

// wait follows a job to its end: woken by its server-sent events when the
// server has them, else polling, reading the job document each time.
func (g *getter) wait(ctx context.Context, ticket string) (*jobDoc, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kick := make(chan struct{}, 1)
	sseDone := make(chan struct{})
	go func() {
		defer close(sseDone)
		g.watchEvents(ctx, ticket, kick)
	}()
	sse := true
	var prog progressMeter
	failures := 0
	for polls := 0; ; polls++ {
		status, body, err := g.apiGet(ctx, g.server+"/v1/api/jobs/"+ticket)
		var job jobDoc
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err == nil && status == http.StatusOK && job.decode(body) == nil:
			failures = 0
			g.showJob(&job, &prog)
			if job.terminal() {
				g.endLine()
				if job.Status.Status != schema.StatusSuccess {
					reason := job.result.Error
					if reason == "" {
						reason = job.Status.Status
					}
					return nil, exitf(exitJobFailed, "job %s %s: %s", ticket, job.Status.Status, reason)
				}
				return &job, nil
			}
		case status == http.StatusNotFound:
			code := exitJobFailed // it was there, and is gone
			if polls == 0 {
				code = exitBadRequest // there is no such job
			}
			return nil, exitf(code, "job %s not found: %s", ticket, errorMessages(body))
		default:
			if failures++; failures > 20 {
				return nil, exitf(exitOther, "job %s: status %d: %v %s", ticket, status, err, errorMessages(body))
			}
		}
		wait := pollInterval
		if sse {
			wait = sseSafetyPoll
		}
		t := time.NewTimer(wait)
		select {
		case <-kick:
		case <-t.C:
		case <-sseDone:
			sse, sseDone = false, nil
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// watchEvents reads the job's event stream and signals kick at each event;
// it returns when the stream ends or the server has none.
func (g *getter) watchEvents(ctx context.Context, ticket string, kick chan<- struct{}) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.server+"/v1/api/jobs/"+ticket+"/events", nil)
	if err != nil {
		return
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := g.http.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	data := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "data:"):
			data = true
		case line == "" && data:
			data = false
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}
}

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
