package webhook_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// callbackAnswer is /download's answer with a callback.
type callbackAnswer struct {
	Ticket string `json:"ticket"`
	ID     string `json:"callback_id"`
	Secret string `json:"callback_secret"`
}

// TestWebhookCallback: /download's callback= is called for that job's end
// only, signed with the secret the answer gave; a repeat of the request
// names the same callback (the same secret, one delivery); once it has
// delivered the end it is removed; a refused URL is a 400 keyed callback,
// beside the query's own problems.
func TestWebhookCallback(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 1000, WebhookAllow: loopback})
	seed(t, svc)
	rcv := startReceiver(t, 0)
	rcv.setFailing(true) // the callback stays until the end is delivered
	download := func(q string) (int, []byte) {
		return call(t, "GET", svc.URL+"/v1/api/sensor-networks/array_of_things/download?"+q, "", nil)
	}
	q := window + "&callback=" + url.QueryEscape(rcv.URL+"/done")
	var first, again callbackAnswer
	for _, a := range []*callbackAnswer{&first, &again} {
		code, body := download(q)
		if code != 200 || json.Unmarshal(body, a) != nil || a.ID == "" || !strings.HasPrefix(a.Secret, "whsec_") {
			t.Fatalf("download with a callback: got %d %s", code, body)
		}
	}
	if again != first {
		t.Errorf("a repeat: got %+v, want the first answer's job and callback %+v", again, first)
	}
	other := svc.Submit(t, "array_of_things", "start_datetime=2026-09-29T00:00:00&end_datetime=2026-09-30T00:00:00")
	svc.Wait(t, first.Ticket, time.Minute)
	svc.Wait(t, other, time.Minute)
	testenv.Eventually(t, 10*time.Second, "a failed attempt", func() bool { return len(rcv.deliveries(false)) > 0 })
	rcv.setFailing(false)
	got := rcv.waitKind(t, first.Ticket, schema.EventSucceeded)
	if len(got) != 1 || !verify(first.Secret, got[0]) {
		t.Errorf("got %d acknowledged deliveries (want 1, the job's succeeded, signed with callback_secret)", len(got))
	}
	for _, d := range rcv.deliveries(false) {
		if d.event.Ticket != first.Ticket || d.event.Kind != schema.EventSucceeded {
			t.Errorf("the callback was called for %s of %s", d.event.Kind, d.event.Ticket)
		}
	}
	testenv.Eventually(t, 10*time.Second, "the delivered callback removed", func() bool {
		code, _ := call(t, "GET", svc.URL+"/v1/api/webhooks/"+first.ID, "", nil)
		return code == 404
	})

	code, body := download("features=bogus&callback=" + url.QueryEscape("http://169.254.169.254/latest"))
	if code != 400 || !strings.Contains(string(body), `"callback":[`) || !strings.Contains(string(body), `"features":[`) {
		t.Errorf("a link-local callback and a bad feature: got %d %s, want 400 keyed callback and features", code, body)
	}
	if code, body := download(window + "&callback="); code != 400 || !strings.Contains(string(body), `"callback":[`) {
		t.Errorf("an empty callback: got %d %s, want 400 keyed callback", code, body)
	}
}
