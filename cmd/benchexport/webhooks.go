package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/plenario-next/exportd/internal/latency"
	"github.com/plenario-next/exportd/schema"
)

// webhookAllow lets the bench's exportd call the receiver the webhooks
// phase runs on loopback.
const webhookAllow = "EXPORTD_WEBHOOK_ALLOW=127.0.0.0/8"

// delayPhases runs the events phase (SSE and NATS delays) and the webhooks
// phase (delivery delays), each BENCH_RUNS times when it is in BENCH_PHASES.
func (s *system) delayPhases(ctx context.Context, cfg config, res *results, w window) error {
	// 4b. Event delays: a job of the large window (many progress and
	// part_done events) watched over SSE by 10 clients and over NATS.
	for i := range cfg.Runs * cfg.phaseRuns("events") {
		r, err := s.eventLatency(ctx, cfg, w, 10)
		if err != nil {
			return err
		}
		res.Events = append(res.Events, r)
		logf("event delays run %d/%d: SSE %s; NATS %s", i+1, cfg.Runs, r.SSE, r.NATS)
	}
	// 4b'. Webhook delays: the same job's every event delivered to an
	// endpoint on loopback.
	for i := range cfg.Runs * cfg.phaseRuns("webhooks") {
		r, err := s.webhookLatency(ctx, cfg, w)
		if err != nil {
			return err
		}
		res.Webhooks = append(res.Webhooks, r)
		logf("webhook delays run %d/%d: %s", i+1, cfg.Runs, r)
	}
	return nil
}

// webhookLatency registers an endpoint for every kind on a receiver in
// this process, runs a job of w, and returns how long its events took from
// publication (the event's time) to arrival at the receiver. The endpoint
// is removed after.
func (s *system) webhookLatency(ctx context.Context, cfg config, w window) (latency.Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return latency.Stats{}, err
	}
	rcv := &hookReceiver{done: make(chan struct{})}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	id, err := s.registerWebhook(ctx, "http://"+ln.Addr().String()+"/hook")
	if err != nil {
		return latency.Stats{}, err
	}
	defer s.deleteWebhook(context.WithoutCancel(ctx), id)
	var doc jobDoc
	if _, err := s.getJSON(ctx, "/v1/api/sensor-networks/"+cfg.Network+"/download?"+w.values().Encode(), &doc); err != nil {
		return latency.Stats{}, err
	}
	rcv.setTicket(doc.Ticket)
	select {
	case <-rcv.done:
	case <-ctx.Done():
		return latency.Stats{}, fmt.Errorf("webhooks: the terminal event of %s did not arrive: %w", doc.Ticket, ctx.Err())
	}
	return latency.Summarize(rcv.delays()), nil
}

func (s *system) registerWebhook(ctx context.Context, target string) (string, error) {
	form := url.Values{"url": {target}, "events": {"*"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/v1/api/webhooks", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v struct{ ID string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &v) != nil {
		return "", fmt.Errorf("POST /v1/api/webhooks: %d %s", resp.StatusCode, body)
	}
	return v.ID, nil
}

func (s *system) deleteWebhook(ctx context.Context, id string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.base+"/v1/api/webhooks/"+id, nil)
	if err != nil {
		return
	}
	if resp, err := httpClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// hookReceiver records the delays of one job's deliveries and closes done
// at its terminal event. Deliveries of other jobs (none here) and repeats
// (same Webhook-Id) are not counted.
type hookReceiver struct {
	mu     sync.Mutex
	ticket string
	early  []schema.Event // arrived before the ticket was known
	arrive []time.Time
	seen   map[string]bool
	delay  []time.Duration
	done   chan struct{}
	ended  bool
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var e schema.Event
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if json.Unmarshal(body, &e) == nil {
		h.record(r.Header.Get("Webhook-Id"), e, now)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) record(id string, e schema.Event, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = map[string]bool{}
	}
	if h.seen[id] {
		return
	}
	h.seen[id] = true
	if h.ticket == "" {
		h.early, h.arrive = append(h.early, e), append(h.arrive, at)
		return
	}
	h.add(e, at)
}

// add counts e if it is the job's; the lock is held.
func (h *hookReceiver) add(e schema.Event, at time.Time) {
	if e.Ticket != h.ticket || h.ended {
		return
	}
	h.delay = append(h.delay, at.Sub(e.Time))
	if e.Kind.Terminal() {
		h.ended = true
		close(h.done)
	}
}

func (h *hookReceiver) setTicket(t string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ticket = t
	for i, e := range h.early {
		h.add(e, h.arrive[i])
	}
	h.early, h.arrive = nil, nil
}

func (h *hookReceiver) delays() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.delay...)
}
