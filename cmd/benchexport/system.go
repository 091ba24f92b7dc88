package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/latency"
	"github.com/plenario-next/exportd/internal/natsauth"
	"github.com/plenario-next/exportd/schema"
)

// system is exportd running as child processes.
type system struct {
	cfg     config
	natsURL string
	// natsSubscriber is the read-only identity the event latency is
	// measured with, as a watcher of a real deployment would be.
	natsSubscriber natsauth.Identity
	httpAddr       string
	base           string // http://host:port
	nats           *child
	gateway        *child
	exporter       *child
	// The exporter's and the gateway's own listeners for /debug/pprof/
	// (EXPORTD_METRICS_ADDR), and the NATS server's, profiled during the load phases when
	// BENCH_PROFILE_DIR is set.
	exporterOps, gatewayOps, natsOps string
	store                            *chstore.Store
	chPID                            int // clickhouse-server, for its CPU time; 0 if unknown
}

func startSystem(ctx context.Context, cfg config, root, tmp string) (_ *system, err error) {
	s := &system{chPID: clickhousePID(root, cfg.ClickHouse), cfg: cfg}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	if s.store, err = chstore.Open(ctx, chstore.Config{Addr: cfg.ClickHouse, Database: cfg.DB}); err != nil {
		return nil, err
	}
	natsAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	s.natsURL = "nats://" + natsAddr
	if s.httpAddr, err = freePort(); err != nil {
		return nil, err
	}
	s.base = "http://" + s.httpAddr
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if s.natsOps, err = freePort(); err != nil {
		return nil, err
	}
	_, profPort, _ := net.SplitHostPort(s.natsOps)
	auth, err := natsauth.Load(filepath.Join(tmp, "nats", "auth"), nil) // the child reads the same
	if err != nil {
		return nil, err
	}
	s.natsSubscriber = auth.Subscriber
	if s.nats, err = startChild("nats-server", filepath.Join(tmp, "nats.log"), os.Environ(), self, "nats-server",
		natsAddr, filepath.Join(tmp, "nats"), profPort); err != nil {
		return nil, err
	}
	if err := waitTCP(ctx, natsAddr, 30*time.Second, s.nats); err != nil {
		return nil, err
	}
	env := append(os.Environ(), "EXPORTD_CLICKHOUSE_ADDR="+cfg.ClickHouse, "EXPORTD_CLICKHOUSE_DB="+cfg.DB,
		"EXPORTD_DEMO_ROWS=0", "EXPORTD_DATA_DIR="+filepath.Join(tmp, "data"), "EXPORTD_HTTP_ADDR="+s.httpAddr,
		"EXPORTD_NATS_LISTEN="+natsAddr, "EXPORTD_NATS_URL=nats://"+natsAddr, "EXPORTD_LOG_FORMAT=json",
		"EXPORTD_NATS_USER="+auth.Service.User, "EXPORTD_NATS_PASSWORD="+auth.Service.Password,
		"EXPORTD_URL_ROOT="+s.base+"/",
		// One client makes every request here: no per-client cap on
		// active jobs during the ticket-creation load.
		"EXPORTD_MAX_ACTIVE=0", webhookAllow)
	if cfg.Concurrency != "" {
		env = append(env, "EXPORTD_CONCURRENCY="+cfg.Concurrency)
	}
	env = slices.Clip(env) // each child appends its own listener to it
	bin := filepath.Join(root, "bin", "exportd")
	if s.exporterOps, err = freePort(); err != nil {
		return nil, err
	}
	if s.gatewayOps, err = freePort(); err != nil {
		return nil, err
	}
	if s.exporter, err = startChild("exportd exporter", filepath.Join(tmp, "exporter.log"),
		append(env, "EXPORTD_METRICS_ADDR="+s.exporterOps), bin, "exporter"); err != nil {
		return nil, err
	}
	if s.gateway, err = startChild("exportd gateway", filepath.Join(tmp, "gateway.log"),
		append(env, "EXPORTD_METRICS_ADDR="+s.gatewayOps), bin, "gateway"); err != nil {
		return nil, err
	}
	// Ready: the gateway answers /readyz, and the exporter has had the
	// time to bind its consumers (a job submitted before waits for it).
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := s.gateway.exited(); err != nil {
			return nil, err
		}
		if err := s.exporter.exited(); err != nil {
			return nil, err
		}
		if resp, err := httpClient.Get(s.base + "/readyz"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("gateway not ready after 60s (logs in %s)", tmp)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *system) stop() {
	for _, c := range []*child{s.gateway, s.exporter, s.nats} {
		if c != nil {
			c.terminate()
		}
	}
	if s.store != nil {
		s.store.Close()
	}
}

var jobSeq int

// jobDoc is the part of a job document the benchmark reads.
type jobDoc struct {
	Ticket string `json:"ticket"`
	Status struct {
		Status   string           `json:"status"`
		Meta     schema.JobMeta   `json:"meta"`
		Progress *schema.Progress `json:"progress"`
	} `json:"status"`
	Result json.RawMessage `json:"result"`
}

// recorded returns, from the document of a finished job, the time from
// start to its recorded end and from its queueing to its start (0 where a
// time is missing).
func (d jobDoc) recorded(start time.Time) (end, plan float64) {
	at := func(s string) (time.Time, bool) {
		t, err := time.Parse(schema.MetaTimeLayout, s)
		return t, err == nil
	}
	m := d.Status.Meta
	if t, ok := at(m.EndTime); ok {
		end = t.Sub(start).Seconds()
	}
	q, ok1 := at(m.QueueTime)
	st, ok2 := at(m.StartTime)
	if ok1 && ok2 {
		plan = st.Sub(q).Seconds()
	}
	return end, plan
}

// runID keeps the Idempotency-Keys of different benchmark runs apart.
var runID = strconv.FormatInt(time.Now().UnixNano(), 36)

func (s *system) getJSON(ctx context.Context, path string, v any) (int, error) {
	var hdr http.Header
	if strings.Contains(path, "/download?") {
		// A new job every time: without its own key, a repeat of the same
		// request would get the earlier job back (idempotent submission).
		jobSeq++
		hdr = http.Header{"Idempotency-Key": {"bench-job-" + strconv.Itoa(jobSeq) + "-" + runID}}
	}
	code, body, err := get(ctx, s.base+path, hdr)
	if err != nil {
		return code, err
	}
	if code != http.StatusOK {
		return code, fmt.Errorf("GET %s: %d %s", path, code, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			return code, fmt.Errorf("GET %s: %w", path, err)
		}
	}
	return code, nil
}

// get fetches url whole.
func get(ctx context.Context, url string, hdr http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

type jobRun struct {
	Ticket  string  `json:"ticket"`
	Rows    int64   `json:"rows"`
	Parts   int     `json:"parts"`
	Seconds float64 `json:"seconds"` // submit to success seen
	// Submit to the success as the job's document records it (its
	// endTime: the projector's clock, this host's), without the poll's
	// wait of up to 50 ms; and queued to started (the plan), from the same.
	EndSeconds    float64 `json:"end_seconds"`
	PlanSeconds   float64 `json:"plan_seconds"`
	ExporterPeak  int64   `json:"exporter_peak_rss"`
	CSVRows       int64   `json:"csv_rows,omitempty"`
	CSVBytes      int64   `json:"csv_bytes,omitempty"`
	CSVSeconds    float64 `json:"csv_seconds,omitempty"`
	CSVMBps       float64 `json:"csv_mb_per_s,omitempty"`
	JSONBytes     int64   `json:"json_bytes,omitempty"`
	JSONSeconds   float64 `json:"json_seconds,omitempty"`
	GatewayBefore int64   `json:"gateway_rss_before_download,omitempty"`
	GatewayPeak   int64   `json:"gateway_peak_rss,omitempty"`
	// CPU seconds spent by each process from submit to success, and by
	// the gateway, NATS and this client during each download.
	ExporterCPU        float64 `json:"exporter_cpu_s"`
	NATSCPU            float64 `json:"nats_cpu_s"`
	ClickHouseCPU      float64 `json:"clickhouse_cpu_s"`
	GatewayCPU         float64 `json:"gateway_cpu_s"`
	DownloadGatewayCPU float64 `json:"download_gateway_cpu_s,omitempty"`
	DownloadNATSCPU    float64 `json:"download_nats_cpu_s,omitempty"`
	DownloadClientCPU  float64 `json:"download_client_cpu_s,omitempty"`
	JSONGatewayCPU     float64 `json:"download_json_gateway_cpu_s,omitempty"`
	JSONNATSCPU        float64 `json:"download_json_nats_cpu_s,omitempty"`
	JSONClientCPU      float64 `json:"download_json_client_cpu_s,omitempty"`
}

// jobTimeout bounds one job's wait.
const jobTimeout = 30 * time.Minute

// job submits a download of w, polls every 50 ms until it succeeds, and
// then, if download, fetches it as CSV and as JSON.
func (s *system) job(ctx context.Context, network string, w window, download bool) (jobRun, error) {
	s.exporter.resetPeak()
	stopProfiles := s.profileJob(ctx, w)
	xc, nc, cc, gc := cpuSeconds(s.exporter.pid()), cpuSeconds(s.nats.pid()), cpuSeconds(s.chPID), cpuSeconds(s.gateway.pid())
	start := time.Now()
	var doc jobDoc
	if _, err := s.getJSON(ctx, "/v1/api/sensor-networks/"+network+"/download?"+w.values().Encode(), &doc); err != nil {
		return jobRun{}, err
	}
	r := jobRun{Ticket: doc.Ticket}
	deadline := start.Add(jobTimeout)
	for doc.Status.Status != schema.StatusSuccess {
		switch doc.Status.Status {
		case schema.StatusError, schema.StatusCancelled, schema.StatusExpired:
			return r, fmt.Errorf("job %s ended %s: %s", r.Ticket, doc.Status.Status, doc.Result)
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("job %s not done after %s", r.Ticket, jobTimeout)
		}
		if err := s.exporter.exited(); err != nil {
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if _, err := s.getJSON(ctx, "/v1/api/jobs/"+r.Ticket, &doc); err != nil {
			return r, err
		}
	}
	r.Seconds = time.Since(start).Seconds()
	r.EndSeconds, r.PlanSeconds = doc.recorded(start)
	r.ExporterPeak = s.exporter.peak()
	r.ExporterCPU, r.NATSCPU = cpuSeconds(s.exporter.pid())-xc, cpuSeconds(s.nats.pid())-nc
	r.ClickHouseCPU, r.GatewayCPU = cpuSeconds(s.chPID)-cc, cpuSeconds(s.gateway.pid())-gc
	stopProfiles()
	if p := doc.Status.Progress; p != nil {
		r.Rows, r.Parts = p.Rows, p.Total
	}
	if !download {
		return r, nil
	}
	s.gateway.resetPeak()
	r.GatewayBefore = s.gateway.rss()
	gc, nc, me := cpuSeconds(s.gateway.pid()), cpuSeconds(s.nats.pid()), cpuSeconds(os.Getpid())
	var profiles sync.WaitGroup
	if s.cfg.ProfileDir != "" {
		profiles.Go(func() { s.profileAll(ctx, s.cfg, "download") })
	}
	lines, size, took, err := s.download(ctx, r.Ticket, "csv")
	profiles.Wait()
	if err != nil {
		return r, err
	}
	r.DownloadGatewayCPU, r.DownloadNATSCPU = cpuSeconds(s.gateway.pid())-gc, cpuSeconds(s.nats.pid())-nc
	r.DownloadClientCPU = cpuSeconds(os.Getpid()) - me
	r.CSVRows, r.CSVBytes, r.CSVSeconds = lines-1, size, took
	r.CSVMBps = float64(size) / 1e6 / took
	if s.cfg.ProfileDir != "" {
		profiles.Go(func() { s.profileAll(ctx, s.cfg, "download-json") })
	}
	gc, nc, me = cpuSeconds(s.gateway.pid()), cpuSeconds(s.nats.pid()), cpuSeconds(os.Getpid())
	_, r.JSONBytes, r.JSONSeconds, err = s.download(ctx, r.Ticket, "json")
	r.JSONGatewayCPU, r.JSONNATSCPU = cpuSeconds(s.gateway.pid())-gc, cpuSeconds(s.nats.pid())-nc
	r.JSONClientCPU = cpuSeconds(os.Getpid()) - me
	profiles.Wait()
	if err != nil {
		return r, err
	}
	r.GatewayPeak = s.gateway.peak()
	return r, nil
}

// download reads a job's datadump to the end, counting lines and bytes.
func (s *system) download(ctx context.Context, ticket, format string) (lines, size int64, seconds float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/v1/api/datadump/"+ticket+"?data_type="+format, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, 0, 0, fmt.Errorf("datadump %s: %d %s", format, resp.StatusCode, body)
	}
	lines, size, err = countLines(resp.Body)
	seconds = time.Since(start).Seconds()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("datadump %s: %w", format, err)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != size {
		return 0, 0, 0, fmt.Errorf("datadump %s: %d bytes of the announced %d", format, size, resp.ContentLength)
	}
	if h := resp.Header.Get("X-Row-Count"); h != "" && format == "csv" {
		if n, _ := strconv.ParseInt(h, 10, 64); n != lines-1 {
			return 0, 0, 0, fmt.Errorf("datadump: %d rows, X-Row-Count says %s", lines-1, h)
		}
	}
	return lines, size, seconds, nil
}

// countWindow is the newest 1/div of the seeded span, with its row count.
func (s *system) countWindow(ctx context.Context, cfg config, n *schema.Network, whole window, div int) (window, error) {
	w := window{Start: seedEnd.Add(-seedSpan / time.Duration(div)), End: whole.End}
	q, err := w.query(n)
	if err != nil {
		return w, err
	}
	w.Rows, err = s.store.Count(ctx, &q)
	return w, err
}

// underLoad runs f, a load run, and records the CPU seconds each process
// spent meanwhile. With BENCH_PROFILE_DIR set, it also takes a CPU profile
// of the gateway, the exporter and the NATS server for the run's length,
// written there as <name>-<process>.pprof.
func (s *system) underLoad(ctx context.Context, cfg config, name string, f func() loadResult) loadResult {
	var profiles sync.WaitGroup
	if cfg.ProfileDir != "" {
		profiles.Go(func() { s.profileAll(ctx, cfg, name) })
	}
	pids := []int{s.gateway.pid(), s.exporter.pid(), s.nats.pid(), s.chPID}
	before := cpuOf(pids)
	r := f()
	cpu := cpuOf(pids)
	for i := range cpu {
		cpu[i] -= before[i]
	}
	r.GatewayCPU, r.ExporterCPU, r.NATSCPU, r.ClickHouseCPU = cpu[0], cpu[1], cpu[2], cpu[3]
	logf("  CPU s: gateway %.1f, exporter %.1f, nats %.1f, clickhouse %.1f", cpu[0], cpu[1], cpu[2], cpu[3])
	profiles.Wait()
	return r
}

// cpuOf is the CPU seconds of each of pids so far.
func cpuOf(pids []int) []float64 {
	v := make([]float64, len(pids))
	for i, pid := range pids {
		v[i] = cpuSeconds(pid)
	}
	return v
}

// succeeded is the exporter's count of succeeded events folded so far.
func (s *system) succeeded(ctx context.Context) (float64, error) {
	_, body, err := get(ctx, "http://"+s.exporterOps+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, `exportd_events_total{kind="succeeded"} `); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, nil // none yet
}

// eventLatency runs a job of w watched by watchers SSE clients and a plain
// NATS subscriber, and returns how long its events took from publication
// to arrival on each path.
func (s *system) eventLatency(ctx context.Context, cfg config, w window, watchers int) (latency.Result, error) {
	nc, err := nats.Connect(s.natsURL, nats.UserInfo(s.natsSubscriber.User, s.natsSubscriber.Password))
	if err != nil {
		return latency.Result{}, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	return latency.Measure(ctx, nc, s.base, watchers, func(ctx context.Context) (string, error) {
		var doc jobDoc
		if _, err := s.getJSON(ctx, "/v1/api/sensor-networks/"+cfg.Network+"/download?"+w.values().Encode(), &doc); err != nil {
			return "", err
		}
		return doc.Ticket, nil
	})
}
