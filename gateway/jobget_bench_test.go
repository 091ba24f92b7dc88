package gateway_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// BenchmarkJobGet is make bench's load phase without the network: GET
// /v1/api/jobs/{ticket} of a finished job, served by the gateway's Handler
// from a RequestCtx that is reset between requests as fasthttp resets it on
// a keep-alive connection. One op is one poll: routing, CORS, the caller,
// the cache and the body, without the client or the socket.
//
//	go test ./gateway -run '^$' -bench JobGet -benchmem
func BenchmarkJobGet(b *testing.B) {
	svc := testenv.StartService(b, testenv.ServiceOptions{})
	if err := svc.Store.SaveNetwork(context.Background(), chstore.DemoNetwork("array_of_things")); err != nil {
		b.Fatal(err)
	}
	ticket := svc.Submit(b, "array_of_things", "start_datetime=2001-01-01T00%3A00%3A00&end_datetime=2001-01-01T00%3A00%3A01")
	if j := svc.Wait(b, ticket, time.Minute); j.Status.Status != schema.StatusSuccess {
		b.Fatalf("job %s: %s, want Success", ticket, j.Status.Status)
	}
	svc.Settled(b, ticket)
	h := svc.Gw.Handler()
	var ctx fasthttp.RequestCtx
	var req fasthttp.Request
	req.SetRequestURI("/v1/api/jobs/" + ticket)
	req.Header.SetHost("127.0.0.1")
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	want := len(poll(b, h, &ctx))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Self()
	for b.Loop() {
		if n := len(poll(b, h, &ctx)); n != want {
			b.Fatalf("a body of %d bytes, the first was %d", n, want)
		}
	}
	// The process's CPU an op, which other work on the machine
	// lengthens less than ns/op.
	b.ReportMetric(float64((cputime.Self()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// poll serves ctx's request once and returns the body, failing b on any
// status but 200.
func poll(b *testing.B, h fasthttp.RequestHandler, ctx *fasthttp.RequestCtx) []byte {
	ctx.Response.Reset()
	ctx.ResetUserValues()
	h(ctx)
	if c := ctx.Response.StatusCode(); c != fasthttp.StatusOK {
		b.Fatalf("GET: %d %s", c, ctx.Response.Body())
	}
	return ctx.Response.Body()
}
