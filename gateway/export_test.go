package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"time"

	"github.com/klauspost/compress/s2"

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

// storedBlocks is a part read as stored, its CSV in blocks of the sizes
// given (in turn), each S2-compressed as the exporter stores them.
type storedBlocks struct {
	csv   []byte
	sizes []int
	n     int
	// damaged is the block (from 1) whose stored bytes are damaged; 0: none.
	damaged int
}

// Read is not how a stored part is read by a download.
func (s *storedBlocks) Read([]byte) (int, error) {
	return 0, errors.New("storedBlocks: read as stored")
}

var crc32c = crc32.MakeTable(crc32.Castagnoli)

func (s *storedBlocks) AppendStored(dst []byte) ([]byte, error) {
	if len(s.csv) == 0 {
		return dst, io.EOF
	}
	k := min(s.sizes[s.n%len(s.sizes)], len(s.csv))
	s.n++
	block := s.csv[:k]
	s.csv = s.csv[k:]
	c := crc32.Checksum(block, crc32c)
	c = c>>15 | c<<17 + 0xa282ead8
	dst = append(dst, 0x00, 0x00, byte(c), byte(c>>8), byte(c>>16), byte(c>>24))
	enc := s2.Encode(nil, block)
	if s.n == s.damaged {
		enc[len(enc)/2] ^= 0x10
	}
	return append(dst, enc...), nil
}

// RenderStored writes the rendering in format of csv, a part's lines, to
// w as a download renders a stored part, its blocks of the sizes given (in
// turn) decoded and cut by the render workers; with damaged > 0, that
// block's stored bytes damaged.
func RenderStored(w io.Writer, csv []byte, sizes []int, damaged int, format string, ids schema.MetaIDs) error {
	b := &layoutBody{ctx: context.Background(), format: format, ids: ids}
	return b.render(w, result.Segment{Len: -1}, &storedBlocks{csv: csv, sizes: sizes, damaged: damaged})
}
