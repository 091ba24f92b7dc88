package events

import (
	"io"
	"sync"
)

// A compressed part sent whole (a CSV download) is decoded a block at a
// time on a goroutine of its own, up to decodeAhead blocks ahead of the
// one being written: the next block is decoded while the client takes
// this one. s2.Reader's DecodeConcurrent(w, 1), used before, has one
// decoded buffer, so a block's decoding waited for the write of the block
// before it: in 20 M-row CSV downloads the gateway, NATS and the client
// used 1.4-1.6 s of CPU a core over 2.0-2.2 s (make bench, 2026-12-01),
// the rest of the time the decoding and the socket waiting for each other.
const decodeAhead = 1

// decodedBlocks are the buffers blocks are decoded into: decodeAhead+2 a
// download (one written, one decoded, decodeAhead handed over between).
var decodedBlocks = sync.Pool{New: func() any { b := make([]byte, 0, partBlock); return &b }}

type decodedBlock struct {
	b   *[]byte
	err error
}

// writeBlocks writes the rest of a compressed part, read from its start,
// to w, decoded ahead of the writes (decodeAhead). A failed write stops
// the part's read and waits for the decoding goroutine, so that nothing
// of the download runs on after it; the part is then done with.
func (r *PartReader) writeBlocks(w io.Writer) (int64, error) {
	blocks := make(chan decodedBlock, decodeAhead)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(blocks)
		for {
			buf := decodedBlocks.Get().(*[]byte)
			b, err := r.frames.appendBlock((*buf)[:0], r.raw)
			*buf = b
			d := decodedBlock{b: buf}
			if err != nil {
				decodedBlocks.Put(buf)
				if err == io.EOF {
					return
				}
				d = decodedBlock{err: err}
			}
			select {
			case blocks <- d:
			case <-stop:
				if d.b != nil {
					decodedBlocks.Put(d.b)
				}
				return
			}
			if d.err != nil {
				return
			}
		}
	})
	var n int64
	var err error
	for d := range blocks {
		if d.err != nil {
			err = d.err
			break
		}
		var k int
		k, err = w.Write(*d.b)
		n += int64(k)
		decodedBlocks.Put(d.b)
		if err != nil {
			break
		}
	}
	if err != nil {
		// The goroutine may be waiting for a chunk: the part's read is
		// stopped, so that it is not waited for.
		close(stop)
		r.raw.cancel()
		wg.Wait()
		for d := range blocks {
			if d.b != nil {
				decodedBlocks.Put(d.b)
			}
		}
	}
	wg.Wait()
	return n, err
}
