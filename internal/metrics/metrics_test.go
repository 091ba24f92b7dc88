package metrics_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/metrics"
)

// Requests counted from many goroutines at once, each series first seen
// by several of them together, are all counted under their own labels:
// no series is made twice or lost while the table is replaced.
func TestRequestCountsConcurrent(t *testing.T) {
	r := metrics.New()
	const goroutines, each = 8, 500
	routes := []string{"/a", "/b/{x}", "unmatched"}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r.Request(routes[i%len(routes)], []string{"GET", "HEAD"}[g%2], 200+i%3, time.Millisecond)
			}
		})
	}
	wg.Wait()
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "exportd_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			k := ""
			for _, l := range m.GetLabel() {
				k += l.GetName() + "=" + l.GetValue() + " "
			}
			got[k] += m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{}
	for g := range goroutines {
		for i := range each {
			k := "code=" + strconv.Itoa(200+i%3) + " method=" + []string{"GET", "HEAD"}[g%2] + " route=" + routes[i%len(routes)] + " "
			want[k]++
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d series, want %d: %v", len(got), len(want), got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %v, want %v", k, got[k], w)
		}
	}
}

// BenchmarkRequest is the gateway's count of a poll: a series seen before.
func BenchmarkRequest(b *testing.B) {
	r := metrics.New()
	for _, route := range []string{"/a", "/b/{x}", "/v1/api/jobs/{ticket}", "unmatched"} {
		r.Request(route, "GET", 404, time.Millisecond)
		r.Request(route, "HEAD", 200, time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Request("/v1/api/jobs/{ticket}", "GET", 200, time.Millisecond)
	}
}
