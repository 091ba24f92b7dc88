package gateway

import (
	"context"
	"sync"

	"github.com/plenario-next/exportd/schema"
)

// feeds shares one watch of a job's events among all the event streams of
// that job this gateway serves: 5 000 clients following one job cost one
// consumer on the server, not 5 000 (the stream's limit is far below).
//
// A feed keeps every event of its job it has received, from the job's
// first: a client that comes later, or resumes from an earlier id, is
// served from them, and a slow client holds nothing up, since each reads
// at its own pace. A job has a few events per part, so that is little.
// The feed ends when its last client leaves (its watch is stopped, which
// deletes the consumer) or when its watch breaks; its clients then end
// their streams and reconnect with their last id, to a new feed.
type feeds struct {
	watch func(ctx context.Context, ticket string, after uint64) (<-chan schema.Event, func(), error)
	// settle, if set, holds a terminal event back until the job document
	// shows it (Gateway.settle): once for all the feed's clients.
	settle func(ticket string, seq uint64)

	mu sync.Mutex
	m  map[string]*feed
}

func newFeeds(watch func(context.Context, string, uint64) (<-chan schema.Event, func(), error)) *feeds {
	return &feeds{watch: watch, m: map[string]*feed{}}
}

type feed struct {
	started chan struct{} // closed when the watch is made (err says how)
	err     error
	stop    func()
	clients int // guarded by feeds.mu

	mu     sync.Mutex
	events []schema.Event // every event of the job received, in order
	ready  chan struct{}  // closed, and replaced, when events grow or the feed ends
	ended  bool
}

// feedClient is one event stream's place in a feed.
type feedClient struct {
	fs     *feeds
	ticket string
	f      *feed
	pos    int    // events taken so far
	after  uint64 // the client has seen every event up to this sequence
	closed bool
}

// subscribe joins ticket's feed, making it if it is the first client, to
// receive the job's events after sequence after.
func (fs *feeds) subscribe(ticket string, after uint64) (*feedClient, error) {
	fs.mu.Lock()
	f := fs.m[ticket]
	fresh := f == nil
	if fresh {
		f = &feed{started: make(chan struct{}), ready: make(chan struct{})}
		fs.m[ticket] = f
	}
	f.clients++
	fs.mu.Unlock()
	c := &feedClient{fs: fs, ticket: ticket, f: f, after: after}
	if fresh {
		fs.start(ticket, f)
	}
	<-f.started
	if f.err != nil {
		c.close()
		return nil, f.err
	}
	return c, nil
}

// start makes f's watch, from the job's first event, and pumps it into f.
func (fs *feeds) start(ticket string, f *feed) {
	ch, stop, err := fs.watch(context.Background(), ticket, 0)
	if err != nil {
		f.err = err
		fs.mu.Lock()
		if fs.m[ticket] == f {
			delete(fs.m, ticket)
		}
		fs.mu.Unlock()
		close(f.started)
		return
	}
	f.stop = stop
	close(f.started)
	go func() {
		for e := range ch {
			if e.Kind.Terminal() && fs.settle != nil {
				fs.settle(ticket, e.Seq)
			}
			f.mu.Lock()
			f.events = append(f.events, e)
			close(f.ready)
			f.ready = make(chan struct{})
			f.mu.Unlock()
		}
		// The watch broke (or was stopped): no new client may join this
		// feed, and its clients end their streams.
		fs.mu.Lock()
		if fs.m[ticket] == f {
			delete(fs.m, ticket)
		}
		fs.mu.Unlock()
		f.mu.Lock()
		f.ended = true
		close(f.ready)
		f.mu.Unlock()
	}()
}

// next returns the events the client has not yet taken, whether the feed
// has ended, and a channel closed when there is more to take.
func (c *feedClient) next() (events []schema.Event, ended bool, ready <-chan struct{}) {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.events[c.pos:] {
		if e.Seq > c.after {
			events = append(events, e)
		}
	}
	c.pos = len(f.events)
	if n := len(events); n > 0 {
		c.after = events[n-1].Seq
	}
	return events, f.ended, f.ready
}

// close leaves the feed; the last client to leave stops its watch.
func (c *feedClient) close() {
	if c.closed {
		return
	}
	c.closed = true
	fs, f := c.fs, c.f
	fs.mu.Lock()
	f.clients--
	last := f.clients == 0
	if last && fs.m[c.ticket] == f {
		delete(fs.m, c.ticket)
	}
	fs.mu.Unlock()
	if last && f.stop != nil {
		go f.stop() // deletes the consumer: a round trip the stream need not wait for
	}
}
