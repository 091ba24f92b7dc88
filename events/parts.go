package events

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// Object metadata keys of a stored part.
const (
	MetaRows = "rows"
	MetaPart = "part"
)

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

// PutPart stores a part, read from r to EOF, under its deterministic name:
// storing a part again replaces it, so a redone part never adds rows.
func (b *Bus) PutPart(ctx context.Context, ticket string, part int, rows func() int64, r io.Reader) (*jetstream.ObjectInfo, error) {
	meta := jetstream.ObjectMeta{Name: schema.PartObject(ticket, part),
		Opts: &jetstream.ObjectMetaOptions{ChunkSize: b.chunkSize()}}
	info, err := b.Results.Put(ctx, meta, r)
	if err != nil {
		return nil, err
	}
	// The row count is known only at EOF: record it on the object too, so
	// that a manifest can be built from the store alone.
	meta.Metadata = map[string]string{MetaRows: strconv.FormatInt(rows(), 10), MetaPart: strconv.Itoa(part)}
	meta.Opts = nil
	if err := b.Results.UpdateMeta(ctx, meta.Name, meta); err != nil {
		return nil, unavailable("part metadata", err)
	}
	if b.Config.Replicas > 1 {
		if err := b.verifyPart(ctx, ticket, part, info.Digest); err != nil {
			return nil, err
		}
	}
	return info, nil
}

// verifyPart reads a just-stored part back and compares its digest with
// the one taken while storing it. On a replicated store, a chunk published
// during a stream leader election gets "no responders", and nats.go's
// async publish retries it by publishing the same *nats.Msg again, whose
// Data the object store's Put has meanwhile refilled with a later chunk:
// Put succeeds and the object holds wrong bytes (seen in internal/faults
// TestNATSNodeDown as downloads with rows cut or out of order). A part that
// fails the check is Unavailable, so it is redone.
func (b *Bus) verifyPart(ctx context.Context, ticket string, part int, digest string) error {
	r, err := b.OpenPart(ctx, ticket, part)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return unavailable("verify part", err)
	}
	if got := jetstream.GetObjectDigestValue(h); got != digest {
		return unavailable("verify part", fmt.Errorf("part %d stored with digest %s, want %s", part, got, digest))
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
