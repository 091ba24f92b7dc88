package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
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
	network := fs.String("network", "array_of_things", "sensor network")
	features := fs.String("features", "", "features of interest, comma separated (feature or feature.property); default all")
	nodes := fs.String("nodes", "", "node ids, comma separated; default all")
	sensors := fs.String("sensors", "", "sensor names, comma separated; default all")
	geom := fs.String("geom", "", "GeoJSON polygon (or feature) the nodes must lie in")
	start := fs.String("start", "", "start_datetime (default: 7 days before end)")
	end := fs.String("end", "", "end_datetime (default: now)")
	fs.StringVar(&g.format, "format", schema.FormatCSV, "csv, json or ndjson")
	fs.StringVar(&g.output, "output", "", "file to write (default <network>.datadump.<format>, in the current directory)")
	fs.StringVar(&g.server, "server", server, "exportd base URL ($EXPORTD_SERVER)")
	fs.BoolVar(&g.quiet, "quiet", false, "print nothing but errors")
	fs.BoolVar(&g.json, "json", false, "machine-readable progress and summary: one JSON object a line on stdout")
	fs.IntVar(&g.retries, "retries", 5, "how many times to resume a broken download")
	fs.BoolVar(&g.gzip, "compressed", false, "transfer gzipped (about a tenth of the bytes) and unzip while writing; a broken transfer starts over")
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
	if g.format != schema.FormatCSV && g.format != schema.FormatJSON && g.format != schema.FormatNDJSON {
		return exitf(exitBadRequest, "--format must be csv, json or ndjson, not %q", g.format)
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
		"start_datetime": *start, "end_datetime": *end} {
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
	if job, err = g.wait(ctx, job.Ticket); err != nil {
		return err
	}
	if g.output == "" {
		n := job.Request.Query.Network
		if n == "" {
			n = *network
		}
		g.output = n + ".datadump." + g.format
	}
	m, err := g.manifest(ctx, job)
	if err != nil {
		return err
	}
	res, err := g.download(ctx, job, m)
	if err != nil {
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

// manifest fetches the job's manifest; a server without manifests gives
// nil, and the download is then checked by size and row count alone.
func (g *getter) manifest(ctx context.Context, job *jobDoc) (*schema.Manifest, error) {
	u := job.result.Manifest
	if u == "" {
		u = g.server + "/v1/api/jobs/" + job.Ticket + "/manifest"
	}
	status, body, err := g.apiGet(ctx, u)
	if err != nil {
		return nil, exitf(exitDownload, "manifest: %v", err)
	}
	if status == http.StatusNotFound && job.result.Manifest == "" {
		return nil, nil
	}
	if status != http.StatusOK {
		return nil, exitf(exitDownload, "manifest: status %d: %s", status, errorMessages(body))
	}
	var m schema.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, exitf(exitDownload, "manifest: %v", err)
	}
	return &m, nil
}

type downloaded struct {
	rows, bytes int64
	parts       int
	verified    string
}

// download fetches the result into output+".part", resuming with Range
// when the connection breaks (CSV; the other formats start over), checks
// it, and renames it into place.
func (g *getter) download(ctx context.Context, job *jobDoc, m *schema.Manifest) (*downloaded, error) {
	u := job.result.URL
	if g.format != schema.FormatCSV {
		u += "?data_type=" + g.format
	}
	ranges := g.format == schema.FormatCSV
	wantRows := job.result.Rows
	if m != nil {
		wantRows = m.Rows
		for _, o := range m.Output {
			if o.Format == g.format {
				u, ranges = o.URL, o.Ranges
			}
		}
	}
	if g.gzip {
		ranges = false // a range is of the identity bytes
	}
	tmp := g.output + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, exitf(exitDownload, "%v", err)
	}
	ok := false
	defer func() {
		f.Close()
		if !ok {
			os.Remove(tmp)
		}
	}()

	st := &dlState{f: f, m: m, total: -1, verify: g.format == schema.FormatCSV && m != nil}
	if err := st.reset(); err != nil {
		return nil, exitf(exitDownload, "%v", err)
	}
	bar := &byteBar{g: g, start: time.Now()}
	for attempt := 0; ; attempt++ {
		err := g.fetch(ctx, u, ranges, st, bar)
		if err == nil {
			break
		}
		var fatal *exitError
		if errors.As(err, &fatal) || ctx.Err() != nil || attempt >= g.retries {
			g.endLine()
			return nil, exitf(exitDownload, "download %s: %v (after %d attempts, %s of %s)", u, err, attempt+1, sizeStr(st.written), sizeStr(st.total))
		}
		if !ranges { // no resuming: start again from the first byte
			if err := st.reset(); err != nil {
				return nil, exitf(exitDownload, "%v", err)
			}
		}
		g.emit(true, map[string]any{"event": "retry", "attempt": attempt + 1, "offset": st.written, "error": err.Error()})
		if g.tty {
			fmt.Fprintf(g.stderr, "\r\033[Kconnection broken at %s (%v); resuming\n", sizeStr(st.written), err)
		}
		t := time.NewTimer(retryDelay << min(attempt, 5))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	written, total := st.written, st.total
	bar.draw(written, total, true)
	g.endLine()
	if total >= 0 && written != total {
		return nil, exitf(exitDownload, "download %s: got %d bytes, want %d", u, written, total)
	}
	if err := f.Sync(); err != nil {
		return nil, exitf(exitDownload, "%v", err)
	}
	res := &downloaded{bytes: written}
	switch {
	case st.ver != nil:
		if err := st.ver.finish(); err != nil {
			return nil, &exitError{code: exitDownload, err: err}
		}
		res.rows, res.parts, res.verified = st.ver.rows, len(m.Parts), "sha256"
	default:
		rows, err := countRows(tmp, g.format)
		if err != nil {
			return nil, exitf(exitDownload, "%s: %v", tmp, err)
		}
		res.rows, res.verified = rows, "rows"
		if m != nil {
			res.parts = len(m.Parts)
		}
	}
	if res.rows != wantRows {
		return nil, exitf(exitDownload, "downloaded %d rows, the job has %d", res.rows, wantRows)
	}
	if err := f.Close(); err != nil {
		return nil, exitf(exitDownload, "%v", err)
	}
	if err := os.Rename(tmp, g.output); err != nil {
		return nil, exitf(exitDownload, "%v", err)
	}
	ok = true
	return res, nil
}

// dlState is a download in progress: the file, how much of it is written,
// and the verifier that has seen exactly those bytes.
type dlState struct {
	f       *os.File
	m       *schema.Manifest
	verify  bool
	ver     *csvVerifier
	written int64
	total   int64 // the whole file's size, -1 until known
	etag    string
}

// reset empties the file to start from its first byte.
func (s *dlState) reset() error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	s.written = 0
	if s.verify {
		s.ver = newCSVVerifier(s.m)
	}
	return nil
}

// fetch makes one download request from where st stopped and appends what
// comes. An *exitError is not worth retrying; other errors are.
func (g *getter) fetch(ctx context.Context, u string, ranges bool, st *dlState, bar *byteBar) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return exitf(exitDownload, "%v", err)
	}
	if g.gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	} else {
		req.Header.Set("Accept-Encoding", "identity")
	}
	if st.written > 0 && ranges {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(st.written, 10)+"-")
		if st.etag != "" {
			req.Header.Set("If-Range", st.etag)
		}
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		// The whole file: the first answer, or a resume the server would
		// not honour (the file changed, or it has no ranges).
		if st.written > 0 {
			if err := st.reset(); err != nil {
				return exitf(exitDownload, "%v", err)
			}
		}
		st.total = resp.ContentLength
	case http.StatusPartialContent:
		var start, last, size int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &last, &size); err != nil || start != st.written {
			return exitf(exitDownload, "bad Content-Range %q for offset %d", resp.Header.Get("Content-Range"), st.written)
		}
		st.total = size
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		err := fmt.Errorf("status %d: %s", resp.StatusCode, errorMessages(body))
		if resp.StatusCode >= 500 {
			return err
		}
		return &exitError{code: exitDownload, err: err}
	}
	if tag := resp.Header.Get("ETag"); tag != "" {
		st.etag = tag
	}
	body := io.Reader(resp.Body)
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return err
		}
		body = zr
		st.total = -1 // the compressed length says nothing of the file's
		if st.m != nil && st.verify {
			st.total = st.m.Bytes
		}
	}
	buf := make([]byte, 256<<10)
	for {
		k, rerr := body.Read(buf)
		if k > 0 {
			if _, err := st.f.Write(buf[:k]); err != nil {
				return exitf(exitDownload, "%v", err)
			}
			if st.ver != nil {
				st.ver.Write(buf[:k])
			}
			st.written += int64(k)
			bar.draw(st.written, st.total, false)
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// csvVerifier hashes a CSV download as it is written: the header and each
// part against the manifest's SHA-256, counting rows.
type csvVerifier struct {
	segs []segment
	i    int // current segment
	h    hash.Hash
	pos  int64
	rows int64
	bad  []string
}

type segment struct {
	name       string
	start, end int64
	sha256     string
}

func newCSVVerifier(m *schema.Manifest) *csvVerifier {
	v := &csvVerifier{h: sha256.New()}
	v.segs = append(v.segs, segment{"header", 0, m.Header.Bytes, m.Header.SHA256})
	for _, p := range m.Parts {
		v.segs = append(v.segs, segment{"part " + strconv.Itoa(p.Part), p.Offset, p.Offset + p.Bytes, p.SHA256})
	}
	return v
}

func (v *csvVerifier) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		for v.i < len(v.segs) && v.pos >= v.segs[v.i].end {
			v.close()
		}
		if v.i >= len(v.segs) {
			v.pos += int64(len(p))
			return n, nil // past the manifest: finish reports it
		}
		k := min(int64(len(p)), v.segs[v.i].end-v.pos)
		v.h.Write(p[:k])
		if v.i > 0 {
			v.rows += int64(countNewlines(p[:k]))
		}
		v.pos += k
		p = p[k:]
	}
	return n, nil
}

// close checks the current segment's digest and moves to the next.
func (v *csvVerifier) close() {
	s := v.segs[v.i]
	if got := hex.EncodeToString(v.h.Sum(nil)); got != s.sha256 {
		v.bad = append(v.bad, fmt.Sprintf("%s (bytes %d-%d): sha256 %s, manifest %s", s.name, s.start, s.end-1, got, s.sha256))
	}
	v.h.Reset()
	v.i++
}

func (v *csvVerifier) finish() error {
	for v.i < len(v.segs) && v.pos >= v.segs[v.i].end {
		v.close()
	}
	end := v.segs[len(v.segs)-1].end
	if v.pos != end {
		v.bad = append(v.bad, fmt.Sprintf("the file has %d bytes, the manifest %d", v.pos, end))
	}
	if len(v.bad) > 0 {
		return fmt.Errorf("the download does not match the manifest:\n  %s", strings.Join(v.bad, "\n  "))
	}
	return nil
}

func countNewlines(p []byte) int {
	n := 0
	for _, c := range p {
		if c == '\n' {
			n++
		}
	}
	return n
}

// countRows counts the observed values in a downloaded file: CSV lines
// after the header, or the results of each JSON observation.
func countRows(path, format string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	if format == schema.FormatCSV {
		var n int64
		buf := make([]byte, 1<<20)
		for {
			k, err := br.Read(buf)
			n += int64(countNewlines(buf[:k]))
			if err == io.EOF {
				return max(n-1, 0), nil
			}
			if err != nil {
				return 0, err
			}
		}
	}
	dec := json.NewDecoder(br)
	if format == schema.FormatJSON {
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return 0, fmt.Errorf("not a JSON array: %v", err)
		}
	}
	var n int64
	for dec.More() {
		var o struct {
			Results map[string]json.RawMessage `json:"results"`
		}
		if err := dec.Decode(&o); err != nil {
			return 0, err
		}
		n += int64(len(o.Results))
	}
	return n, nil
}

// byteBar draws the download's progress on a terminal, and in --json mode
// reports it once a second.
type byteBar struct {
	g     *getter
	start time.Time
	last  time.Time
}

func (b *byteBar) draw(done, total int64, final bool) {
	now := time.Now()
	if !final && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	rate := float64(done) / max(now.Sub(b.start).Seconds(), 1e-3)
	b.g.emit(final, map[string]any{"event": "download", "bytes": done, "total": total, "bytes_per_s": int64(rate)})
	if !b.g.tty {
		return
	}
	const width = 30
	line := ""
	if total > 0 {
		fill := int(float64(width) * float64(done) / float64(total))
		fill = min(max(fill, 0), width)
		line = "[" + strings.Repeat("#", fill) + strings.Repeat(".", width-fill) + "] " + sizeStr(done) + " / " + sizeStr(total)
	} else {
		line = sizeStr(done)
	}
	line += "  " + sizeStr(int64(rate)) + "/s"
	if total > done && rate > 0 {
		line += "  ETA " + eta(float64(total-done)/rate)
	}
	fmt.Fprint(b.g.stderr, "\r\033[K"+line)
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
