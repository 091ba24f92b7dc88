package gateway

import "time"

// SetRenderChunk makes downloads cut parts into chunks of n bytes of CSV
// to render, so that tests of small parts cut them too; it returns what
// puts the size back.
func SetRenderChunk(n int) (restore func()) {
	old := renderChunk.Swap(int64(n))
	return func() { renderChunk.Store(old) }
}

// KeepPartialParts turns the cache of running jobs' part infos on or off
// in g, so that a benchmark compares both in one run.
func KeepPartialParts(g *Gateway, on bool) {
	g.partial.mu.Lock()
	defer g.partial.mu.Unlock()
	g.partial.max = 0
	if !on {
		g.partial.max = -1
	}
	g.partial.bytes, g.partial.jobs = 0, nil
}

// SetFollowStall sets how long a followed download waits for its client
// to take a write; it returns what puts it back.
func SetFollowStall(d time.Duration) (restore func()) {
	old := followStall.Swap(int64(d))
	return func() { followStall.Store(old) }
}
