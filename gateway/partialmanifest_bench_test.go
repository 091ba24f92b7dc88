package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// runningJob hands the service a job of parts parts, all stored (one row
// each) but one more planned, so that it stays processing.
func runningJob(tb testing.TB, svc *testenv.Service, parts int) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ticket := handJob(tb, svc)
	publish(tb, svc, schema.Event{Kind: schema.EventStarted, Ticket: ticket, Parts: parts + 1, Worker: "hand"})
	for p := 1; p <= parts; p++ {
		row := "001e0610b000,2026-09-30T00:00:" + fmt.Sprintf("%02d", p%60) + ",tmp112,temperature,temperature," + strconv.Itoa(p) + "\n"
		sp, err := testenv.PutPart(ctx, svc.Bus, ticket, p, func() int64 { return 1 }, strings.NewReader(row))
		if err != nil {
			tb.Fatal(err)
		}
		publish(tb, svc, schema.Event{Kind: schema.EventPartDone, Ticket: ticket, Part: p, Parts: parts + 1, Rows: 1, Bytes: sp.Bytes, Worker: "hand"})
	}
	testenv.Eventually(tb, time.Minute, fmt.Sprintf("%d parts of %s done", parts, ticket), func() bool { // as the gateway sees it
		p := svc.Job(tb, ticket).Status.Progress
		return p != nil && p.Done == parts
	})
	return ticket
}

// natsInMsgs is how many messages the NATS server has received.
func natsInMsgs(tb testing.TB, s *server.Server) int64 {
	tb.Helper()
	v, err := s.Varz(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return v.InMsgs
}

// BenchmarkPartialManifest: 16 clients poll the manifest of a running job
// of 500 stored parts, with the part infos asked of the store on every
// request (keep=false) and kept (keep=true). Reported: requests a second,
// messages the NATS server received per request, and the CPU of the
// process (gateway, NATS server and clients) per request.
//
//	go test ./gateway -run '^$' -bench PartialManifest -benchtime 400x -count 6
func BenchmarkPartialManifest(b *testing.B) {
	const parts = 500
	svc := testenv.StartService(b, testenv.ServiceOptions{NoExporter: true})
	ticket := runningJob(b, svc, parts)
	u := svc.URL + "/v1/api/jobs/" + ticket + "/manifest"
	for _, keep := range []bool{false, true} {
		b.Run("keep="+strconv.FormatBool(keep), func(b *testing.B) {
			gateway.KeepPartialParts(svc.Gw, keep)
			if code, body := testenv.Get(b, u); code != http.StatusOK || !strings.Contains(string(body), `"part":`+strconv.Itoa(parts)+`,`) {
				b.Fatalf("manifest: %d %.200s", code, body)
			}
			msgs, cpu, start := natsInMsgs(b, svc.NATS), cputime.Self().Seconds(), time.Now()
			b.ResetTimer()
			b.SetParallelism(8) // 16 clients on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := testenv.HTTPClient.Get(u)
					if err != nil {
						b.Error(err)
						return
					}
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != http.StatusOK {
						b.Errorf("manifest: %d %v", resp.StatusCode, err)
						return
					}
				}
			})
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(n/time.Since(start).Seconds(), "req/s")
			b.ReportMetric(float64(natsInMsgs(b, svc.NATS)-msgs)/n, "nats-msgs/op")
			b.ReportMetric((cputime.Self().Seconds()-cpu)*1e3/n, "cpu-ms/op")
		})
	}
}
