package gateway

import (
	"context"
	"io"
	"time"

	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

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

// SetWriteStall sets how long a download waits for its client
// to take a write; it returns what puts it back.
func SetWriteStall(d time.Duration) (restore func()) {
	old := writeStall.Swap(int64(d))
	return func() { writeStall.Store(old) }
}

// RenderCSV writes the rendering in format (JSON or NDJSON) of the CSV r
// reads, a part's lines, to w as a download renders a part: in chunks on
// every core.
func RenderCSV(w io.Writer, r io.Reader, format string, ids schema.MetaIDs) error {
	b := &layoutBody{ctx: context.Background(), format: format, ids: ids}
	return b.render(w, result.Segment{Len: -1}, r)
}
