package webhook_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// streamEvents reads ticket's events from the stream, as stored: the
// truth a webhook's deliveries are compared with.
func streamEvents(t *testing.T, svc *testenv.Service, ticket string, kinds ...schema.EventKind) (out []schema.EventKind, seqs []uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := svc.JS.OrderedConsumer(ctx, events.EventStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{schema.TicketEvents(ticket)}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n := info.NumPending; n > 0; n-- {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var e schema.Event
		_ = json.Unmarshal(m.Data(), &e)
		if md, err := m.Metadata(); err == nil {
			e.Seq = md.Sequence.Stream
		}
		if len(kinds) == 0 || slices.Contains(kinds, e.Kind) {
			out, seqs = append(out, e.Kind), append(seqs, e.Seq)
		}
	}
	return out, seqs
}

// TestWebhookDelivers: an endpoint asking for started and succeeded gets
// exactly those of a job, in order, each signed as the README says, with
// the event's id in Webhook-Id, and its state shows them delivered.
func TestWebhookDelivers(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 1000, WebhookAllow: loopback})
	seed(t, svc)
	rcv := startReceiver(t, 0)
	hook := register(t, svc, "", rcv.URL+"/hook", "started,succeeded")
	if !slices.Equal(hook.Events, []string{"started", "succeeded"}) {
		t.Errorf("registered events: got %v, want [started succeeded]", hook.Events)
	}
	ticket := svc.Submit(t, "array_of_things", window)
	got := rcv.waitKind(t, ticket, schema.EventSucceeded)

	wantKinds, wantSeqs := streamEvents(t, svc, ticket, schema.EventStarted, schema.EventSucceeded)
	kinds, seqs := jobEvents(got, ticket)
	if !slices.Equal(kinds, wantKinds) || !slices.Equal(seqs, wantSeqs) {
		t.Errorf("delivered %v %v, want %v %v", kinds, seqs, wantKinds, wantSeqs)
	}
	for _, d := range got {
		if !verify(hook.Secret, d) {
			t.Errorf("event %d: signature %q does not verify", d.event.Seq, d.sig)
		}
		if d.id != strconv.FormatUint(d.event.Seq, 10) {
			t.Errorf("event %d: Webhook-Id %q, want its seq", d.event.Seq, d.id)
		}
		if d.event.Version != schema.EventVersion {
			t.Errorf("event %d: v %d, want %d", d.event.Seq, d.event.Version, schema.EventVersion)
		}
	}
	if verify("whsec_other", got[0]) {
		t.Error("a delivery verifies with another secret")
	}
	testenv.Eventually(t, 10*time.Second, "the state showing 2 delivered", func() bool {
		s := getState(t, svc, "", hook.ID)
		return s.Delivered == 2 && s.LastSuccess != nil && s.Pending == 0 && s.Failures == 0
	})

	code, body := call(t, "DELETE", svc.URL+"/v1/api/webhooks/"+hook.ID, "", nil)
	if code != 204 {
		t.Fatalf("delete: got %d %s, want 204", code, body)
	}
	if code, body := call(t, "GET", svc.URL+"/v1/api/webhooks/"+hook.ID, "", nil); code != 404 {
		t.Errorf("after delete: got %d %s, want 404", code, body)
	}
	if _, err := svc.JS.Consumer(context.Background(), events.EventStream, events.WebhookConsumer(hook.ID)); err == nil {
		t.Error("the deleted webhook's consumer is still there")
	}
}

// TestWebhookRetries: a receiver that fails its first 3 requests gets every
// event of the job after retries, in stream order, and none twice once it
// has answered 2xx; a retried event keeps its Webhook-Id.
func TestWebhookRetries(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 1000, WebhookAllow: loopback, WebhookBackoff: 20 * time.Millisecond})
	seed(t, svc)
	rcv := startReceiver(t, 3)
	hook := register(t, svc, "", rcv.URL, "*")
	ticket := svc.Submit(t, "array_of_things", window)
	acked := rcv.waitKind(t, ticket, schema.EventSucceeded)

	wantKinds, wantSeqs := streamEvents(t, svc, ticket)
	kinds, seqs := jobEvents(acked, ticket)
	if !slices.Equal(kinds, wantKinds) || !slices.Equal(seqs, wantSeqs) {
		t.Errorf("acknowledged %v %v, want each event once, in order: %v %v", kinds, seqs, wantKinds, wantSeqs)
	}
	all := rcv.deliveries(false)
	if len(all) < 4 || all[0].id != all[3].id || all[3].status != 204 {
		t.Errorf("the first event: want 3 failed attempts then a success, all with one id; got %d deliveries", len(all))
	}
	testenv.Eventually(t, 10*time.Second, "the state showing the failures", func() bool {
		s := getState(t, svc, "", hook.ID)
		return s.Failures == 3 && strings.Contains(s.LastError, "500") && s.LastErrorAt != nil &&
			s.Delivered == int64(len(wantKinds)) && s.Pending == 0
	})
}

// TestWebhookSurvivesRestart: with a receiver down, the service is stopped
// mid-retry and started again on the same NATS server; once the receiver
// is back, every event of the job arrives, once and in order.
func TestWebhookSurvivesRestart(t *testing.T) {
	ns := testenv.MustStartNATSAt(t, t.TempDir(), -1)
	opts := testenv.ServiceOptions{PartRows: 1000, WebhookAllow: loopback, WebhookBackoff: 20 * time.Millisecond, NATSURL: ns.ClientURL()}
	first := testenv.StartService(t, opts)
	seed(t, first)
	rcv := startReceiver(t, 0)
	rcv.setFailing(true)
	hook := register(t, first, "", rcv.URL, "queued,part_done,succeeded")
	ticket := first.Submit(t, "array_of_things", window)
	testenv.Eventually(t, 30*time.Second, "two failed attempts", func() bool { return len(rcv.deliveries(false)) >= 2 })
	first.Stop()

	opts.Store = first.Store
	second := testenv.StartService(t, opts)
	rcv.setFailing(false)
	acked := rcv.waitKind(t, ticket, schema.EventSucceeded)
	wantKinds, wantSeqs := streamEvents(t, second, ticket, schema.EventQueued, schema.EventPartDone, schema.EventSucceeded)
	kinds, seqs := jobEvents(acked, ticket)
	if !slices.Equal(kinds, wantKinds) || !slices.Equal(seqs, wantSeqs) {
		t.Errorf("acknowledged %v %v, want %v %v", kinds, seqs, wantKinds, wantSeqs)
	}
	for _, d := range acked {
		if !verify(hook.Secret, d) {
			t.Errorf("event %d: signature does not verify", d.event.Seq)
		}
	}
}

// TestWebhookDisallowed: URLs the policy refuses are a 400 in Plenario's
// shape, keyed by the field, at registration, and nothing is registered.
func TestWebhookDisallowed(t *testing.T) {
	strict := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	for _, c := range []struct{ name, url, events, field string }{
		{"loopback", "https://127.0.0.1/hook", "*", "url"},
		{"localhost", "https://localhost/hook", "*", "url"},
		{"private", "https://10.1.2.3/hook", "*", "url"},
		{"link-local", "https://169.254.169.254/latest", "*", "url"},
		{"ipv6 loopback", "https://[::1]/hook", "*", "url"},
		{"http", "http://93.184.215.14/hook", "*", "url"},
		{"relative", "/hook", "*", "url"},
		{"credentials", "https://u:p@93.184.215.14/hook", "*", "url"},
		{"missing", "", "*", "url"},
		{"unknown kind", "https://93.184.215.14/hook", "succeeded,finished", "events"},
		{"no kinds", "https://93.184.215.14/hook", "", "events"},
	} {
		code, body := call(t, "POST", strict.URL+"/v1/api/webhooks", "", url.Values{"url": {c.url}, "events": {c.events}})
		if code != 400 || !strings.Contains(string(body), `"error":{"`+c.field+`":[`) {
			t.Errorf("%s: got %d %s, want 400 keyed %q", c.name, code, body, c.field)
		}
	}
	// Allowing loopback lets http to loopback in, not link-local.
	loose := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true, WebhookAllow: loopback})
	if code, body := call(t, "POST", loose.URL+"/v1/api/webhooks", "", url.Values{"url": {"http://169.254.169.254/"}, "events": {"*"}}); code != 400 {
		t.Errorf("link-local with loopback allowed: got %d %s, want 400", code, body)
	}
	if code, body := call(t, "GET", strict.URL+"/v1/api/webhooks", "", nil); code != 200 || string(body) != "{\"webhooks\":[]}\n" {
		t.Errorf("after refusals: got %d %s, want no webhooks", code, body)
	}
}

// TestWebhookGivesUp: an event no attempt delivers within the maximum age
// is given up, said so in the state and the metrics, and the events behind
// it are delivered.
func TestWebhookGivesUp(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 1000, WebhookAllow: loopback,
		WebhookBackoff: 50 * time.Millisecond, WebhookMaxAge: 2 * time.Second})
	seed(t, svc)
	rcv := startReceiver(t, 0)
	rcv.failKind = schema.EventQueued
	hook := register(t, svc, "", rcv.URL, "queued,succeeded")
	ticket := svc.Submit(t, "array_of_things", window)
	acked := rcv.waitKind(t, ticket, schema.EventSucceeded)
	if kinds, _ := jobEvents(acked, ticket); !slices.Equal(kinds, []schema.EventKind{schema.EventSucceeded}) {
		t.Errorf("acknowledged %v, want [succeeded]", kinds)
	}
	var s state
	testenv.Eventually(t, 10*time.Second, "the state showing the give-up and the success", func() bool {
		s = getState(t, svc, "", hook.ID)
		return s.GivenUp == 1 && s.Delivered == 1
	})
	if !strings.Contains(s.LastError, "gave up") || s.LastSuccess == nil || s.LastSuccess.Before(*s.LastErrorAt) {
		t.Errorf("state %+v: want the give-up as the last error and a success after", s)
	}
	code, body := testenv.Get(t, svc.URL+"/metrics")
	for _, want := range []string{`exportd_webhook_deliveries_total{outcome="given_up"} 1`, `exportd_webhook_delivery_delay_seconds_count 1`} {
		if code != 200 || !strings.Contains(string(body), want) {
			t.Errorf("/metrics: want %s", want)
		}
	}
}

// TestWebhookRegistration: a JSON body works as the form does, kinds come
// back each once in a job's order, and past the bound a client gets a 409.
func TestWebhookRegistration(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true, WebhookAllow: loopback})
	svc.Gw.MaxWebhooks = 2
	post := func(ct, body string) (int, string) {
		resp, b := doBody(t, "POST", svc.URL+"/v1/api/webhooks", ct, body)
		return resp, string(b)
	}
	code, body := post("application/json", `{"url":"http://127.0.0.1:9/a","events":["failed","succeeded","failed"]}`)
	if code != 201 || !strings.Contains(body, `"events":["succeeded","failed"]`) {
		t.Errorf("JSON registration: got %d %s", code, body)
	}
	if code, body := post("application/json", `{"url":"http://127.0.0.1:9/a","events":"*"}`); code != 201 || !strings.Contains(body, `"expired"`) {
		t.Errorf("JSON registration of *: got %d %s", code, body)
	}
	if code, body := post("application/json", `{"url":"http://127.0.0.1:9/a","events":"*"}`); code != 409 {
		t.Errorf("a third with at most 2: got %d %s, want 409", code, body)
	}
	if code, body := post("application/json", `{"url":1}`); code != 400 || !strings.Contains(body, `"request":[`) {
		t.Errorf("a bad JSON body: got %d %s, want 400", code, body)
	}
	if code, body := post("application/json", `{"url":"http://127.0.0.1:9/a","events":"*"} {"url":"x"}`); code != 400 || !strings.Contains(body, `"request":[`) {
		t.Errorf("a JSON body with more after its object: got %d %s, want 400", code, body)
	}
	for _, u := range []string{"http://127.0.0.1:99999/a", "http://127.0.0.1:0/a", "https://example.org:https/a"} {
		if code, body := post("application/x-www-form-urlencoded", "events=*&url="+url.QueryEscape(u)); code != 400 || !strings.Contains(body, `"url":[`) {
			t.Errorf("url %s, a port no one can listen on: got %d %s, want 400 keyed url", u, code, body)
		}
	}
}

// TestWebhookTwoProcesses: two services on one NATS server both run a
// deliverer; they share each endpoint's consumer, so every event of the
// job is delivered once, not once per process, and in order.
func TestWebhookTwoProcesses(t *testing.T) {
	ns := testenv.MustStartNATSAt(t, t.TempDir(), -1)
	opts := testenv.ServiceOptions{PartRows: 1000, WebhookAllow: loopback, NATSURL: ns.ClientURL()}
	a := testenv.StartService(t, opts)
	seed(t, a)
	opts.Store = a.Store
	b := testenv.StartService(t, opts)
	rcv := startReceiver(t, 0)
	register(t, b, "", rcv.URL, "*")
	ticket := a.Submit(t, "array_of_things", window)
	rcv.waitKind(t, ticket, schema.EventSucceeded)
	a.Wait(t, ticket, time.Minute)
	wantKinds, wantSeqs := streamEvents(t, a, ticket)
	// Every event has been published; wait for the last one's delivery.
	testenv.Eventually(t, 10*time.Second, "every event delivered", func() bool {
		_, seqs := jobEvents(rcv.deliveries(false), ticket)
		return len(seqs) >= len(wantSeqs)
	})
	kinds, seqs := jobEvents(rcv.deliveries(false), ticket)
	if !slices.Equal(kinds, wantKinds) || !slices.Equal(seqs, wantSeqs) {
		t.Errorf("delivered %v %v, want each event once, in order: %v %v", kinds, seqs, wantKinds, wantSeqs)
	}
}
