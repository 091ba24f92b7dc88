package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/latency"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// BenchmarkEventLatency measures the delay from an event's publication to
// its arrival at SSE clients of the gateway and at a plain NATS subscriber
// (its own connection), with the projector folding every event meanwhile.
// One progress event per iteration, paced as a busy job would be; reported
// as median and p99 in milliseconds.
//
//	go test ./gateway -run '^$' -bench EventLatency -benchtime 500x
func BenchmarkEventLatency(b *testing.B) {
	for _, bc := range []struct {
		watchers int
		every    time.Duration
	}{{1, 10 * time.Millisecond}, {100, 10 * time.Millisecond}, {1, 0}} {
		b.Run(fmt.Sprintf("watchers=%d/every=%s", bc.watchers, bc.every), func(b *testing.B) {
			svc := testenv.StartService(b, testenv.ServiceOptions{NoExporter: true})
			ticket := handJob(b, svc)
			publish(b, svc, schema.Event{Kind: schema.EventStarted, Ticket: ticket, Parts: 1, Estimate: int64(b.N) + 1})
			testenv.Eventually(b, 10*time.Second, "the job is processing", func() bool {
				rec, _, err := svc.Bus.Job(context.Background(), ticket)
				return err == nil && rec.Job.Status.Status == schema.StatusProcessing
			})
			p := latency.NewProbe(svc.Connect(b, svc.Auth.Subscriber), svc.URL)
			if err := p.Subscribe(); err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var streams []*latency.Stream
			for range bc.watchers {
				s, err := p.WatchSSE(ctx, ticket)
				if err != nil {
					b.Fatal(err)
				}
				<-s.Ready
				streams = append(streams, s)
			}

			b.ResetTimer()
			for i := range b.N {
				publish(b, svc, schema.Event{Kind: schema.EventProgress, Ticket: ticket, Part: 1, Rows: int64(i) + 1})
				if bc.every > 0 {
					time.Sleep(bc.every) // the load's shape, not a wait for a result
				}
			}
			publish(b, svc, schema.Event{Kind: schema.EventPartDone, Ticket: ticket, Part: 1, Rows: int64(b.N) + 1})
			for _, s := range streams {
				if err := s.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.WaitNATS(ctx, ticket); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			r := p.Result(ticket)
			ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
			b.ReportMetric(ms(r.SSE.Median), "sse-p50-ms")
			b.ReportMetric(ms(r.SSE.P99), "sse-p99-ms")
			b.ReportMetric(ms(r.NATS.Median), "nats-p50-ms")
			b.ReportMetric(ms(r.NATS.P99), "nats-p99-ms")
			b.Logf("SSE %s; NATS %s", r.SSE, r.NATS)
		})
	}
}
