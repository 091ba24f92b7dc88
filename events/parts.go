package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// Object metadata of a stored part. A part is stored as S2-compressed CSV
// (MetaEncoding "s2"): CSV of sensor readings shrinks about eightfold, and
// every stored byte is written to and read back from NATS's files and
// copied through its connections on the way to a download. Parts stored
// before that, without MetaEncoding, are the CSV itself and still read.
const (
	MetaRows     = "rows"
	MetaPart     = "part"
	MetaEncoding = "encoding"
	MetaSize     = "size"   // CSV bytes
	MetaSHA256   = "sha256" // of the CSV, lowercase hex
	EncodingS2   = "s2"
)

// partBlock is the S2 block of stored parts: what a writer and a reader
// hold at once, and the most a range request decodes without sending.
const partBlock = 256 << 10

// StoredPart is a stored part as readers see it.
type StoredPart struct {
	Rows     int64
	Bytes    int64  // of the CSV
	SHA256   string // of the CSV, lowercase hex
	Encoding string // EncodingS2, or "" for the CSV itself
	Stored   int64  // bytes in the object store
}

// storedPart reads a part's object info.
func storedPart(info *jetstream.ObjectInfo) (StoredPart, error) {
	sp := StoredPart{Bytes: int64(info.Size), Stored: int64(info.Size), Encoding: info.Metadata[MetaEncoding]}
	sp.Rows, _ = strconv.ParseInt(info.Metadata[MetaRows], 10, 64)
	switch sp.Encoding {
	case "":
		sum, err := jetstream.DecodeObjectDigest(info.Digest)
		if err != nil {
			return sp, schema.Wrap(schema.Internal, "part digest", err)
		}
		sp.SHA256 = hex.EncodeToString(sum)
	case EncodingS2:
		n, err := strconv.ParseInt(info.Metadata[MetaSize], 10, 64)
		if err != nil || len(info.Metadata[MetaSHA256]) != 2*sha256.Size {
			return sp, schema.Errorf(schema.Internal, "part %s: no size or digest of its CSV", info.Name)
		}
		sp.Bytes, sp.SHA256 = n, info.Metadata[MetaSHA256]
	default:
		return sp, schema.Errorf(schema.Internal, "part %s: unknown encoding %q", info.Name, sp.Encoding)
	}
	return sp, nil
}

// Part returns a stored part's description.
func (b *Bus) Part(ctx context.Context, ticket string, part int) (StoredPart, error) {
	info, err := b.PartInfo(ctx, ticket, part)
	if err != nil {
		return StoredPart{}, err
	}
	return storedPart(info)
}

// QueuePart publishes a partition work item. Its Msg-Id makes a planner
// that runs twice (after a crash) queue each part once.
func (b *Bus) QueuePart(ctx context.Context, t schema.PartTask) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	m := nats.NewMsg(schema.PartSubject(t.Ticket))
	m.Data = data
	_, err = b.JS.PublishMsg(ctx, m, jetstream.WithMsgID(fmt.Sprintf("%s.part.%d", t.Ticket, t.Spec.Part)))
	if err != nil {
		return unavailable("queue part", err)
	}
	return nil
}

// PutPart stores a part, the CSV read from r to EOF, under its
// deterministic name: storing a part again replaces it, so a redone part
// never adds rows. It compresses while it stores: r is read in a goroutine
// of its own, which has returned when PutPart does.
func (b *Bus) PutPart(ctx context.Context, ticket string, part int, rows func() int64, r io.Reader) (StoredPart, error) {
	meta := jetstream.ObjectMeta{Name: schema.PartObject(ticket, part),
		Metadata: map[string]string{MetaEncoding: EncodingS2, MetaPart: strconv.Itoa(part)},
		Opts:     &jetstream.ObjectMetaOptions{ChunkSize: b.chunkSize()}}
	csv := &digestWriter{h: sha256.New()}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		zw := s2.NewWriter(pw, s2.WriterConcurrency(1), s2.WriterBlockSize(partBlock))
		_, err := zw.ReadFrom(io.TeeReader(r, csv))
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		pw.CloseWithError(err) // nil: EOF
		done <- err
	}()
	info, err := b.Results.Put(ctx, meta, pr)
	pr.CloseWithError(io.ErrClosedPipe) // stops the goroutine if Put stopped early
	if gerr := <-done; err == nil && gerr != nil && gerr != io.ErrClosedPipe {
		err = gerr
	}
	if err != nil {
		return StoredPart{}, err
	}
	// Rows, size and digest are known only at EOF: record them on the
	// object too, so that a manifest can be built from the store alone.
	sp := StoredPart{Rows: rows(), Bytes: csv.n, SHA256: hex.EncodeToString(csv.h.Sum(nil)), Encoding: EncodingS2,
		Stored: int64(info.Size)}
	meta.Metadata[MetaRows] = strconv.FormatInt(sp.Rows, 10)
	meta.Metadata[MetaSize] = strconv.FormatInt(sp.Bytes, 10)
	meta.Metadata[MetaSHA256] = sp.SHA256
	meta.Opts = nil
	if err := b.Results.UpdateMeta(ctx, meta.Name, meta); err != nil {
		return StoredPart{}, unavailable("part metadata", err)
	}
	if b.Config.Replicas > 1 {
		if err := b.verifyPart(ctx, info); err != nil {
			return StoredPart{}, err
		}
	}
	return sp, nil
}

// digestWriter hashes and counts what is written to it.
type digestWriter struct {
	h hash.Hash
	n int64
}

func (d *digestWriter) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return d.h.Write(p)
}

// verifyPart reads a just-stored part back and compares its digest with
// the one taken while storing it. On a replicated store, a chunk published
// during a stream leader election gets "no responders", and nats.go's
// async publish retries it by publishing the same *nats.Msg again, whose
// Data the object store's Put has meanwhile refilled with a later chunk:
// Put succeeds and the object holds wrong bytes (seen in internal/faults
// TestNATSNodeDown as downloads with rows cut or out of order). A part that
// fails the check is Unavailable, so it is redone.
func (b *Bus) verifyPart(ctx context.Context, info *jetstream.ObjectInfo) error {
	r, err := b.openChunks(ctx, info)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return unavailable("verify part", err)
	}
	if got := jetstream.GetObjectDigestValue(h); got != info.Digest {
		return unavailable("verify part", fmt.Errorf("%s stored with digest %s, want %s", info.Name, got, info.Digest))
	}
	return nil
}

// chunkSize is the object store chunk for parts: large, since every chunk
// is a message with its own costs on the way in and out, but at most half
// the server's max payload (1 MiB by default on a nats-server of its own).
func (b *Bus) chunkSize() uint32 {
	if mp := b.NC.MaxPayload() / 2; mp > 0 && mp < MaxChunkSize {
		return uint32(mp)
	}
	return MaxChunkSize
}

// PartInfo returns a stored part's info.
func (b *Bus) PartInfo(ctx context.Context, ticket string, part int) (*jetstream.ObjectInfo, error) {
	info, err := b.Results.GetInfo(ctx, schema.PartObject(ticket, part))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, schema.Errorf(schema.NotFound, "the result of this job is no longer stored")
	}
	if err != nil {
		return nil, unavailable("part info", err)
	}
	return info, nil
}

// DeleteParts removes a job's stored parts; missing ones are fine.
func (b *Bus) DeleteParts(ctx context.Context, ticket string, parts int) error {
	for i := 1; i <= parts; i++ {
		if err := b.DeletePart(ctx, ticket, i); err != nil {
			return err
		}
	}
	return nil
}

// DeletePart removes one stored part; a missing one is fine.
func (b *Bus) DeletePart(ctx context.Context, ticket string, part int) error {
	if err := b.Results.Delete(ctx, schema.PartObject(ticket, part)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return unavailable("delete part", err)
	}
	return nil
}
