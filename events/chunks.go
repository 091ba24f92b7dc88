package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// chunkAheadBytes is about how many bytes of chunks a reader asks for in
// one batched direct get, and holds ahead of the one it serves in each of
// its two stages (received, waiting for the reader; asked for, on their
// way): enough that the next batch is on its way while this one is sent,
// little enough that hundreds of downloads at once hold little. A part's
// chunks are its S2 blocks as stored (tens of KiB each), so a batch is a
// few dozen of them.
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
		if s, err = b.JS.Stream(ctx, "OBJ_"+bucket); err != nil {
			return chunkSource{}, unavailable("result stream", err)
		}
		b.streamsMu.Lock()
		if b.streams == nil {
			b.streams = map[string]jetstream.Stream{}
		}
		b.streams[bucket] = s
		b.streamsMu.Unlock()
	}
	return chunkSource{nc: b.NC, stream: s, direct: s.CachedInfo().Config.AllowDirect}, nil
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

// directGetRequest is the server's JSApiMsgGetRequest, the fields a batch
// of one subject's messages needs (nats-server 2.11 and later): payloads
// only, no headers, since chunks have none of their own and the end of the
// batch says where it stopped.
type directGetRequest struct {
	Seq       uint64 `json:"seq,omitempty"`
	NextFor   string `json:"next_by_subj"`
	Batch     int    `json:"batch"`
	NoHeaders bool   `json:"no_hdr"`
}

// batches fetches n chunks of subject with batched direct gets: each
// answer is the batch's messages, then an end-of-batch status (204) with
// the last sequence sent. The next batch is asked for as soon as that end
// arrives, before the batch's last chunk is handed over, so one is always
// on its way while the reader sends. At most two batches are in the
// subscription's channel at once, which is sized for them (a full one
// would drop messages).
func (s chunkSource) batches(ctx context.Context, subject string, n, per uint32, out chan<- chunk) error {
	msgs := make(chan *nats.Msg, 2*per+2)
	sub, err := s.nc.ChanSubscribe(s.nc.NewInbox(), msgs) // not under the response mux, which would receive every chunk too
	if err != nil {
		return unavailable("read part", err)
	}
	defer sub.Unsubscribe()
	apiSubj := jetstream.DefaultAPIPrefix + "DIRECT.GET." + s.stream.CachedInfo().Config.Name
	receive := func() (*nats.Msg, error) {
		t := time.NewTimer(partIdle)
		defer t.Stop()
		select {
		case m := <-msgs:
			return m, nil
		case <-t.C:
			return nil, nats.ErrTimeout
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	hand := func(data []byte) error {
		select {
		case out <- chunk{data: data}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ask := func(from uint64, batch uint32) error {
		req, _ := json.Marshal(directGetRequest{Seq: from, NextFor: subject, Batch: int(batch), NoHeaders: true})
		if err := s.nc.PublishRequest(apiSubj, sub.Subject, req); err != nil {
			return unavailable("read part", err)
		}
		return nil
	}
	got := uint32(0)
	if err := ask(1, min(n, per)); err != nil {
		return err
	}
	for got < n {
		batch := min(n-got, per)
		var last []byte // the batch's last chunk, handed over after its end
		for i := uint32(0); i < batch; i++ {
			m, err := receive()
			if err != nil {
				return readFailed(got, n, err)
			}
			if status := m.Header.Get("Status"); status != "" {
				return readFailed(got, n, fmt.Errorf("direct get: status %s %s", status, m.Header.Get("Description")))
			}
			got++
			if i == batch-1 {
				last = m.Data
			} else if err := hand(m.Data); err != nil {
				return err
			}
		}
		m, err := receive()
		if err != nil {
			return readFailed(got, n, err)
		}
		lseq, perr := strconv.ParseUint(m.Header.Get(jetstream.LastSequenceHeader), 10, 64)
		if m.Header.Get("Status") != "204" || perr != nil {
			return readFailed(got, n, fmt.Errorf("direct get: no end of batch (status %q)", m.Header.Get("Status")))
		}
		if got < n {
			// Ask for the next batch first: it is on its way while this
			// chunk waits for the reader.
			if err := ask(lseq+1, min(n-got, per)); err != nil {
				return err
			}
		}
		if err := hand(last); err != nil {
			return err
		}
	}
	return nil
}

// oneByOne fetches n chunks of subject one after another through the
// stream leader (a get by sequence, next by subject): slower than a batch,
// but never from a replica that lags behind.
func (s chunkSource) oneByOne(ctx context.Context, subject string, n uint32, out chan<- chunk) error {
	seq := uint64(1)
	for got := uint32(0); got < n; got++ {
		gctx, cancel := context.WithTimeout(ctx, partIdle)
		m, err := s.stream.GetMsg(gctx, seq, jetstream.WithGetMsgSubject(subject))
		cancel()
		if err != nil {
			return readFailed(got, n, err)
		}
		seq = m.Sequence + 1
		select {
		case out <- chunk{data: m.Data}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
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
