package events

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"
)

// reconnects tells the pullers of a connection that it connected to a
// server again (a restart, or another node of a cluster): the new server
// knows none of the pull requests sent before, so waiting for their
// replies is waiting for nothing. Each request remembers the channel
// current when it was sent (since), which is closed at the next connect:
// one listener of the connection's status, however many pullers there
// are, and a request sent after a connect is never taken for one sent
// before it.
type reconnects struct {
	mu   sync.Mutex
	next chan struct{} // closed at the next connect, then replaced
}

// watchReconnects follows nc's connects until ctx is done.
func watchReconnects(ctx context.Context, nc *nats.Conn) *reconnects {
	r := &reconnects{next: make(chan struct{})}
	// CONNECTED is reported once for each new connection to a server, when
	// it has answered the handshake; nats.go sends the subscriptions, then
	// what was published while disconnected, before anything published
	// after it. A status dropped while the channel is full follows one
	// still in it, which is enough.
	status := nc.StatusChanged(nats.CONNECTED)
	go func() {
		defer nc.RemoveStatusListener(status)
		for {
			select {
			case <-status:
				r.mu.Lock()
				close(r.next)
				r.next = make(chan struct{})
				r.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	return r
}

// since returns a channel closed at the next connect.
func (r *reconnects) since() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next
}
