package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// chunkAttempt is how long one request for chunks is waited for. A request
// that fails (no responders while a stream leader is elected, a timeout)
// is made again, with a growing pause, until the read has made no progress
// for partIdle: a failover during a download delays it, and only a server
// that stays away ends it.
const chunkAttempt = 5 * time.Second

// errChunksMissing is a part whose chunks are not (or no longer) stored.
var errChunksMissing = errors.New("events: chunks missing")

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

// batchFetch reads chunks with batched direct gets: each answer is the
// batch's messages, then an end-of-batch status (204) with the last
// sequence sent.
type batchFetch struct {
	ctx     context.Context
	nc      *nats.Conn
	api     string // the stream's direct get subject
	subject string // the object's chunks
	out     chan<- chunk
	msgs    chan *nats.Msg
	sub     *nats.Subscription
}

// batches fetches n chunks of subject, per in a batch. The next batch is
// asked for as soon as this one's end arrives, before its last chunk is
// handed over, so one is always on its way while the reader sends. At most
// two batches are in the subscription's channel at once, which is sized
// for them (a full one would drop messages).
func (s chunkSource) batches(ctx context.Context, subject string, n, per uint32, out chan<- chunk) error {
	f := &batchFetch{ctx: ctx, nc: s.nc, api: jetstream.DefaultAPIPrefix + "DIRECT.GET." + s.stream.CachedInfo().Config.Name,
		subject: subject, out: out, msgs: make(chan *nats.Msg, 2*per+2)}
	defer f.unsubscribe()
	from, got := uint64(1), uint32(0)
	asked := f.ask(from, min(n, per)) == nil
	for got < n {
		batch := min(n-got, per)
		last, lseq, err := f.receive(from, batch, asked)
		if err != nil {
			return readFailed(got, n, err)
		}
		got += batch
		from = lseq + 1
		if got < n {
			// A failed ask is made again by the next receive.
			asked = f.ask(from, min(n-got, per)) == nil
		}
		if err := f.hand(last); err != nil {
			return err
		}
	}
	return nil
}

// ask subscribes a fresh inbox (answers to earlier, failed requests are
// not mistaken for this one's) and requests batch chunks from sequence
// from on.
func (f *batchFetch) ask(from uint64, batch uint32) error {
	if f.sub == nil {
		// Not under the response mux, whose wildcard would receive every
		// chunk too.
		sub, err := f.nc.ChanSubscribe(f.nc.NewInbox(), f.msgs)
		if err != nil {
			return err
		}
		f.sub = sub
	}
	req, _ := json.Marshal(directGetRequest{Seq: from, NextFor: f.subject, Batch: int(batch), NoHeaders: true})
	return f.nc.PublishRequest(f.api, f.sub.Subject, req)
}

func (f *batchFetch) unsubscribe() {
	if f.sub != nil {
		_ = f.sub.Unsubscribe()
		f.sub = nil
	}
	for len(f.msgs) > 0 {
		<-f.msgs
	}
}

func (f *batchFetch) hand(data []byte) error {
	select {
	case f.out <- chunk{data: data}:
		return nil
	case <-f.ctx.Done():
		return f.ctx.Err()
	}
}

// receive takes the batch of chunks from sequence from on (asked for
// already, unless not asked): it hands all but the last over, and returns
// the last and the batch's last sequence. A batch that fails is asked for
// again, its chunks already taken passed over.
func (f *batchFetch) receive(from uint64, batch uint32, asked bool) ([]byte, uint64, error) {
	var last []byte
	taken, seen := uint32(0), uint32(0) // chunks of the batch taken; in this attempt
	deadline := time.Now().Add(partIdle)
	pause := 50 * time.Millisecond
	err := errors.New("not asked")
	if asked {
		err = nil
	}
	for {
		if err == nil {
			var m *nats.Msg
			if m, err = f.next(); err == nil {
				status := m.Header.Get("Status")
				switch {
				case status == "":
					if seen++; seen <= taken {
						continue // taken in an earlier attempt
					}
					deadline = time.Now().Add(partIdle)
					if taken++; taken == batch {
						last = m.Data
					} else if err := f.hand(m.Data); err != nil {
						return nil, 0, err
					}
					continue
				case status == "204" && taken == batch && seen == batch:
					lseq, perr := strconv.ParseUint(m.Header.Get(jetstream.LastSequenceHeader), 10, 64)
					if perr != nil {
						return nil, 0, fmt.Errorf("direct get: end of batch without its last sequence")
					}
					return last, lseq, nil
				case status == "404":
					return nil, 0, errChunksMissing
				}
				// An end before the batch's last chunk (a replica behind),
				// no responders (no leader yet), or another status.
				err = fmt.Errorf("direct get: status %s %s", status, m.Header.Get("Description"))
			}
		}
		if f.ctx.Err() != nil {
			return nil, 0, f.ctx.Err()
		}
		if time.Now().Add(pause).After(deadline) {
			return nil, 0, err
		}
		if !sleepCtx(f.ctx, pause) {
			return nil, 0, f.ctx.Err()
		}
		pause = min(2*pause, time.Second)
		f.unsubscribe()
		seen, err = 0, f.ask(from, batch)
	}
}

// next waits for the next message of the batch, chunkAttempt at most.
func (f *batchFetch) next() (*nats.Msg, error) {
	t := time.NewTimer(chunkAttempt)
	defer t.Stop()
	select {
	case m := <-f.msgs:
		return m, nil
	case <-t.C:
		return nil, nats.ErrTimeout
	case <-f.ctx.Done():
		return nil, f.ctx.Err()
	}
}

// oneByOne fetches n chunks of subject one after another through the
// stream leader (a get by sequence, next by subject): slower than a batch,
// but never from a replica that lags behind. A get that fails is made
// again as a batch's is.
func (s chunkSource) oneByOne(ctx context.Context, subject string, n uint32, out chan<- chunk) error {
	seq := uint64(1)
	for got := uint32(0); got < n; got++ {
		var m *jetstream.RawStreamMsg
		deadline := time.Now().Add(partIdle)
		for pause := 50 * time.Millisecond; ; pause = min(2*pause, time.Second) {
			gctx, cancel := context.WithTimeout(ctx, chunkAttempt)
			var err error
			m, err = s.stream.GetMsg(gctx, seq, jetstream.WithGetMsgSubject(subject))
			cancel()
			if err == nil {
				break
			}
			if errors.Is(err, jetstream.ErrMsgNotFound) || ctx.Err() != nil || time.Now().Add(pause).After(deadline) {
				return readFailed(got, n, err)
			}
			if !sleepCtx(ctx, pause) {
				return ctx.Err()
			}
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
