package events

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// chunkAheadBytes is about how many bytes of chunks a reader asks for in
// one batched direct get, and holds ahead of the one it serves in each of
// its two stages (received, waiting for the reader; asked for, on their
// way): enough that the next batch is on its way while this one is sent,
// little enough that hundreds of downloads at once hold little. A part's
// chunks are whole chunks of the store (512 KiB; parts stored before were
// one S2 block each, tens of KiB), so a batch is one of them (or a few
// dozen of the old).
const chunkAheadBytes = 512 << 10

// chunkBatch is how many of info's chunks make about chunkAheadBytes.
func chunkBatch(info *jetstream.ObjectInfo) uint32 {
	if info.Chunks == 0 {
		return 1
	}
	avg := max(1, info.Size/uint64(info.Chunks))
	return uint32(min(256, max(1, chunkAheadBytes/avg)))
}

// chunkReader reads an object's chunks, as stored, by stream sequence: no
// consumer is made, so a read leaves nothing on the server when it ends,
// however it ends. A fetcher goroutine asks for the chunks ahead of the
// reader, a batch at a time, and hands them over in order.
type chunkReader struct {
	info   *jetstream.ObjectInfo
	chunks chan chunk // from the fetcher, in order; closed after the last or an error
	cancel context.CancelFunc
	done   chan struct{} // closed when the fetcher has returned
	got    uint32        // chunks received so far
	buf    []byte        // the unread rest of the current chunk
	err    error
}

type chunk struct {
	data []byte
	err  error
}

// chunkSource is the object store stream a chunk reader reads from: with
// direct gets allowed, batches of chunks from any replica that is current;
// without (a replicated store, see leaderReads), one chunk at a time from
// the stream leader.
type chunkSource struct {
	nc     *nats.Conn
	stream jetstream.Stream
	direct bool
}

// objectStream returns the source of a bucket's chunks. The stream handle
// is looked up once per bucket: a download opens one reader per part.
func (b *Bus) objectStream(ctx context.Context, bucket string) (chunkSource, error) {
	b.streamsMu.Lock()
	s, ok := b.streams[bucket]
	b.streamsMu.Unlock()
	if !ok {
		var err error
		if s, err = b.js.Stream(ctx, "OBJ_"+bucket); err != nil {
			return chunkSource{}, unavailable("result stream", err)
		}
		b.streamsMu.Lock()
		if b.streams == nil {
			b.streams = map[string]jetstream.Stream{}
		}
		b.streams[bucket] = s
		b.streamsMu.Unlock()
	}
	return chunkSource{nc: b.nc, stream: s, direct: s.CachedInfo().Config.AllowDirect}, nil
}

// openChunks starts reading an object's chunks. The context bounds the
// whole read; Close ends it sooner.
func (b *Bus) openChunks(ctx context.Context, info *jetstream.ObjectInfo) (*chunkReader, error) {
	batch := chunkBatch(info)
	r := &chunkReader{info: info, chunks: make(chan chunk, batch), done: make(chan struct{})}
	if info.Chunks == 0 {
		close(r.chunks)
		close(r.done)
		r.cancel = func() {}
		return r, nil
	}
	src, err := b.objectStream(ctx, info.Bucket)
	if err != nil {
		return nil, err
	}
	fctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	subject := "$O." + info.Bucket + ".C." + info.NUID
	go func() {
		defer close(r.done)
		defer close(r.chunks)
		var err error
		if src.direct {
			err = src.batches(fctx, subject, info.Chunks, batch, r.chunks)
		} else {
			err = src.oneByOne(fctx, subject, info.Chunks, r.chunks)
		}
		if err != nil && fctx.Err() == nil {
			select {
			case r.chunks <- chunk{err: err}:
			case <-fctx.Done():
			}
		}
	}()
	return r, nil
}

// readFailed is the error of a read that stopped before chunk got+1 of n:
// the server is away, or the object lost chunks (deleted while read).
func readFailed(got, n uint32, err error) error {
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		err = fmt.Errorf("chunk missing: %w", err)
	}
	return schema.Wrap(schema.Unavailable, "reading the result failed", fmt.Errorf("part chunk %d of %d: %w", got+1, n, err))
}

// next makes buf the next chunk; io.EOF after the last one.
func (r *chunkReader) next() error {
	if r.err != nil {
		return r.err
	}
	if r.got == r.info.Chunks {
		r.err = io.EOF
		return r.err
	}
	c, ok := <-r.chunks
	switch {
	case !ok:
		r.err = io.ErrClosedPipe
		if r.got < r.info.Chunks {
			r.err = readFailed(r.got, r.info.Chunks, io.ErrUnexpectedEOF)
		}
		return r.err
	case c.err != nil:
		r.err = c.err
		return r.err
	}
	r.got++
	r.buf = c.data
	return nil
}

// Read implements io.Reader.
func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// WriteTo writes the rest of the chunks to w without an intermediate
// buffer.
func (r *chunkReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.buf) == 0 {
			if err := r.next(); err == io.EOF {
				return total, nil
			} else if err != nil {
				return total, err
			}
			continue
		}
		n, err := w.Write(r.buf)
		total += int64(n)
		r.buf = r.buf[n:]
		if err != nil {
			return total, err
		}
	}
}

// Skip passes over n bytes without copying them.
func (r *chunkReader) Skip(n int64) error {
	for n > 0 {
		if len(r.buf) == 0 {
			if err := r.next(); err != nil {
				return err
			}
		}
		k := min(n, int64(len(r.buf)))
		r.buf = r.buf[k:]
		n -= k
	}
	return nil
}

// Close stops the fetcher and waits for it, so that nothing of the read
// is left running.
func (r *chunkReader) Close() error {
	r.cancel()
	<-r.done
	if r.err == nil {
		r.err = io.ErrClosedPipe
	}
	r.buf = nil
	return nil
}

// startWait waits for the first chunk (or the read's failure), so that a
// download that cannot start is told before any byte of it is sent.
func (r *chunkReader) startWait() error {
	if len(r.buf) > 0 || r.got > 0 || r.info.Chunks == 0 {
		return nil
	}
	if err := r.next(); err != nil && err != io.EOF {
		return err
	}
	return nil
}
