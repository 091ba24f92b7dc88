package events

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/plenario-next/exportd/schema"
)

// partIdle is how long a part read waits for its next chunk before it
// gives up: the server is gone or the stream lost the object.
const partIdle = 30 * time.Second

// PartReader reads a stored part: its chunks straight from the object
// store's stream, in order, and, for a part stored compressed, the CSV
// decoded from them. Unlike the object store's own Get, it does not pass
// every byte through a pipe and a second SHA-256 (the digest was taken when
// the part was stored, and the manifest publishes it); downloads are served
// from the chunk messages themselves.
type PartReader struct {
	raw *chunkReader
	// compressed: stored S2-compressed; dec, its s2.Reader, made at the first Read or
	// Skip: NewReader allocates a 300 KiB buffer, which a part sent whole
	// (writeBlocks) or rendered (AppendBlock) never uses, and a 20 M-row
	// download opens 80 parts.
	compressed bool
	dec        *s2.Reader
	// frames reads a compressed part for AppendBlock (s2block.go).
	frames s2Frames
	size   int64 // of the CSV
	fresh  bool  // nothing read or skipped yet
}

// OpenPart opens a stored part for reading.
func (b *Bus) OpenPart(ctx context.Context, ticket string, part int) (*PartReader, error) {
	info, err := b.partInfo(ctx, ticket, part)
	if err != nil {
		return nil, err
	}
	raw, err := b.openChunks(ctx, info)
	if err != nil {
		return nil, err
	}
	sp, err := storedPart(info)
	if err != nil {
		raw.Close()
		return nil, err
	}
	r := &PartReader{raw: raw, size: sp.Bytes, fresh: true}
	if sp.Encoding == EncodingS2 {
		r.compressed = true
	}
	return r, nil
}

// decoder is the part's s2.Reader, made at its first use.
func (r *PartReader) decoder() *s2.Reader {
	if r.dec == nil {
		r.dec = s2.NewReader(r.raw, s2.ReaderMaxBlockSize(partBlock))
	}
	return r.dec
}

// Size is the part's length in bytes, as CSV.
func (r *PartReader) Size() int64 { return r.size }

// Read implements io.Reader.
func (r *PartReader) Read(p []byte) (int, error) {
	r.fresh = false
	if r.compressed {
		return r.decoder().Read(p)
	}
	return r.raw.Read(p)
}

// WriteTo writes the rest of the part to w, chunk by chunk or, from a
// compressed part's start, block by block decoded ahead (writeBlocks).
func (r *PartReader) WriteTo(w io.Writer) (int64, error) {
	switch {
	case !r.compressed:
		return r.raw.WriteTo(w)
	case r.fresh:
		r.fresh = false
		return r.writeBlocks(w)
	}
	return io.Copy(w, struct{ io.Reader }{r.decoder()})
}

// Compressed reports whether the part is stored S2-compressed, and so
// whether WriteStoredTo can send it as stored.
func (r *PartReader) Compressed() bool { return r.compressed }

// WriteStoredTo writes the rest of the part as stored, an S2 stream of
// its CSV, without decoding it: for a client that decodes S2 itself
// (a download with Content-Encoding: s2), about an eighth of the bytes
// and none of the decoding. Only for a compressed part (Compressed), read
// from its start; a stream shorter or longer than the object is an error.
func (r *PartReader) WriteStoredTo(w io.Writer) (int64, error) {
	if !r.compressed || !r.fresh {
		return 0, errors.New("events: a part's stored bytes are sent only from the start of a compressed part")
	}
	r.fresh = false
	n, err := r.raw.WriteTo(w)
	if err == nil && uint64(n) != r.raw.info.Size {
		err = schema.Errorf(schema.Internal, "part %s: %d bytes read, the object has %d", r.raw.info.Name, n, r.raw.info.Size)
	}
	return n, err
}

// Skip passes over n bytes.
func (r *PartReader) Skip(n int64) error {
	r.fresh = false
	if r.compressed {
		return r.decoder().Skip(n)
	}
	return r.raw.Skip(n)
}

// Start waits until the part's first bytes have arrived, or its read has
// failed: a download that cannot start is then an error its client is
// told, not a response cut short before its first byte.
func (r *PartReader) Start() error { return r.raw.startWait() }

// Close stops the part's read and waits until nothing of it is left.
func (r *PartReader) Close() error { return r.raw.Close() }
