package main

// Verifying a followed download as it streams, so that the file is checked
// by the time its last byte is written, not by a read of it afterwards.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// Pace of the partial manifests a followed download asks for; variables
// so that tests can change them.
var (
	// liveFetchGap is the least time between two manifest requests: a
	// partial manifest costs the server a look-up per stored part, and a
	// request per part would cost it one per part squared. The gap grows
	// to four times the last answer's wait, so that a job of many parts
	// has its manifest asked for at most a fifth of the time.
	liveFetchGap = 200 * time.Millisecond
	// livePendingMax is the most bytes held for their boundaries before
	// the stream waits for a manifest: at a few hundred MB/s, about what
	// comes in liveFetchGap.
	livePendingMax = 64 << 20
)

// liveChunks is how many written chunks may wait for the hashing, and
// liveBlock the size of the buffers they are read or decoded into.
const (
	liveChunks = 16
	liveBlock  = 256 << 10
)

// liveVerifier checks a followed CSV download as it is written, on a
// goroutine of its own: the stream hands it each chunk it writes. When
// the bytes go past the boundaries known, it asks for the job's partial
// manifest (one request at a time, at most one each gap): each
// part the stream sends is stored, so a manifest asked for after its
// first byte came lists it. A part that does not match ends the stream at
// once (abort), while the job may still be running. A server without
// partial manifests, or one that fails to answer, turns it off: the bytes
// it did not hash are read back from the file once the job has succeeded
// (followedFile.resume).
type liveVerifier struct {
	*csvVerifier // the goroutine's until done is closed
	ctx          context.Context
	cancel       context.CancelFunc
	abort        context.CancelFunc // ends the stream
	fetch        func(context.Context) fetched
	chunks       chan []byte
	free         chan []byte
	answers      chan fetched
	done         chan struct{}
	settle       bool // set before chunks is closed: place every byte before done

	// The goroutine's state.
	inflight bool
	last     time.Time     // when the last request started
	took     time.Duration // how long the last answer took
	queued   bool          // the job was queued at the last answer: ask again after more bytes
	off      bool
	err      error // the mismatch, once done
}

// fetched is the answer to one manifest request.
type fetched struct {
	m      *schema.Manifest
	status int
	err    error
}

// startLiveVerifier starts the live check of the followed download of
// ticket; abort ends that download.
func (g *getter) startLiveVerifier(ctx context.Context, ticket string, abort context.CancelFunc) *liveVerifier {
	u := g.server + "/v1/api/jobs/" + ticket + "/manifest"
	return startCheck(ctx, newCSVVerifier(), abort, func(ctx context.Context) fetched {
		m, status, err := g.fetchManifest(ctx, u)
		return fetched{m, status, err}
	})
}

// startSealedCheck checks a download against v, which knows all its
// boundaries (sealed), on a goroutine of its own as the live check does:
// the hashing runs beside the reading and decoding of the next blocks
// (with s2, get decodes what the gateway would have).
func startSealedCheck(v *csvVerifier) *liveVerifier {
	return startCheck(context.Background(), v, func() {}, func(context.Context) fetched {
		return fetched{err: errors.New("a sealed check asks for no manifest")}
	})
}

func startCheck(ctx context.Context, v *csvVerifier, abort context.CancelFunc, fetch func(context.Context) fetched) *liveVerifier {
	ctx, cancel := context.WithCancel(ctx)
	l := &liveVerifier{csvVerifier: v, ctx: ctx, cancel: cancel, abort: abort, fetch: fetch,
		chunks: make(chan []byte, liveChunks), free: make(chan []byte, liveChunks+2+livePendingMax/liveBlock),
		answers: make(chan fetched, 1), done: make(chan struct{})}
	v.release = l.release
	go l.run()
	return l
}

// Write hands a copy of p to the check; its error is the mismatch that
// ended the check.
func (l *liveVerifier) Write(p []byte) (int, error) {
	return len(p), l.hand(append(l.buffer(len(p)), p...))
}

// buffer is an empty buffer for a block to be handed to the check, of at
// least size bytes: one the check is done with, or a new one.
func (l *liveVerifier) buffer(size int) []byte {
	select {
	case b := <-l.free:
		if cap(b) >= size {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, max(size, liveBlock))
}

// hand gives b to the check, which owns it from then on: no copy. Its
// error is the mismatch that ended the check.
func (l *liveVerifier) hand(b []byte) error {
	select {
	case l.chunks <- b:
		return nil
	case <-l.done:
		return l.err
	}
}

// release takes back a block the check is done with, for buffer.
func (l *liveVerifier) release(b []byte) {
	select {
	case l.free <- b:
	default:
	}
}

// finish ends the check once the stream has ended, whole when settle
// (every byte placed, with one more request if need be: the job's parts
// are all stored by then), and returns its mismatch, if any. The
// csvVerifier is the caller's then.
func (l *liveVerifier) finish(settle bool) error {
	l.settle = settle
	close(l.chunks)
	<-l.done
	return l.err
}

// close ends the request in flight, if any.
func (l *liveVerifier) close() {
	if l != nil {
		l.cancel()
	}
}

func (l *liveVerifier) run() {
	defer close(l.done)
	var wake <-chan time.Time
	for {
		in := l.chunks
		if !l.off && l.waiting > int64(livePendingMax) {
			in = nil // wait for the boundaries; the stream waits too
		}
		if !l.off && !l.inflight && !l.queued && len(l.pending) > 0 && wake == nil {
			if d := max(liveFetchGap, 4*l.took) - time.Since(l.last); d > 0 {
				wake = time.After(d)
			} else {
				l.start()
			}
		}
		var answers chan fetched
		if l.inflight {
			answers = l.answers
		}
		select {
		case b, ok := <-in:
			if !ok {
				l.end()
				return
			}
			if l.off {
				l.release(b)
			} else {
				_ = l.csvVerifier.take(b)
				l.queued = false
			}
		case r := <-answers:
			l.apply(r, in == nil)
		case <-wake:
			wake = nil
		case <-l.ctx.Done():
			l.turnOff()
			return
		}
		if l.err = l.csvVerifier.err(); l.err != nil {
			l.abort()
			return
		}
	}
}

// end places the bytes still waiting, when settle, once the stream ended.
func (l *liveVerifier) end() {
	if !l.settle || l.off || len(l.pending) == 0 {
		return
	}
	if l.inflight {
		select {
		case r := <-l.answers:
			l.apply(r, true)
		case <-l.ctx.Done():
			l.turnOff()
		}
	}
	if !l.off && len(l.pending) > 0 {
		l.last = time.Now()
		l.apply(l.fetch(l.ctx), true)
	}
	l.err = l.csvVerifier.err()
}

// start asks for the manifest in the background.
func (l *liveVerifier) start() {
	l.inflight, l.last = true, time.Now()
	go func() { l.answers <- l.fetch(l.ctx) }()
}

// apply takes an answer: the boundaries it gives, or, when the server
// has no partial manifest to give, the end of the live check. full is
// whether the bytes waiting hold the stream.
func (l *liveVerifier) apply(r fetched, full bool) {
	l.inflight, l.took = false, time.Since(l.last)
	switch {
	case r.status == http.StatusConflict && !full:
		// The job is queued (a partial manifest is a running job's):
		// ask again once more bytes came, which it will have to have
		// started for. A server that says so with livePendingMax
		// waiting has no partial manifests.
		l.queued = true
	case r.err != nil:
		l.turnOff()
	default:
		l.add(r.m)
	}
}

// turnOff leaves the rest of the check to the read-back after success:
// the bytes waiting are in the file already.
func (l *liveVerifier) turnOff() {
	l.off = true
	l.drop()
}

// covers reports whether the check, finished, saw exactly written bytes,
// the header and every part of job, a job that has succeeded: then no
// manifest is needed after the success.
func (l *liveVerifier) covers(job *jobDoc, written int64) bool {
	return l != nil && !l.off && len(l.pending) == 0 && l.err == nil && l.i == len(l.segs) &&
		l.pos == written && l.known() == written && l.parts == job.result.Parts && l.rows == job.result.Rows
}
