package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
	"github.com/plenario-next/exportd/webhook"
)

// TestServeWebhooks: exportd serve's own wiring, with its embedded NATS
// requiring the generated identities and API keys on, delivers a key's
// job's succeeded event to the endpoint that key registered, signed.
func TestServeWebhooks(t *testing.T) {
	const key = "serve-webhook-key-1"
	var mu sync.Mutex
	var got []http.Header
	var bodies [][]byte
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r.Header.Clone()), append(bodies, b)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	base, _ := startServe(t, map[string]string{"EXPORTD_WEBHOOK_ALLOW": "127.0.0.0/8", "EXPORTD_API_KEYS": key})

	do := func(method, u string, form url.Values) (int, []byte) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, base+u, body)
		req.Header.Set("Authorization", "Bearer "+key)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := testenv.HTTPClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := do("POST", "/v1/api/webhooks", url.Values{"url": {rcv.URL}, "events": {"succeeded"}})
	var hook struct{ ID, Secret string }
	if code != 201 || json.Unmarshal(body, &hook) != nil {
		t.Fatalf("register: got %d %s", code, body)
	}
	code, body = do("GET", "/v1/api/sensor-networks/array_of_things/download?features=temperature", nil)
	var j schema.Job
	if code != 200 || json.Unmarshal(body, &j) != nil {
		t.Fatalf("download: got %d %s", code, body)
	}
	testenv.Eventually(t, 60*time.Second, "the succeeded event delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	var e schema.Event
	if err := json.Unmarshal(bodies[0], &e); err != nil || e.Kind != schema.EventSucceeded || e.Ticket != j.Ticket {
		t.Errorf("delivered %s (%v), want the job's succeeded event", bodies[0], err)
	}
	h := got[0]
	if !webhook.Verify(hook.Secret, h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature"), bodies[0], time.Now(), time.Minute) {
		t.Errorf("the delivery's signature %q does not verify", h.Get("Webhook-Signature"))
	}
}

// TestBadWebhookSettings: settings out of range stop exportd at start.
func TestBadWebhookSettings(t *testing.T) {
	for _, env := range []map[string]string{
		{"EXPORTD_WEBHOOK_ALLOW": "127.0.0.0/33"},
		{"EXPORTD_WEBHOOK_ALLOW": "localhost"},
		{"EXPORTD_WEBHOOK_TIMEOUT": "1m"},
		{"EXPORTD_WEBHOOK_BACKOFF": "soon"},
		{"EXPORTD_WEBHOOK_MAX_AGE": "0s"},
		{"EXPORTD_WEBHOOK_MAX_ENDPOINTS": "0"},
	} {
		err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, &testenv.LockedBuffer{})
		if err == nil || !strings.Contains(err.Error(), "webhook") {
			t.Errorf("%v: got %v, want an error naming the webhook setting", env, err)
		}
	}
}
