package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestReadyz: ready while NATS and ClickHouse answer, 503 (and still alive)
// once NATS is gone, so an orchestrator stops sending traffic to it.
func TestReadyz(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	if code, body := testenv.Get(t, svc.URL+"/readyz"); code != 200 || !bytes.Contains(body, []byte(`"ready"`)) {
		t.Fatalf("readyz: got %d %s, want 200 ready", code, body)
	}
	svc.NATS.Shutdown()
	var last *http.Response
	var lastBody []byte
	testenv.Eventually(t, 10*time.Second, "readyz answers 503 with NATS down", func() bool {
		resp, err := http.Get(svc.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		lastBody, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		last = resp
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	if !bytes.Contains(lastBody, []byte("NATS")) || last.Header.Get("Retry-After") == "" {
		t.Fatalf("readyz with NATS down: got %s (Retry-After %q), want an error naming NATS and a Retry-After",
			lastBody, last.Header.Get("Retry-After"))
	}
	if code, body := testenv.Get(t, svc.URL+"/healthz"); code != 200 {
		t.Fatalf("healthz with NATS down: got %d %s, want 200: the process is alive", code, body)
	}
}

// scrape GETs /metrics and parses the text exposition format.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: got %d %q, want 200 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	return mf
}

// sample returns the value of name's series with exactly these labels
// among its labels, and whether there is one.
func sample(mf map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f, ok := mf[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsAfterAnExport: after one export, the metrics say what
// happened: requests under their route templates, the rows and bytes the
// job document reports, one partition duration per part, the job's events.
func TestMetricsAfterAnExport(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 5000})
	if err := svc.Store.Seed(context.Background(), chstore.DemoNetwork("array_of_things"), 30_000,
		time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	ticket := svc.Submit(t, "array_of_things", "start_datetime=2026-09-01T00:00:00&end_datetime=2026-10-01T00:00:00")
	job := svc.Wait(t, ticket, time.Minute)
	if job.Status.Status != schema.StatusSuccess {
		t.Fatalf("got status %q (%v), want success", job.Status.Status, job.Result)
	}
	res := job.Result.(map[string]any)
	rows, bytes_, parts := res["rows"].(float64), res["bytes"].(float64), res["parts"].(float64)
	if rows == 0 || parts < 2 {
		t.Fatalf("fixture too small: %v rows in %v parts", rows, parts)
	}
	testenv.Get(t, svc.URL+"/v1/api/jobs/"+ticket)
	testenv.Get(t, svc.URL+"/no/such/"+ticket)
	if req, err := http.NewRequest("BREW", svc.URL+"/v1/api/jobs/"+ticket, nil); err == nil {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}

	var mf map[string]*dto.MetricFamily
	testenv.Eventually(t, 10*time.Second, "the succeeded event counted and the last part acked", func() bool {
		mf = scrape(t, svc.URL)
		n, _ := sample(mf, "exportd_events_total", "kind", "succeeded")
		inFlight, _ := sample(mf, "exportd_consumer_ack_pending_messages", "consumer", "exporter")
		return n == 1 && inFlight == 0
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"exportd_exported_rows_total", nil, rows},
		{"exportd_exported_bytes_total", nil, bytes_},
		{"exportd_exported_parts_total", nil, parts},
		{"exportd_part_duration_seconds", nil, parts},
		{"exportd_events_total", []string{"kind", "queued"}, 1},
		{"exportd_events_total", []string{"kind", "started"}, 1},
		{"exportd_events_total", []string{"kind", "part_done"}, parts},
		{"exportd_part_redeliveries_total", nil, 0},
		{"exportd_consumer_up", []string{"consumer", "exporter"}, 1},
		{"exportd_consumer_up", []string{"consumer", "planner"}, 1},
		{"exportd_consumer_up", []string{"consumer", "projector"}, 1},
		{"exportd_consumer_pending_messages", []string{"consumer", "exporter"}, 0},
		{"exportd_consumer_ack_pending_messages", []string{"consumer", "exporter"}, 0},
		{"exportd_http_requests_total", []string{"route", "/v1/api/sensor-networks/{network}/download", "method", "GET", "code", "200"}, 1},
		{"exportd_http_requests_total", []string{"route", "unmatched", "method", "GET", "code", "404"}, 1},
		{"exportd_http_requests_total", []string{"route", "/v1/api/jobs/{ticket}", "method", "other", "code", "405"}, 1},
	} {
		got, ok := sample(mf, c.name, c.labels...)
		if !ok || got != c.want {
			t.Errorf("%s%v: got %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	// Polling counts under the template, never under the raw path.
	if got, _ := sample(mf, "exportd_http_requests_total", "route", "/v1/api/jobs/{ticket}", "code", "200"); got < 1 {
		t.Errorf("job polls: got %v under /v1/api/jobs/{ticket}, want at least 1", got)
	}
	if got, _ := sample(mf, "exportd_http_request_duration_seconds", "route", "/v1/api/jobs/{ticket}"); got < 1 {
		t.Errorf("job poll latencies: got %v observations, want at least 1", got)
	}
	for _, m := range mf["exportd_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if strings.Contains(l.GetValue(), ticket) {
				t.Errorf("a label holds a raw path: %s=%q", l.GetName(), l.GetValue())
			}
		}
	}
}

// TestMetricsShowBacklog: a job that no planner picks up shows as lag of
// the planner's consumer, which is what an operator alerts on.
func TestMetricsShowBacklog(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	if err := svc.Store.Seed(context.Background(), chstore.DemoNetwork("array_of_things"), 1000,
		time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	// Two different requests (the same one twice would be the same job).
	svc.Submit(t, "array_of_things", "features=temperature&start_datetime=2026-09-01T00:00:00&end_datetime=2026-10-01T00:00:00")
	svc.Submit(t, "array_of_things", "features=magnetic_field&start_datetime=2026-09-01T00:00:00&end_datetime=2026-10-01T00:00:00")
	// The server counts a consumer's pending messages as it is told of
	// them, a moment after the publish is acknowledged: poll.
	var got float64
	var ok bool
	testenv.Eventually(t, 10*time.Second, "planner backlog of 2 in the metrics", func() bool {
		got, ok = sample(scrape(t, svc.URL), "exportd_consumer_pending_messages", "stream", "EXPORT_EVENTS", "consumer", "planner")
		return got == 2
	})
	if !ok {
		t.Fatalf("planner backlog: got %v (present %v), want 2", got, ok)
	}
}

// TestOpenAPIDescribesTheRealRoutes: /openapi.json documents every route
// the gateway serves and nothing it does not. The served routes are found
// by asking the real handler: a documented operation must not get the
// router's own 404 ("Not found: <path>") or a 405.
func TestOpenAPIDescribesTheRealRoutes(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	code, body := testenv.Get(t, svc.URL+"/openapi.json")
	if code != 200 {
		t.Fatalf("openapi.json: got %d", code)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("got openapi %q, want 3.x", doc.OpenAPI)
	}
	checkRefs(t, body)

	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	served := map[string]bool{}
	for _, r := range gateway.Routes() {
		served[r.Method+" "+r.Path] = true
		if !documented[r.Method+" "+r.Path] {
			t.Errorf("served but not documented: %s %s", r.Method, r.Path)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("documented but not in gateway.Routes(): %s", op)
		}
	}

	// Ask the handler itself.
	samples := strings.NewReplacer("{network}", "array_of_things", "{node}", "000", "{sensor}", "tmp112",
		"{feature}", "temperature", "{ticket}", strings.Repeat("0", 32), "{id}", "0123456789abcdef")
	probe := func(method, path string) (int, string) {
		req, err := http.NewRequest(method, svc.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp.StatusCode, string(b)
	}
	routerMiss := func(code int, body string) bool {
		return code == 404 && strings.HasPrefix(body, `{"error":"Not found: `)
	}
	if code, body := probe("GET", "/v1/api/no-such-thing"); !routerMiss(code, body) {
		t.Fatalf("the probe cannot tell a router miss: got %d %s", code, body)
	}
	for op := range documented {
		method, path, _ := strings.Cut(op, " ")
		if strings.Contains(path, "{") && strings.Contains(samples.Replace(path), "{") {
			t.Errorf("%s: a path parameter with no sample value", op)
			continue
		}
		code, body := probe(method, samples.Replace(path))
		if routerMiss(code, body) || code == http.StatusMethodNotAllowed {
			t.Errorf("documented but not served: %s (got %d %s)", op, code, body)
		}
	}
}

// checkRefs fails the test for a $ref that names nothing in the document.
func checkRefs(t *testing.T, raw []byte) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	resolve := func(ref string) bool {
		var cur any = doc
		for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, ok := cur.(map[string]any)
			if !ok {
				return false
			}
			if cur, ok = m[p]; !ok {
				return false
			}
		}
		return true
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" && !resolve(s) {
					t.Errorf("dangling $ref %q", s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}
