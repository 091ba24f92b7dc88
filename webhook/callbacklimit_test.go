package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
)

// callbackConsumers counts the webhook consumers on the event stream.
func callbackConsumers(t *testing.T, svc *testenv.Service) int {
	t.Helper()
	s, err := svc.JS.Stream(context.Background(), events.EventStream)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for name := range s.ConsumerNames(context.Background()).Name() {
		if strings.HasPrefix(name, events.WebhookConsumer("")) {
			n++
		}
	}
	return n
}

// TestCallbacksBoundedPerClient: a client whose callback never answers
// keeps each ended job's callback (and its consumer on the event stream)
// until its end is delivered or given up, a day later. Jobs one at a time,
// each ended before the next, would so make endpoints without bound; a
// client holds at most MaxActive callbacks, and past that a /download with
// a callback is a 429 in the error shape, not a job, while one without is
// still accepted.
func TestCallbacksBoundedPerClient(t *testing.T) {
	const maxActive = 2
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 1000, WebhookAllow: loopback, MaxActive: maxActive})
	seed(t, svc)
	rcv := startReceiver(t, 0)
	rcv.setFailing(true)
	cb := "&callback=" + url.QueryEscape(rcv.URL+"/never")
	refused := 0
	for i := range 3 * maxActive {
		q := fmt.Sprintf("start_datetime=2026-09-30T%02d:00:00&end_datetime=2026-10-01T00:00:00", i)
		code, body := call(t, "GET", svc.URL+"/v1/api/sensor-networks/array_of_things/download?"+q+cb, "", nil)
		var a struct {
			Ticket string `json:"ticket"`
			Error  any    `json:"error"`
		}
		if json.Unmarshal(body, &a) != nil {
			t.Fatalf("job %d: got %d %s", i, code, body)
		}
		switch {
		case code == 200 && a.Ticket != "":
			svc.Wait(t, a.Ticket, time.Minute)
		case code == 429 && a.Error != nil:
			refused++
		default:
			t.Fatalf("job %d: got %d %s, want 200 with a ticket or 429 with an error", i, code, body)
		}
	}
	if n := callbackConsumers(t, svc); n > maxActive || refused == 0 {
		t.Errorf("%d jobs' callbacks that cannot deliver: %d consumers, %d refused; want at most %d consumers, the rest refused",
			3*maxActive, n, refused, maxActive)
	}
	svc.Wait(t, svc.Submit(t, "array_of_things", window), time.Minute) // without a callback
}
