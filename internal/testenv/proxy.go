package testenv

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy on loopback in front of a server (the shared
// ClickHouse): a test cuts it to see that server go away, for its own
// connections only, and restores it, while every other test keeps using
// the server. It can also slow the link down (SetLatency), as a server far
// away would be.
type Proxy struct {
	Addr    string // host:port to connect to instead of the server's
	target  string
	ln      net.Listener
	latency atomic.Int64 // added to every byte's trip, either way

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// MustStartProxy starts a Proxy to target and closes it when the test ends.
func MustStartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	go p.serve()
	tb.Cleanup(func() {
		_ = ln.Close()
		p.Cut()
	})
	return p
}

// Cut closes every proxied connection, and until Restore every new one at
// once: to its clients the server is gone.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// Restore lets connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// SetLatency delays every byte passed from now on, either way, by d (0:
// none), on the connections open and those to come: a slow link, as
// between a client and a NATS cluster far away. Order is kept and the
// bandwidth is not limited.
func (p *Proxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

// track records c as open, unless the proxy is cut: then it closes it and
// reports false.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) pipe(client net.Conn) {
	if !p.track(client) {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(server) {
		_ = client.Close()
		return
	}
	var wg sync.WaitGroup
	for _, d := range [][2]net.Conn{{server, client}, {client, server}} {
		wg.Go(func() {
			p.copy(d[0], d[1])
			_ = d[0].Close()
			_ = d[1].Close()
		})
	}
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// copy passes what src sends on to dst, each read the proxy's latency
// after it came, until either side fails.
func (p *Proxy) copy(dst, src net.Conn) {
	type chunk struct {
		due time.Time
		b   []byte
	}
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(time.Duration(p.latency.Load())), append([]byte(nil), buf[:n]...)}
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range q { // to its end, so that the reader never blocks on it
		if failed {
			continue
		}
		if d := time.Until(c.due); d > 0 {
			<-time.After(d) // the link's latency itself, not a test's wait
		}
		if _, err := dst.Write(c.b); err != nil {
			failed = true
			_ = src.Close()
		}
	}
}
