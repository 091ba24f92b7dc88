package main

// `exportd get`: its flags, its exit codes and the run from submit to file.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
has succeeded; resuming with Range if the connection drops), checks every
part against the job's manifest as it is written (SHA-256 of every CSV
part) and renames the file into place.

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
	fs.BoolVar(&g.gzip, "compressed", false, "transfer gzipped (about a tenth of the bytes, compressed by the server as it sends) and unzip while writing; a broken transfer starts over. Without it CSV comes as stored, s2-compressed (about a seventh)")
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
		"rows": res.rows, "bytes": res.bytes, "parts": res.parts, "verified": res.verified, "read_back": res.readBack, "seconds": took.Seconds()})
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
