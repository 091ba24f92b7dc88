package events

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// A part is stored first writer wins. The same part may be stored by two
// deliveries at once: an exporter that stalled past the ack wait (stopped,
// swapped out) goes on storing it while another has taken it again. The
// object store's Put and UpdateMeta would replace whatever is there: the
// part that a first part_done had announced (its digest, its size) gave way
// to a second read of the slice, which may hold rows loaded since, and the
// chunks of the first were purged under any download of them.
//
// So a part is written in the object store's own layout (its chunks on
// $O.<bucket>.C.<nuid>, its metadata on $O.<bucket>.M.<base64url name>
// under Nats-Rollup: sub), by the writer itself: the chunks under a NUID of
// the writer's own, which nobody else reads, then the part's metadata,
// whole, in one message, published only if the metadata subject's last
// message is still the one the writer read just before
// (Nats-Expected-Last-Subject-Sequence, as KV Create does). That message is
// the commit. A writer that read a whole part there, or whose publish is
// refused because another writer's commit came between, purges its chunks
// and returns the part stored (ErrPartStored). Reading the subject just
// before the publish is as good as reading it when the writer started: a
// commit before the read is seen, one after it fails the publish.
//
// What the writer publishes reads back with the object store's GetInfo and
// Get (the same ObjectInfo JSON, digest "SHA-256=" base64url) and with our
// chunk reader. A part's Parquet file is chunks of its own NUID with no
// metadata of its own: the part's metadata records them (MetaParquetNUID),
// so that the one commit describes both and a later writer cannot replace
// the Parquet file that the winner's CSV describes.

// ErrPartStored is what PartWriter.Close returns, with the part as stored,
// when another writer stored the part first: the part that writer stored
// stands, and this writer's bytes are dropped.
var ErrPartStored = errors.New("events: part stored meanwhile by another writer")

// chunksInFlight is how many of an object's chunks may wait for their acks
// at once, each in a buffer of its own until acknowledged: nats.go's async
// publish, given "no responders" (a stream leader being elected), publishes
// the same message again, so a buffer refilled before its ack would be
// published with a later chunk's bytes (see verifyPart). Two keep the
// writer going: a chunk is several MB of CSV to compress, far longer than
// its ack takes.
const chunksInFlight = 2

// chunkAckWait is how long a chunk's ack may take: nats.go's own timeout for
// a JetStream request, which its Put gave each chunk.
const chunkAckWait = 5 * time.Second

func chunkSubject(nuid string) string { return "$O." + ResultBucket + ".C." + nuid }

func metaSubject(name string) string {
	return "$O." + ResultBucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name))
}

// putChunks publishes what r returns, one chunk a Read, on info's NUID, and
// records the object's size, chunks and digest in info. It returns when
// every chunk it published is acknowledged or failed, so that a purge of
// its subject after it leaves nothing: a failed or dropped object's chunks
// are the caller's to purge.
func (b *Bus) putChunks(info *jetstream.ObjectInfo, r io.Reader) error {
	subject, h := chunkSubject(info.NUID), sha256.New()
	var inFlight [chunksInFlight]struct {
		ack jetstream.PubAckFuture
		buf []byte
	}
	var err error
	for i := 0; err == nil; i++ {
		c := &inFlight[i%chunksInFlight]
		if c.ack != nil {
			if err = awaitChunk(c.ack); err != nil {
				c.ack = nil
				break
			}
			c.ack = nil
		}
		if c.buf == nil {
			c.buf = chunkBuffer(int(info.Opts.ChunkSize))
		}
		n, rerr := r.Read(c.buf)
		if n > 0 {
			h.Write(c.buf[:n])
			if c.ack, err = b.chunkJS.PublishMsgAsync(&nats.Msg{Subject: subject, Data: c.buf[:n]}); err != nil {
				break
			}
			info.Size += uint64(n)
			info.Chunks++
		}
		if rerr == io.EOF {
			break
		}
		err = rerr
	}
	for _, c := range inFlight {
		if c.ack != nil {
			if aerr := awaitChunk(c.ack); err == nil {
				err = aerr
			}
		}
		if c.buf != nil {
			chunkBuffers.Put(&c.buf)
		}
	}
	if err != nil {
		return err
	}
	info.Digest = jetstream.GetObjectDigestValue(h)
	return nil
}

// chunkBuffers are putChunks's buffers, given back once their chunks are
// acknowledged: a part's chunk is as large as a message may be (1 MiB on a
// server of its own), and each part allocated one for each of its objects.
var chunkBuffers sync.Pool

func chunkBuffer(size int) []byte {
	if b, _ := chunkBuffers.Get().(*[]byte); b != nil && cap(*b) >= size {
		return (*b)[:size]
	}
	return make([]byte, size)
}

// awaitChunk waits for a chunk's ack; the chunk context's timeout
// (chunkAckWait) bounds it.
func awaitChunk(f jetstream.PubAckFuture) error {
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return err
	}
}

// lastMeta reads an object's metadata as its subject's last message holds
// it: nil and 0 if there is none, a deletion marker (Deleted) if deleted.
func (b *Bus) lastMeta(ctx context.Context, name string) (*jetstream.ObjectInfo, uint64, error) {
	src, err := b.objectStream(ctx, ResultBucket)
	if err != nil {
		return nil, 0, err
	}
	m, err := src.stream.GetLastMsgForSubject(ctx, metaSubject(name))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, unavailable("part metadata", err)
	}
	var info jetstream.ObjectInfo
	if err := json.Unmarshal(m.Data, &info); err != nil {
		return nil, 0, schema.Wrap(schema.Internal, "part metadata", fmt.Errorf("%s: %w", name, err))
	}
	info.ModTime = m.Time
	return &info, m.Sequence, nil
}

// publishMeta publishes an object's metadata, in place of the subject's
// earlier messages, if the subject's last message is still seq (0: none).
func (b *Bus) publishMeta(ctx context.Context, info *jetstream.ObjectInfo, seq uint64) error {
	out := *info
	out.ModTime = time.Time{} // the server's time is the message's, as nats.go stores it
	data, err := json.Marshal(&out)
	if err != nil {
		return err
	}
	m := nats.NewMsg(metaSubject(info.Name))
	m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	m.Data = data
	_, err = b.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(seq))
	return err
}

// wrongLastSequence reports whether err is a conditional publish refused
// because the subject has moved on: 10071, or 10164 from a replicated
// stream.
func wrongLastSequence(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// commit publishes the part's metadata, info, if no whole part is stored
// under its name (first writer wins), and returns sp. Otherwise it returns
// the part stored and ErrPartStored, and Close drops this writer's chunks.
func (w *PartWriter) commit(info *jetstream.ObjectInfo, sp StoredPart) (StoredPart, error) {
	ctx := w.csv.ctx
	was, seq, err := w.b.lastMeta(ctx, info.Name)
	if err != nil {
		return StoredPart{}, err
	}
	if w.beforePublish != nil {
		w.beforePublish()
	}
	if won, ok := storedWhole(was); ok {
		return won, ErrPartStored
	}
	if err = w.b.publishMeta(ctx, info, seq); err == nil {
		// What a failed store left there (the chunks of an exporter of
		// before, whose Put stored the metadata before its rows) is
		// nobody's now.
		if was != nil && !was.Deleted {
			_ = w.b.purgeObjectChunks(ctx, was)
		}
		return sp, nil
	}
	// Refused by the server (another commit came between, or no room),
	// or without an answer: stored all the same, maybe, or still to be.
	now, nowSeq, rerr := w.b.lastMeta(ctx, info.Name)
	var api *jetstream.APIError
	switch {
	case rerr == nil && now != nil && now.NUID == info.NUID:
		return sp, nil // stored; the answer was lost
	case rerr != nil || (nowSeq == seq && !errors.As(err, &api)):
		// Whether this writer's metadata is stored, or will be, is not
		// known: nothing else was stored since its look, so a publish
		// that never answered may still land, and its chunks are kept
		// for it (to age out with the store if they are nobody's). Once
		// another message is there, it never can.
		w.maybeStored = true
		return StoredPart{}, unavailable("part metadata", err)
	}
	if won, ok := storedWhole(now); ok {
		return won, ErrPartStored
	}
	switch {
	case wrongLastSequence(err):
		// Deleted meanwhile (the job cancelled, failed or expired), or a
		// part that is not whole stored over it: told as NATS would be,
		// so the part is delivered again, and dropped if its job is over.
		return StoredPart{}, unavailable("part metadata", fmt.Errorf("%s changed while it was stored", info.Name))
	case storageFull(err):
		return StoredPart{}, storeError(err)
	}
	return StoredPart{}, unavailable("part metadata", err)
}

// storedWhole returns the part that info describes, if it is stored whole:
// not deleted, its metadata written last, with its rows, size and digest.
func storedWhole(info *jetstream.ObjectInfo) (StoredPart, bool) {
	if info == nil || info.Deleted {
		return StoredPart{}, false
	}
	sp, err := storedPart(info)
	return sp, err == nil
}

// dropChunks purges what this writer published, once its puts have
// returned, with a context of its own: a part cancelled still frees its
// room (TestCancelMidPartFreesStorage). The chunks are under NUIDs of this
// writer's, which nothing reads before the commit.
func (w *PartWriter) dropChunks() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.csv.ctx), 10*time.Second)
	defer cancel()
	objs := []*objectWriter{w.csv}
	if w.parquet != nil {
		objs = append(objs, w.parquet.obj)
	}
	for _, o := range objs {
		if o.info != nil {
			_ = w.b.purgeSubject(ctx, chunkSubject(o.info.NUID))
		}
	}
}

// purgeSubject removes a subject's messages from the result store.
func (b *Bus) purgeSubject(ctx context.Context, subject string) error {
	src, err := b.objectStream(ctx, ResultBucket)
	if err == nil {
		err = src.stream.Purge(ctx, jetstream.WithPurgeSubject(subject))
	}
	if err != nil {
		return unavailable("purge part", err)
	}
	return nil
}

// purgeObjectChunks removes the chunks of a part's metadata: its CSV's and
// its Parquet file's.
func (b *Bus) purgeObjectChunks(ctx context.Context, info *jetstream.ObjectInfo) error {
	subjects := []string{chunkSubject(info.NUID)}
	if pq, err := parquetObject(info); err == nil && pq != nil {
		subjects = append(subjects, chunkSubject(pq.NUID))
	}
	for _, s := range subjects {
		if err := b.purgeSubject(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// deleteObject removes an object, its chunks first: the deletion marker
// (the object store's own, a rollup of the metadata marked deleted) is
// written last, since a store at its limit refuses it until the chunks have
// made room, and only if no commit came after the metadata whose chunks
// were purged; if one did, that part is deleted in turn. Missing or
// deleted: nothing to do.
func (b *Bus) deleteObject(ctx context.Context, name string) error {
	for range 3 {
		info, seq, err := b.lastMeta(ctx, name)
		if err != nil || info == nil || info.Deleted {
			return err
		}
		if err := b.purgeObjectChunks(ctx, info); err != nil {
			return err
		}
		info.Deleted, info.Size, info.Chunks, info.Digest = true, 0, 0, ""
		err = b.publishMeta(ctx, info, seq)
		switch {
		case err == nil:
			return nil
		case storageFull(err):
			return storeError(err)
		case !wrongLastSequence(err):
			return unavailable("delete part", err)
		}
	}
	return unavailable("delete part", fmt.Errorf("%s stored again while it was deleted", name))
}
