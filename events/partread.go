package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// partIdle is how long a part read waits for its next chunk before it
// gives up: the server is gone or the stream lost the object.
const partIdle = 30 * time.Second

// partPrefetch is how many chunks a reader asks for ahead of the one it
// serves: enough to keep the connection busy, few enough that a download
// holds a few MiB at most.
const partPrefetch = 4

// PartReader reads a stored part's chunks straight from the object store's
// stream, in order. Unlike the object store's own Get, it does not pass
// every byte through a pipe and a second SHA-256 (the digest was taken when
// the part was stored, and the manifest publishes it); downloads are served
// from the chunk messages themselves.
type PartReader struct {
	info   *jetstream.ObjectInfo
	it     jetstream.MessagesContext
	chunks uint32 // received so far
	buf    []byte // the unread rest of the current chunk
	err    error
}

// OpenPart opens a stored part for reading.
func (b *Bus) OpenPart(ctx context.Context, ticket string, part int) (*PartReader, error) {
	info, err := b.PartInfo(ctx, ticket, part)
	if err != nil {
		return nil, err
	}
	r := &PartReader{info: info}
	if info.Chunks == 0 {
		return r, nil
	}
	stream := "OBJ_" + ResultBucket
	cons, err := b.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"$O." + ResultBucket + ".C." + info.NUID},
	})
	if err != nil {
		return nil, unavailable("open part", err)
	}
	if r.it, err = cons.Messages(jetstream.PullMaxMessages(partPrefetch)); err != nil {
		return nil, unavailable("open part", err)
	}
	return r, nil
}

// Size is the part's length in bytes.
func (r *PartReader) Size() int64 { return int64(r.info.Size) }

// next makes buf the next chunk; io.EOF after the last one.
func (r *PartReader) next() error {
	if r.err != nil {
		return r.err
	}
	if r.chunks == r.info.Chunks {
		r.err = io.EOF
		return r.err
	}
	m, err := r.it.Next(jetstream.NextMaxWait(partIdle))
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			err = io.ErrClosedPipe
		}
		r.err = schema.Wrap(schema.Unavailable, "reading the result failed", fmt.Errorf("part chunk %d of %d: %w", r.chunks+1, r.info.Chunks, err))
		return r.err
	}
	r.chunks++
	r.buf = m.Data()
	return nil
}

// Read implements io.Reader.
func (r *PartReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// WriteTo writes the rest of the part to w, chunk by chunk, without an
// intermediate buffer.
func (r *PartReader) WriteTo(w io.Writer) (int64, error) {
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
func (r *PartReader) Skip(n int64) error {
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

// Close frees the ordered consumer.
func (r *PartReader) Close() error {
	if r.it != nil {
		r.it.Stop()
		r.it = nil
	}
	if r.err == nil {
		r.err = io.ErrClosedPipe
	}
	return nil
}
