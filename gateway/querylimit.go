package gateway

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

// /query runs ClickHouse while the client waits, so it is bounded: a few
// at once per client and in all, each for at most a time, and stopped in
// ClickHouse when its client goes away. Without that, eight deep pages at
// once took 31 s each and ClickHouse went on running them after their
// clients had left.

// Defaults of QueryLimits.
const (
	DefaultQueryPerClient = 2
	DefaultQueryTotal     = 8
	DefaultQueryTimeout   = 30 * time.Second
)

// QueryLimits bound /query. Zero fields take the defaults.
type QueryLimits struct {
	PerClient int           // at once per client; beyond: 429
	Total     int           // at once in all; beyond: 503
	Timeout   time.Duration // ClickHouse's max_execution_time, and the request's deadline
}

func (l QueryLimits) withDefaults() QueryLimits {
	if l.PerClient <= 0 {
		l.PerClient = DefaultQueryPerClient
	}
	if l.Total <= 0 {
		l.Total = DefaultQueryTotal
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultQueryTimeout
	}
	return l
}

// queryLimiter counts the queries running, per client and in all. It never
// queues: a query beyond a limit is refused at once with Retry-After, so
// that a client cannot pile up work behind the limit either.
type queryLimiter struct {
	mu      sync.Mutex
	total   int
	clients map[string]int
}

func newQueryLimiter() *queryLimiter { return &queryLimiter{clients: map[string]int{}} }

// acquire takes a slot for client, or says which limit is reached.
func (q *queryLimiter) acquire(client string, l QueryLimits) (release func(), err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.clients[client] >= l.PerClient {
		return nil, schema.Errorf(schema.TooMany, "Too many queries at once from this client (at most %d); retry when one finishes.", l.PerClient)
	}
	if q.total >= l.Total {
		return nil, schema.Errorf(schema.Unavailable, "Too many queries at once (at most %d); retry shortly.", l.Total)
	}
	q.total++
	q.clients[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			q.mu.Lock()
			defer q.mu.Unlock()
			q.total--
			if q.clients[client]--; q.clients[client] <= 0 {
				delete(q.clients, client)
			}
		})
	}, nil
}

// waitedQuery runs a ClickHouse read that ctx's client waits for, bounded
// as /query is: one of lim's slots (a 429 or 503 when there is none), at
// most l.Timeout (a 503 saying so past it), stopped in ClickHouse when the
// client leaves. answer is false when there is nobody left to answer.
func (g *Gateway) waitedQuery(ctx *fasthttp.RequestCtx, lim *queryLimiter, l QueryLimits, run func(context.Context) error) (answer bool, err error) {
	release, err := lim.acquire(clientID(ctx), l)
	if err != nil {
		return true, err
	}
	defer release()
	qctx, cancel := g.queryContext(ctx, l.Timeout)
	defer cancel()
	err = run(qctx)
	switch {
	case errors.Is(context.Cause(qctx), errClientGone):
		g.logger.Info("query cancelled: the client went away", "path", string(ctx.Path()))
		return false, nil
	case errors.Is(err, chstore.ErrTimeLimit):
		return true, schema.Errorf(schema.Unavailable, "The query took longer than %s; ask for a shorter window or a smaller page, or retry later.", l.Timeout)
	}
	return true, err
}

// goneCheck is how often a running query looks whether its client left.
const goneCheck = 100 * time.Millisecond

// errClientGone cancels the ClickHouse query of a client that left.
var errClientGone = errors.New("gateway: the client went away")

// queryContext is the context of ctx's ClickHouse query: ClickHouse stops
// it at the time limit, and it ends when the client's connection is
// closed. fasthttp
// does not read a connection while its handler runs, so the connection is
// peeked at (MSG_PEEK: nothing is consumed, a pipelined request stays in
// place) every goneCheck; an orderly close reads as end of file.
func (g *Gateway) queryContext(ctx *fasthttp.RequestCtx, timeout time.Duration) (context.Context, context.CancelFunc) {
	qctx, cancel := context.WithCancel(chstore.WithTimeLimit(context.Background(), timeout))
	cctx, ccancel := context.WithCancelCause(qctx)
	raw := rawConn(ctx.Conn())
	if raw == nil {
		return cctx, func() { ccancel(nil); cancel() }
	}
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(goneCheck)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-cctx.Done():
				return
			case <-tick.C:
				if closedPeer(raw) {
					ccancel(errClientGone)
					return
				}
			}
		}
	}()
	return cctx, func() { close(done); ccancel(nil); cancel() }
}

// rawConn is c's file descriptor access, or nil when c has none (a pipe,
// a TLS connection).
func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// closedPeer reports whether the peer of raw has closed or reset the
// connection, without reading anything from it.
func closedPeer(raw syscall.RawConn) bool {
	var gone bool
	var buf [1]byte
	_ = raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
		case err != nil: // reset
			gone = true
		case n == 0: // end of file
			gone = true
		}
		return true // never wait for readiness: this is a poll
	})
	return gone
}
