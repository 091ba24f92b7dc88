package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/testenv"
)

// TestWebhookRegistrationsAtOnce: a client that sends many registrations
// at once (a retrying loop, a hostile one) gets no more endpoints than
// the bound, each a durable consumer on the event stream; the others are
// 409 in the error shape, and the event stream has no consumer more than
// the endpoints registered.
func TestWebhookRegistrationsAtOnce(t *testing.T) {
	const attempts = 100
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true,
		WebhookAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	base := streamConsumers(t, svc.JS)[events.EventStream]
	var created, refused atomic.Int64
	var wg sync.WaitGroup
	bounded(&wg, 32, attempts, func(int) {
		req, _ := http.NewRequest(http.MethodPost, svc.URL+"/v1/api/webhooks", strings.NewReader(`{"url":"http://127.0.0.1:9/hook","events":"*"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := testenv.HTTPClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		var e struct {
			Error string `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusCreated:
			created.Add(1)
		case resp.StatusCode == http.StatusConflict && err == nil && strings.Contains(e.Error, "At most"):
			refused.Add(1)
		default:
			t.Errorf("registration: %d (%v), want 201 or 409 with the bound", resp.StatusCode, err)
		}
	})
	wg.Wait()
	if created.Load() != gateway.DefaultMaxWebhooks || refused.Load() != attempts-gateway.DefaultMaxWebhooks {
		t.Errorf("%d registrations at once: %d created, %d refused; want %d and %d", attempts, created.Load(), refused.Load(),
			gateway.DefaultMaxWebhooks, attempts-gateway.DefaultMaxWebhooks)
	}
	var list struct {
		Webhooks []json.RawMessage `json:"webhooks"`
	}
	ddGetJSON(t, svc.URL+"/v1/api/webhooks", &list)
	if got := streamConsumers(t, svc.JS)[events.EventStream]; len(list.Webhooks) != gateway.DefaultMaxWebhooks ||
		got != base+len(list.Webhooks) {
		t.Errorf("after %d registrations at once: %d listed, %d event stream consumers (%d before); want %d, one each",
			attempts, len(list.Webhooks), got, base, gateway.DefaultMaxWebhooks)
	}
}
