package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// DefaultSSEHeartbeat is how often an idle event stream sends a comment, so
// that proxies keep it open and a vanished client is noticed.
const DefaultSSEHeartbeat = 15 * time.Second

// sseRetry is the reconnection delay suggested to EventSource clients.
const sseRetry = 2 * time.Second

// jobEvents serves GET /v1/api/jobs/{ticket}/events: server-sent events.
//
// A fresh connection gets the current job document first (event "job",
// id = the sequence of the last event folded into it), then every later
// event of the job as it happens (event = its kind, id = its stream
// sequence, data = the event's JSON), and the stream ends after a terminal
// event. If the job is already finished, that is the document and its
// terminal event.
//
// A reconnection with Last-Event-ID (or ?last_event_id=) gets no document:
// only the events after that id, so a client that has kept what it was
// sent sees every event exactly once. When it has already seen the
// terminal event the answer is 204, which tells EventSource to stop
// reconnecting.
// seenTerminal reports whether the event at seq is the job's terminal one.
// The stream can be ahead of the record: a client that got the terminal
// event by SSE and reconnects at once may find the projector has not folded
// it yet, and would otherwise wait for an event that has already passed.
func (g *Gateway) seenTerminal(ctx context.Context, ticket string, seq uint64) bool {
	if seq == 0 {
		return false
	}
	e, err := g.bus.Event(ctx, seq)
	return err == nil && e.Ticket == ticket && e.Kind.Terminal()
}

func (g *Gateway) jobEvents(ctx *fasthttp.RequestCtx, p []string) error {
	ticket := p[0]
	after, resume, err := lastEventID(ctx)
	if err != nil {
		return err
	}
	rec, err := g.job(ctx, ticket)
	if err != nil {
		return err
	}
	if resume && after > rec.Seq {
		if err := g.eventSent(ctx, after); err != nil {
			return err
		}
	}

	var doc []byte // the job event, on a fresh connection
	var last *schema.Event
	switch {
	case !resume:
		if doc, err = json.Marshal(g.document(ctx, rec)); err != nil { // as GET /jobs/{ticket} shows it
			return err
		}
		after = rec.Seq
		if rec.Terminal() {
			// A finished record's last folded event is its terminal one:
			// nothing after it changes the record.
			if e, err := g.bus.Event(ctx, rec.Seq); err == nil && e.Ticket == ticket && e.Kind.Terminal() {
				last = &e
			}
		}
	case rec.Terminal() && after >= rec.Seq, !rec.Terminal() && g.seenTerminal(ctx, ticket, after):
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return nil
	}

	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no") // nginx: do not buffer
	if ctx.IsHead() {
		return nil
	}

	// The feed outlives the handler (the stream is written after it
	// returns): the stream writer leaves it.
	var sub *feedClient
	if !(rec.Terminal() && !resume) {
		if sub, err = g.feeds.subscribe(ticket, after); err != nil {
			return err
		}
	}
	serverDone := ctx.Done()
	heartbeat := g.SSEHeartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultSSEHeartbeat
	}
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		if sub != nil {
			defer sub.close()
		}
		w.WriteString("retry: " + strconv.FormatInt(sseRetry.Milliseconds(), 10) + "\n\n")
		if doc != nil {
			writeSSE(w, "job", rec.Seq, doc)
		}
		if rec.Terminal() && !resume {
			if last != nil {
				writeEvent(w, *last)
			}
			return
		}
		g.streamEvents(w, sub, heartbeat, serverDone)
	})
	return nil
}

// streamEvents writes a feed's events to an event stream until the job's
// terminal event, the feed's end (the client reconnects with its last id),
// the server's shutdown or the client's departure.
func (g *Gateway) streamEvents(w *bufio.Writer, sub *feedClient, heartbeat time.Duration, serverDone <-chan struct{}) {
	if w.Flush() != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		events, ended, ready := sub.next()
		for _, e := range events {
			writeEvent(w, e)
			if e.Kind.Terminal() {
				w.Flush()
				return
			}
		}
		if ended {
			w.Flush()
			return // the watch broke: the client reconnects with its last id
		}
		if len(events) == 0 {
			select {
			case <-ready:
				continue
			case <-tick.C:
				w.WriteString(": heartbeat\n\n")
			case <-serverDone:
				return
			}
		}
		// A failed flush is the client gone: stop following for it.
		if w.Flush() != nil {
			return
		}
	}
}

// lastEventID returns the sequence a reconnecting client saw last, from the
// Last-Event-ID header or the last_event_id parameter (for clients that
// cannot set headers).
func lastEventID(ctx *fasthttp.RequestCtx) (uint64, bool, error) {
	v := string(ctx.Request.Header.Peek("Last-Event-ID"))
	if v == "" {
		v = string(ctx.QueryArgs().Peek("last_event_id"))
	}
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		var p schema.Problems = map[string][]string{}
		p.Add("last_event_id", "Last-Event-ID must be the id of an event this stream sent: a non-negative integer, not "+strconv.Quote(v)+".")
		return 0, false, p.Err()
	}
	return n, true, nil
}

// eventSent checks that seq, a Last-Event-ID past the job's record, is not
// past the newest event of the stream either: no stream sent such an id
// (18446744073709551615, say), and a watch from after it would start at a
// sequence that wraps to 0.
func (g *Gateway) eventSent(ctx context.Context, seq uint64) error {
	last, err := g.bus.LastEventSeq(ctx)
	if err != nil {
		return err
	}
	if seq <= last {
		return nil
	}
	var p schema.Problems = map[string][]string{}
	p.Add("last_event_id", "Last-Event-ID "+strconv.FormatUint(seq, 10)+" was never sent: the newest event is "+strconv.FormatUint(last, 10)+".")
	return p.Err()
}

func writeEvent(w *bufio.Writer, e schema.Event) {
	data, err := json.Marshal(e)
	if err != nil {
		return
	}
	writeSSE(w, string(e.Kind), e.Seq, data)
}

// writeSSE writes one event; data is JSON, which holds no newline.
func writeSSE(w *bufio.Writer, event string, id uint64, data []byte) {
	w.WriteString("event: " + event + "\nid: " + strconv.FormatUint(id, 10) + "\ndata: ")
	w.Write(data)
	w.WriteString("\n\n")
}
