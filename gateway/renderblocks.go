package gateway

import (
	"context"
	"io"
	"sync"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/result"
)

// A stored part is read in order by one goroutine, which only copies each
// block as stored (S2-compressed, about a seventh of its CSV) out of the
// chunk messages (feedStored): a block is a chunk, which the render worker
// that takes it decodes, cuts and renders (chunk.decode), its CSV hot in
// that core's cache throughout. The cut is the one step in order: a chunk
// waits for the one before it to be cut, and renders the lines carried
// from it (a reading's, a few hundred bytes to a few kB), copied in front
// of its own block, and its block up to its last cut. Decoding in the
// goroutine that read and cut (events.PartReader.AppendBlock) kept it busy
// 0.46 of the 1.2 s of execution the gateway's pipeline had in a 2 M-row
// JSON download, against 0.76 for both render workers (go tool trace,
// BenchmarkDownloadJSON, load 18): a serial stage of a third of the wall
// time. A stage of decoders apart from the workers showed more execution
// than it saved (2.86 against 2.04 s in four downloads' traces, load 8;
// traces of a loaded machine, so noisy): the cut and the render then read
// each block from another core's cache.

// storedReader is a part read a block at a time as stored
// (events.PartReader.AppendStored).
type storedReader interface {
	AppendStored(dst []byte) ([]byte, error)
}

// blockReserve is the room a block is decoded after in its buffer, for the
// lines carried from the chunk before to be copied in front of it.
const blockReserve = 16 << 10

// cutSpan is how far into a chunk a cut is looked for: cutWithin's size,
// a block, as cutChunks' chunks.
const cutSpan = 256 << 10

var storedBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// feedStored reads r's blocks as stored, each a chunk, and hands each to
// tasks (to be decoded, cut and rendered) and, in order, to order (to be
// sent), until r ends. A chunk is handed on once the next block is read,
// so that the last, which keeps all its lines, is known; an empty part is
// one empty chunk.
func feedStored(ctx context.Context, r storedReader, tasks, order chan<- *chunk) error {
	var prev, held *chunk
	for {
		stored := storedBuffers.Get().(*[]byte)
		var err error
		if *stored, err = r.AppendStored((*stored)[:0]); err != nil {
			storedBuffers.Put(stored)
			if err != io.EOF {
				if held != nil {
					storedBuffers.Put(held.stored)
				}
				return err
			}
			if held == nil {
				held = &chunk{prev: prev, done: make(chan struct{}), carried: make(chan struct{})}
			}
			held.last = true
			return handOn(ctx, held, tasks, order)
		}
		if held != nil {
			if err := handOn(ctx, held, tasks, order); err != nil {
				storedBuffers.Put(stored)
				return err
			}
			prev = held
		}
		held = &chunk{stored: stored, prev: prev, done: make(chan struct{}), carried: make(chan struct{})}
	}
}

// decode makes c's lines of its stored block: decoded after blockReserve
// bytes of a buffer (c.in), the lines carried from the chunk before copied
// in front, cut (but for the last chunk) at the last cut cutWithin finds,
// the lines after it carried to the next chunk. A chunk whose block, or
// one before it, fails is its error.
func (c *chunk) decode() error {
	c.in = chunkBuffers.Get().(*[]byte)
	if cap(*c.in) < blockReserve {
		*c.in = make([]byte, 0, 384<<10)
	}
	var err error
	block := (*c.in)[:blockReserve]
	if c.stored != nil {
		block, err = events.DecodeBlock(block, *c.stored)
		storedBuffers.Put(c.stored)
		c.stored = nil
	}
	*c.in = block
	var carry []byte
	if c.prev != nil {
		<-c.prev.carried
		if err == nil {
			err = c.prev.cutErr
		}
		carry = c.prev.carry
		c.prev = nil // not a chain of a part's chunks kept
	}
	if err != nil {
		c.cutErr = err
		close(c.carried)
		return err
	}
	buf := block[blockReserve-min(len(carry), blockReserve):]
	if len(carry) <= blockReserve {
		copy(buf, carry)
	} else { // no cut in the blocks before: all of them, rarely
		buf = append(append(make([]byte, 0, len(carry)+len(block)), carry...), block[blockReserve:]...)
	}
	cut := len(buf)
	if !c.last {
		// Within the last 64 lines (cutAt) of a chunk of a block and the few
		// lines carried; of one that carries more, within its first half or
		// more: what is carried stays within about a block.
		cut = cutWithin(buf, max(cutSpan, len(buf)-cutSpan)) // 0: no place to cut, all carried
	}
	c.lines, c.carry = buf[:cut], append([]byte(nil), buf[cut:]...)
	close(c.carried)
	return nil
}

// renderLines renders c's lines with r, Reset: as a Renderer of their own
// would; in pieces of renderChunk bytes cut as chunks are, when it is
// smaller than they are (a test's), each rendered as a chunk of its own.
func renderLines(r *result.Renderer, c *chunk) error {
	out := (*c.out)[:0]
	size := int(renderChunk.Load())
	for rest := c.lines; ; {
		k := len(rest)
		if k > size && size < cutSpan {
			if k = cutWithin(rest, size); k == 0 {
				k = len(rest)
			}
		}
		r.Reset()
		var err error
		out, err = r.AppendLines(out, rest[:k])
		out = r.Close(out)
		*c.out = out
		if err != nil || k == len(rest) {
			return err
		}
		rest = rest[k:]
	}
}
