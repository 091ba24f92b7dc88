package main

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// loadResult is what a load run measured.
type loadResult struct {
	Requests  int     `json:"requests"`
	OK        int     `json:"ok"`     // answered with the expected status
	Other     int     `json:"other"`  // answered with another status (e.g. 429)
	Errors    int     `json:"errors"` // transport errors
	Seconds   float64 `json:"seconds"`
	ReqPerSec float64 `json:"req_per_s"` // answered requests (any status) per second
	OKPerSec  float64 `json:"ok_per_s"`  // expected-status answers per second
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	// CPU seconds each process spent during the run (exportd's runs only).
	GatewayCPU    float64 `json:"gateway_cpu_s,omitempty"`
	ExporterCPU   float64 `json:"exporter_cpu_s,omitempty"`
	NATSCPU       float64 `json:"nats_cpu_s,omitempty"`
	ClickHouseCPU float64 `json:"clickhouse_cpu_s,omitempty"`
}

// maxSamples bounds the latencies kept per connection.
const maxSamples = 1 << 20

// load sends GET uri to addr from conns keep-alive connections for d and
// measures throughput and latency. With unique, every request carries its
// own Idempotency-Key, so that each is a new submission.
func load(addr, uri string, want int, conns int, d time.Duration, unique bool) loadResult {
	// Keys of one load apart from every other's: a key repeated within the
	// idempotency window gets the earlier ticket, not a new job.
	loadID := strconv.FormatInt(time.Now().UnixNano(), 36)
	client := &fasthttp.HostClient{Addr: addr, MaxConns: conns, ReadBufferSize: 64 << 10,
		MaxIdleConnDuration: time.Minute}
	type counts struct {
		ok, other, errs int
		lat             []time.Duration
	}
	res := make([]counts, conns)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI(uri)
			req.Header.SetHost(addr)
			c := &res[i]
			c.lat = make([]time.Duration, 0, 4096)
			for n := 0; ; n++ {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				if unique {
					req.Header.Set("Idempotency-Key", "bench-"+strconv.Itoa(i)+"-"+strconv.Itoa(n)+"-"+loadID)
				}
				err := client.DoTimeout(req, resp, 10*time.Second)
				el := time.Since(t0)
				switch {
				case err != nil:
					c.errs++
					continue
				case resp.StatusCode() == want:
					c.ok++
				default:
					c.other++
				}
				if len(c.lat) < maxSamples {
					c.lat = append(c.lat, el)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	var r loadResult
	var all []time.Duration
	for _, c := range res {
		r.OK += c.ok
		r.Other += c.other
		r.Errors += c.errs
		all = append(all, c.lat...)
	}
	r.Requests = r.OK + r.Other + r.Errors
	r.Seconds = elapsed
	r.ReqPerSec = float64(r.OK+r.Other) / elapsed
	r.OKPerSec = float64(r.OK) / elapsed
	r.P50ms, r.P99ms = percentile(all, 0.50), percentile(all, 0.99)
	return r
}

func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(float64(len(d)-1) * p)
	return float64(d[i]) / float64(time.Millisecond)
}

// bareServer serves body for every request: the ceiling of what fasthttp
// does on this machine, measured in the same run as the gateway.
func bareServer(addr string, body []byte) (*fasthttp.Server, error) {
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}, Name: "bare"}
	ln, err := listenTCP(addr)
	if err != nil {
		return nil, err
	}
	go func() { _ = s.Serve(ln) }()
	return s, nil
}
