// Package latency measures how long a job's events take from publication
// to arrival: at a client of the gateway's server-sent events and at a
// plain NATS subscriber. An event's time is stamped by its publisher just
// before it is published, so a delay is the arrival time minus the event's
// time; publisher and probe must share a clock (one host, or synced ones).
package latency

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/plenario-next/exportd/schema"
)

// Stats summarizes delays.
type Stats struct {
	N      int           `json:"n"`
	Median time.Duration `json:"median_ns"`
	P99    time.Duration `json:"p99_ns"`
	Max    time.Duration `json:"max_ns"`
}

func (s Stats) String() string {
	return fmt.Sprintf("n=%d median=%s p99=%s max=%s", s.N, s.Median, s.P99, s.Max)
}

// Summarize returns the nearest-rank median and 99th percentile of ds.
func Summarize(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Stats{N: len(s), Median: rank(0.5), P99: rank(0.99), Max: s[len(s)-1]}
}

// Result is the delays of one measurement, by path.
type Result struct {
	SSE  Stats `json:"sse"`
	NATS Stats `json:"nats"`
}

// Probe records event arrivals. Subscribe before the events of interest are
// published; SSE streams count only events published after their document
// arrived (earlier ones are replays, not deliveries).
type Probe struct {
	nc      *nats.Conn
	baseURL string
	client  *http.Client

	mu      sync.Mutex
	sub     *nats.Subscription
	nats    map[string][]time.Duration // by ticket
	sse     []time.Duration
	ended   map[string]bool // tickets whose terminal event reached NATS
	changed chan struct{}
}

// NewProbe returns a Probe on a NATS connection and a gateway's base URL
// ("http://host:port", no trailing slash).
func NewProbe(nc *nats.Conn, baseURL string) *Probe {
	return &Probe{nc: nc, baseURL: strings.TrimSuffix(baseURL, "/"),
		client: &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 1024}},
		nats:   map[string][]time.Duration{}, ended: map[string]bool{}, changed: make(chan struct{}, 1)}
}

// Subscribe starts recording every job's events from exports.events.>,
// as any NATS client would see them.
func (p *Probe) Subscribe() error {
	sub, err := p.nc.Subscribe(schema.EventSubjectAll, func(m *nats.Msg) {
		now := time.Now()
		var e schema.Event
		if json.Unmarshal(m.Data, &e) != nil {
			return
		}
		p.mu.Lock()
		if e.Kind != schema.EventQueued { // stamped at submission, before validation
			p.nats[e.Ticket] = append(p.nats[e.Ticket], now.Sub(e.Time))
		}
		if e.Kind.Terminal() {
			p.ended[e.Ticket] = true
		}
		p.mu.Unlock()
		select {
		case p.changed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return err
	}
	p.sub = sub
	return p.nc.Flush()
}

// Close stops the NATS subscription.
func (p *Probe) Close() {
	if p.sub != nil {
		_ = p.sub.Unsubscribe()
	}
}

// Stream is one SSE client of a job.
type Stream struct {
	// Ready is closed when the job document has arrived: from then on, every
	// event is a live delivery.
	Ready <-chan struct{}
	done  chan error
}

// Wait returns when the stream has delivered a terminal event and ended,
// or failed.
func (s *Stream) Wait(ctx context.Context) error {
	select {
	case err := <-s.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WatchSSE opens GET /v1/api/jobs/{ticket}/events and records the delay of
// every event it delivers live, until the terminal one or ctx's end.
func (p *Probe) WatchSSE(ctx context.Context, ticket string) (*Stream, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.baseURL+"/v1/api/jobs/"+ticket+"/events", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("latency: events of %s: HTTP %d", ticket, resp.StatusCode)
	}
	ready := make(chan struct{})
	s := &Stream{Ready: ready, done: make(chan error, 1)}
	go func() {
		defer resp.Body.Close()
		s.done <- p.readSSE(bufio.NewScanner(resp.Body), ready)
	}()
	return s, nil
}

func (p *Probe) readSSE(sc *bufio.Scanner, ready chan struct{}) error {
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var event string
	var since time.Time // the document's arrival
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: ") && event == "job":
			since = time.Now()
			close(ready)
		case strings.HasPrefix(line, "data: "):
			now := time.Now()
			var e schema.Event
			if err := json.Unmarshal([]byte(line[len("data: "):]), &e); err != nil {
				return fmt.Errorf("latency: bad event: %w", err)
			}
			if !since.IsZero() && e.Time.After(since) {
				p.mu.Lock()
				p.sse = append(p.sse, now.Sub(e.Time))
				p.mu.Unlock()
			}
			if e.Kind.Terminal() {
				return nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("latency: event stream ended before a terminal event")
}

// WaitNATS returns when the subscriber has seen ticket's terminal event.
func (p *Probe) WaitNATS(ctx context.Context, ticket string) error {
	for {
		p.mu.Lock()
		ok := p.ended[ticket]
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-p.changed:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Result summarizes what was recorded: SSE delays of every stream, NATS
// delays of the given tickets' events (all tickets if none are given).
func (p *Probe) Result(tickets ...string) Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n []time.Duration
	if len(tickets) == 0 {
		for _, ds := range p.nats {
			n = append(n, ds...)
		}
	}
	for _, t := range tickets {
		n = append(n, p.nats[t]...)
	}
	return Result{SSE: Summarize(p.sse), NATS: Summarize(n)}
}

// Measure runs one job end to end: it subscribes, calls submit (which
// returns the new job's ticket), opens watchers SSE streams on it (at least
// one) and waits for the terminal event on all of them and on NATS.
// Events published before a stream's document arrived are not counted for
// SSE, so a job that is over before the stream opens yields no SSE samples.
func Measure(ctx context.Context, nc *nats.Conn, baseURL string, watchers int, submit func(context.Context) (string, error)) (Result, error) {
	p := NewProbe(nc, baseURL)
	if err := p.Subscribe(); err != nil {
		return Result{}, err
	}
	defer p.Close()
	ticket, err := submit(ctx)
	if err != nil {
		return Result{}, err
	}
	var streams []*Stream
	for range max(watchers, 1) {
		s, err := p.WatchSSE(ctx, ticket)
		if err != nil {
			return Result{}, err
		}
		streams = append(streams, s)
	}
	for _, s := range streams {
		if err := s.Wait(ctx); err != nil {
			return Result{}, err
		}
	}
	// The streams saw the end; the subscriber must have too, unless the job
	// ended before it subscribed (a resubmission answered with an old
	// ticket, say).
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.WaitNATS(wctx, ticket); err != nil {
		return Result{}, fmt.Errorf("latency: job %s ended without its terminal event reaching NATS: did it end before Measure began? %w", ticket, err)
	}
	return p.Result(ticket), nil
}
