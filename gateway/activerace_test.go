package gateway_test

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/plenario-next/exportd/internal/testenv"
)

// TestActiveJobLimitAtOnce: a client sending many different exports at
// once gets at most MaxActive of them accepted, the rest a 429. Each
// request counted the client's jobs before any other was added, so that
// more passed the limit (3 of 30 at once, limit 2, in one round of four).
// A round a client, each with a key of its own.
func TestActiveJobLimitAtOnce(t *testing.T) {
	const maxActive, atOnce, rounds = 2, 30, 6
	var keys []string
	for r := range rounds {
		keys = append(keys, "key-"+strconv.Itoa(r))
	}
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true, MaxActive: maxActive, APIKeys: keys})
	seedSmall(t, svc)
	for _, key := range keys {
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range atOnce {
			wg.Go(func() {
				u := svc.URL + "/v1/api/sensor-networks/array_of_things/download?end_datetime=2026-09-30T00:00:" + strconv.Itoa(10+i)
				switch resp, _ := do(t, "GET", u, map[string]string{"Authorization": "Bearer " + key}); resp.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					t.Errorf("got %d, want 200 or 429", resp.StatusCode)
				}
			})
		}
		wg.Wait()
		if ok.Load() != maxActive || refused.Load() != atOnce-maxActive {
			t.Errorf("%s: %d accepted and %d refused at once, want %d and %d", key, ok.Load(), refused.Load(), maxActive, atOnce-maxActive)
		}
	}
}
