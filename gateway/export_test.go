package gateway

import (
	"context"
	"encoding/json"
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

// Head is the part of a job record the gateway's watch reads.
type Head struct {
	Status, ExpiresAt, Client string
	Seq                       uint64
}

// DecodeHead reads a record's head as the watch does (the scan, with
// json.Unmarshal where it cannot tell); UnmarshalHead reads it as the watch
// did, with json.Unmarshal alone, for the benchmark and the tests to compare.
func DecodeHead(raw []byte) (Head, bool) {
	h, ok := decodeHead(raw)
	return Head{h.Job.Status.Status, h.Job.Status.Meta.ExpiresAt, h.Client, h.Seq}, ok
}

func UnmarshalHead(raw []byte) (Head, bool) {
	var h recordHead
	ok := json.Unmarshal(raw, &h) == nil
	return Head{h.Job.Status.Status, h.Job.Status.Meta.ExpiresAt, h.Client, h.Seq}, ok
}

// ScanHead is the scan alone: false where it leaves the record to
// json.Unmarshal.
func ScanHead(raw []byte) bool {
	_, ok := scanHead(raw)
	return ok
}

// NormRequest is what a request's digest hashes.
type NormRequest = normRequest

// NormJSON writes n as normalized does; NormMarshal as json.Marshal does.
func NormJSON(n NormRequest) []byte { return n.json() }

func NormMarshal(n NormRequest) []byte {
	b, _ := json.Marshal(&n)
	return b
}
