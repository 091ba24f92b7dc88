package gateway_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/internal/testenv"
)

// BenchmarkSubmit submits make bench's ticket-burst request (a window of a
// second in 2001, each with an Idempotency-Key of its own) to a gateway
// with its projector and no exporter, from 16 connections at once. One op
// is one ticket; cpu-µs/ticket is this process's CPU: the client, the
// gateway with its watch, the projector and the embedded NATS server.
//
//	go test ./gateway -run '^$' -bench Submit -benchtime 4000x
func BenchmarkSubmit(b *testing.B) {
	svc := testenv.StartService(b, testenv.ServiceOptions{NoExporter: true})
	if err := svc.Store.SaveNetwork(context.Background(), chstore.DemoNetwork("array_of_things")); err != nil {
		b.Fatal(err)
	}
	addr := strings.TrimPrefix(svc.URL, "http://")
	client := &fasthttp.HostClient{Addr: addr, MaxConns: 16}
	const uri = "/v1/api/sensor-networks/array_of_things/download?end_datetime=2001-01-01T00%3A00%3A01&start_datetime=2001-01-01T00%3A00%3A00"
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var n atomic.Int64
	b.SetParallelism(8) // 16 clients on the 2 cores
	b.ResetTimer()
	cpu := cputime.Self()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(uri)
		req.Header.SetHost(addr)
		for pb.Next() {
			req.Header.Set("Idempotency-Key", "bench-"+run+"-"+strconv.FormatInt(n.Add(1), 10))
			if err := client.DoTimeout(req, resp, 10*time.Second); err != nil || resp.StatusCode() != 200 {
				b.Errorf("submit: %v, status %d: %s", err, resp.StatusCode(), resp.Body())
				return
			}
		}
	})
	b.ReportMetric(float64((cputime.Self()-cpu).Microseconds())/float64(b.N), "cpu-µs/ticket")
}
