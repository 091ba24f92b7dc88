package webhook_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestWebhookKeysIsolated: with API keys, each key's endpoint is called
// for its own jobs only, lists only its own endpoints, and another key's
// endpoint is not found to it, to read or to delete.
func TestWebhookKeysIsolated(t *testing.T) {
	const keyA, keyB = "key-a-0123456789", "key-b-0123456789"
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 1000, WebhookAllow: loopback, APIKeys: []string{keyA, keyB}})
	seed(t, svc)
	rcvA, rcvB := startReceiver(t, 0), startReceiver(t, 0)
	hookA := register(t, svc, keyA, rcvA.URL, "queued,succeeded")
	hookB := register(t, svc, keyB, rcvB.URL, "queued,succeeded")

	submit := func(key, q string) string {
		code, body := call(t, "GET", svc.URL+"/v1/api/sensor-networks/array_of_things/download?"+q, key, nil)
		var j schema.Job
		if code != 200 || json.Unmarshal(body, &j) != nil {
			t.Fatalf("submit as %s: got %d %s", key, code, body)
		}
		return j.Ticket
	}
	jobA := submit(keyA, window)
	jobB := submit(keyB, "start_datetime=2026-09-29T00:00:00&end_datetime=2026-10-01T00:00:00")
	gotA := rcvA.waitKind(t, jobA, schema.EventSucceeded)
	gotB := rcvB.waitKind(t, jobB, schema.EventSucceeded)
	for _, c := range []struct {
		name  string
		got   []delivery
		own   string
		other string
	}{{"A", gotA, jobA, jobB}, {"B", gotB, jobB, jobA}} {
		kinds, _ := jobEvents(c.got, c.own)
		if !slices.Equal(kinds, []schema.EventKind{schema.EventQueued, schema.EventSucceeded}) {
			t.Errorf("%s: own job's events %v, want [queued succeeded]", c.name, kinds)
		}
		if kinds, _ := jobEvents(c.got, c.other); len(kinds) > 0 {
			t.Errorf("%s: called for the other key's job: %v", c.name, kinds)
		}
	}
	// Both jobs are done: any event of B's job that A's endpoint would have
	// been called for came before B's succeeded, which it has seen.
	code, body := call(t, "GET", svc.URL+"/v1/api/webhooks", keyA, nil)
	if code != 200 || !strings.Contains(string(body), hookA.ID) || strings.Contains(string(body), hookB.ID) || strings.Contains(string(body), "whsec_") {
		t.Errorf("A's list: got %d %s, want A's endpoint only, no secret", code, body)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if code, body := call(t, m, svc.URL+"/v1/api/webhooks/"+hookB.ID, keyA, nil); code != http.StatusNotFound {
			t.Errorf("%s B's endpoint as A: got %d %s, want 404", m, code, body)
		}
	}
	if code, _ := call(t, "GET", svc.URL+"/v1/api/webhooks", "", nil); code != http.StatusUnauthorized {
		t.Errorf("list without a key: got %d, want 401", code)
	}
	// The receiver sees a delivery before it answers; the deliverer counts
	// it after the answer and its ack: the count follows, with nothing left.
	var s state
	testenv.Eventually(t, 10*time.Second, "B's state showing nothing pending", func() bool {
		s = getState(t, svc, keyB, hookB.ID)
		return s.Delivered >= 2 && s.Pending == 0
	})
	if s.Delivered != 2 {
		t.Errorf("B's state: %d delivered, want 2", s.Delivered)
	}
}
