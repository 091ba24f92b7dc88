package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A lane's pull requests are our own, not nats.go's Fetch. Fetch (and
// FetchNoWait) subscribes to an inbox for each request and stops listening
// a second after the request's expiry (nats.go 1.55, the newest there is
// here): a reply that comes later, over a slow link or from a busy
// cluster, is dropped, although the server counts its message as
// delivered, so that message waits the whole ack wait before anyone gets
// it again (three parts over a link of 700 ms each way: deliveries 1, 1
// and 5, 21.6 s for a job of about 6). nats.go's persistent pulls
// (Messages, Consume) keep asking for more while the worker is busy and
// buffer what comes without keeping it alive, so a small job's part would
// wait in a busy worker's buffer instead of going to an idle one. A
// puller subscribes to one inbox for good: every reply to its requests
// comes there, however late, and a message in it is handed to the worker
// (or back to the stream when the worker stops), never dropped.
type puller struct {
	nc      *nats.Conn
	subject string          // the consumer's $JS.API.CONSUMER.MSG.NEXT
	inbox   string          // where every reply comes
	replies chan reply      // the answered requests, in order, from pump
	open    int             // requests sent and not answered yet
	lost    time.Time       // when the open requests are given up for lost
	rc      *reconnects     // nc's connects
	gone    <-chan struct{} // closed when the open requests are forgotten: nc connected again
}

// reply is what one pull request gave.
type reply struct {
	m   jetstream.Msg // nil when it ended without a message
	err error         // the request was refused (its consumer deleted, ...)
}

// replyLost is how long after its expiry a request with no reply is given
// up for lost, so that the lane asks again: a reply can be dropped on its
// way (a route between cluster nodes fails, a server finds its client too
// slow). The requests a server never heard of, when the connection
// connects to one again (restarted, or another node), are given up at
// once (reconnects). Either way a reply is still taken if it comes after
// all.
const replyLost = 5 * time.Second

// ackTimeout bounds an Ack whose context has no deadline, as nats.go's
// jetstream does (its DefaultTimeout).
const ackTimeout = 5 * time.Second

// newPuller subscribes to a new inbox for the pull requests of consumer
// on stream, until ctx is done; rc follows nc's connects. A message that
// comes while the worker is busy is kept in progress (every keepAlive)
// until the worker takes it, and handed back (Nak) if ctx ends first.
func newPuller(ctx context.Context, nc *nats.Conn, rc *reconnects, stream, consumer string, keepAlive time.Duration) (*puller, error) {
	p := &puller{nc: nc, subject: fmt.Sprintf("$JS.API.CONSUMER.MSG.NEXT.%s.%s", stream, consumer),
		inbox: nc.NewInbox(), replies: make(chan reply), rc: rc}
	in := make(chan *nats.Msg)
	sub, err := nc.Subscribe(p.inbox, func(m *nats.Msg) {
		select {
		case in <- m:
		case <-ctx.Done():
			if r, ok := p.toReply(m); ok && r.m != nil {
				_ = r.m.Nak()
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("pull inbox: %w", err)
	}
	go p.pump(ctx, sub, in, keepAlive)
	return p, nil
}

// pump passes the replies on to the worker in order, holding those it has
// not taken yet; a held message is kept in progress, and handed back when
// ctx ends.
func (p *puller) pump(ctx context.Context, sub *nats.Subscription, in <-chan *nats.Msg, keepAlive time.Duration) {
	defer func() { _ = sub.Unsubscribe() }()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	var held []reply
	for {
		var out chan<- reply
		var head reply
		if len(held) > 0 {
			out, head = p.replies, held[0]
		}
		select {
		case m := <-in:
			if r, ok := p.toReply(m); ok {
				held = append(held, r)
			}
		case out <- head:
			held = held[1:]
		case <-tick.C:
			for _, r := range held {
				if r.m != nil {
					_ = r.m.InProgress()
				}
			}
		case <-ctx.Done():
			for _, r := range held {
				if r.m != nil {
					_ = r.m.Nak()
				}
			}
			return
		}
	}
}

// errNoLeader is a pull request's 503 (no responders): nobody serves the
// consumer's MSG.NEXT subject, which on a cluster is the time between its
// leader's death and the next leader's election (4.1 to 8.5 s with three
// nats-server processes, one killed); the worker asks again soon, not a
// second later (ConsumeParts).
var errNoLeader = errors.New("events: no consumer leader")

// toReply reads a message of the inbox: a delivered message, or a status
// that ends a request without one (404 none, 408 expired, 409 when the
// server shuts down or the consumer's leader steps down, 503 when the
// consumer has no leader, or a refusal); not a reply at all (a heartbeat)
// when !ok.
func (p *puller) toReply(m *nats.Msg) (r reply, ok bool) {
	status := m.Header.Get("Status")
	if len(m.Data) > 0 || status == "" {
		return reply{m: &pulled{m: m, nc: p.nc}}, true
	}
	switch status {
	case "100": // idle heartbeat or flow control: not an answer
		return reply{}, false
	case "404", "408":
		return reply{}, true
	case "503": // the server's own no-responders status, as nats.go reads it
		return reply{err: fmt.Errorf("pull %s: %w", p.subject, errNoLeader)}, true
	case "409":
		// The request is over, the consumer is not: ask again (the
		// server that shuts down is reconnected from at once).
		if d := m.Header.Get("Description"); strings.EqualFold(d, "Server Shutdown") || strings.EqualFold(d, "Leadership Change") {
			return reply{}, true
		}
	}
	return reply{err: fmt.Errorf("pull %s: %s %s", p.subject, status, m.Header.Get("Description"))}, true
}

// ask sends a pull request for one message that waits up to expires for
// one to come; none at all (no_wait) when expires is 0. A request sent
// while the connection is down goes out when it is back, and is given up
// at that connect like the others: at worst one request more, whose
// message, if it gets one, is held like any late reply.
func (p *puller) ask(expires time.Duration) error {
	req := []byte(`{"batch":1,"no_wait":true}`)
	if expires > 0 {
		req = fmt.Appendf(nil, `{"batch":1,"expires":%d}`, expires.Nanoseconds())
	}
	if err := p.nc.PublishRequest(p.subject, p.inbox, req); err != nil {
		return fmt.Errorf("pull request: %w", err)
	}
	p.open++
	p.lost = time.Now().Add(expires + replyLost)
	p.gone = p.rc.since()
	return nil
}

// waiting reports whether a request of the lane is still open (and not
// given up for lost).
func (p *puller) waiting() bool {
	if p.open > 0 && (time.Now().After(p.lost) || closed(p.gone)) {
		p.open = 0
	}
	return p.open > 0
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// took counts r as the answer of one open request and returns its message.
func (p *puller) took(r reply) (jetstream.Msg, error) {
	p.open = max(0, p.open-1)
	return r.m, r.err
}

// pulled is a message that a puller's request got, settled as nats.go's
// jetstream settles its own (the same acknowledgment subjects and bodies),
// so that a Delivery of it is like any other.
type pulled struct {
	m  *nats.Msg
	nc *nats.Conn

	mu   sync.Mutex
	ackd bool // settled: a second settlement is refused
}

var _ jetstream.Msg = (*pulled)(nil)

// Metadata reads the message's delivery (count, sequences, time) from its
// acknowledgment subject.
func (p *pulled) Metadata() (*jetstream.MsgMetadata, error) {
	md, err := p.m.Metadata()
	if err != nil {
		return nil, err
	}
	return &jetstream.MsgMetadata{
		Sequence:     jetstream.SequencePair{Consumer: md.Sequence.Consumer, Stream: md.Sequence.Stream},
		NumDelivered: md.NumDelivered, NumPending: md.NumPending, Timestamp: md.Timestamp,
		Stream: md.Stream, Consumer: md.Consumer, Domain: md.Domain,
	}, nil
}

func (p *pulled) Data() []byte         { return p.m.Data }
func (p *pulled) Headers() nats.Header { return p.m.Header }
func (p *pulled) Subject() string      { return p.m.Subject }
func (p *pulled) Reply() string        { return p.m.Reply }
func (p *pulled) Ack() error           { return p.settle(context.Background(), "+ACK", false) }
func (p *pulled) Nak() error           { return p.settle(context.Background(), "-NAK", false) }
func (p *pulled) InProgress() error    { return p.settle(context.Background(), "+WPI", false) }
func (p *pulled) Term() error          { return p.settle(context.Background(), "+TERM", false) }
func (p *pulled) TermWithReason(reason string) error {
	return p.settle(context.Background(), "+TERM "+reason, false)
}

// DoubleAck acknowledges the message and waits for the server to confirm.
func (p *pulled) DoubleAck(ctx context.Context) error { return p.settle(ctx, "+ACK", true) }

// NakWithDelay hands the message back for another delivery after delay.
func (p *pulled) NakWithDelay(delay time.Duration) error {
	if delay <= 0 {
		return p.Nak()
	}
	return p.settle(context.Background(), fmt.Sprintf(`-NAK {"delay": %d}`, delay.Nanoseconds()), false)
}

// settle sends body to the message's acknowledgment subject, and with
// sync waits for the server's answer.
func (p *pulled) settle(ctx context.Context, body string, sync bool) error {
	if p.m.Reply == "" {
		return jetstream.ErrMsgNoReply
	}
	p.mu.Lock()
	done := p.ackd
	p.mu.Unlock()
	if done {
		return jetstream.ErrMsgAlreadyAckd
	}
	var err error
	if sync {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, ackTimeout)
			defer cancel()
		}
		_, err = p.nc.RequestWithContext(ctx, p.m.Reply, []byte(body))
	} else {
		err = p.nc.Publish(p.m.Reply, []byte(body))
	}
	if err != nil {
		return err
	}
	if !strings.HasPrefix(body, "+WPI") { // progress may be said again
		p.mu.Lock()
		p.ackd = true
		p.mu.Unlock()
	}
	return nil
}
