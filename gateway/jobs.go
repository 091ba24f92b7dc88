package gateway

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/schema"
)

// newTicket returns 128 random bits as 32 lowercase hex digits.
func newTicket() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// submit accepts a bulk export: validated in full before a ticket exists,
// so a bad request never becomes a job that fails later.
func (g *Gateway) submit(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	now := g.Now().UTC()
	a := args(ctx)
	callback, problems := g.callbackArg(ctx, a) // callback.go
	q, err := schema.ParseQuery(schema.Download, a, n, now)
	if err = withProblems(err, problems); err != nil {
		return err
	}
	root, err := g.urlRoot(ctx)
	if err != nil {
		return err
	}
	req := schema.ExportRequest{Ticket: newTicket(), Query: q.Compact(), URLRoot: root, SubmittedAt: now,
		Client: clientID(ctx), ExpiresAt: now.Add(g.bus.Config.Retention), Digest: requestDigest(ctx, q)}
	fp := fingerprint(ctx, q)
	id := "submit." + fp
	var full error // the client's limit, past which only a repeat is answered
	accepted := false
	defer func() {
		if !accepted { // a repeat, refused or failed: its reservation is no job
			g.active.remove(req.Ticket)
		}
	}()
	if g.MaxActive > 0 && !g.active.reserve(req.Client, req.Ticket, g.MaxActive) {
		full = schema.Errorf(schema.TooMany, "Too many export jobs queued or running for this client (at most %d); retry when one finishes.", g.MaxActive)
	} else if err := g.callbacksFull(ctx, callback); schema.ErrorCode(err) == schema.TooMany {
		full = err
	} else if err != nil {
		return err
	}
	// While the result storage is short no new job is accepted (507 with
	// Retry-After): it would fail for want of room.
	short := g.bus.StorageShort(ctx)
	if schema.ErrorCode(short) != schema.Full {
		short = nil // not known to be short: the submit decides
	}
	for range maxResubmits {
		var earlier uint64
		if full != nil || short != nil {
			// At its limit a client may still repeat an accepted request.
			earlier, err = g.bus.Earlier(ctx, id)
			if err == nil && earlier == 0 {
				if short != nil {
					return short
				}
				return full
			}
		} else {
			earlier, err = g.bus.Submit(ctx, req, id)
		}
		if err != nil {
			return err
		}
		if earlier == 0 {
			accepted = true
			g.active.add(req.Client, req.Ticket)
			// The answer is the fold of the queued event: the very document
			// the projector is about to store, with the lists in full (the
			// network's, made once, for a query of all of them).
			var rec schema.JobRecord
			rec.Apply(schema.Event{Kind: schema.EventQueued, Ticket: req.Ticket, Time: now, Request: &req})
			rec.Job.URL = jobURL(req.URLRoot, req.Ticket)
			if b, ok := rec.Job.AppendQueuedJSONWith(make([]byte, 0, 4096), g.listsOf(n)); ok {
				ctx.SetContentType("application/json")
				ctx.SetBody(append(b, '\n'))
			} else {
				rec.Job.Request.Query = q
				writeJSON(ctx, rec.Job)
			}
			return g.answerCallback(ctx, req.Ticket, callback)
		}
		// The same request again: the same job, unless that one failed or
		// was cancelled. Then asking again means trying again, under an
		// id that names the job it replaces.
		e, err := g.bus.Event(ctx, earlier)
		if err != nil {
			return err
		}
		if e.Request != nil && e.Request.Digest != "" && e.Request.Digest != req.Digest {
			return keyReused(e.Ticket)
		}
		rec, jerr := g.job(ctx, e.Ticket)
		if jerr != nil || !rec.Terminal() || rec.Job.Status.Status == schema.StatusSuccess {
			if err := g.submitted(ctx, e.Ticket); err != nil {
				return err
			}
			return g.answerCallback(ctx, e.Ticket, callback)
		}
		id = "submit." + fp + "." + e.Ticket
	}
	return schema.Errorf(schema.Conflict, "This request failed %d times within the idempotency window; retry later.", maxResubmits)
}

// keyReused is the 422 of an Idempotency-Key repeated with another request,
// keyed by the header as Plenario keys a 400 by its parameter.
func keyReused(ticket string) error {
	msg := "This Idempotency-Key was used for a different request (job " + ticket + "); use a new key for a new request."
	return &schema.Error{Code: schema.Unprocessable, Message: msg, Fields: map[string][]string{"Idempotency-Key": {msg}}}
}

// maxResubmits bounds the failed or cancelled jobs a repeated request walks
// past to find its current one.
const maxResubmits = 32

// job returns ticket's record: projected, or, in the moment between
// acceptance and projection, folded from its queued event.
// A job that does not exist, or that the caller may not see, is a
// jobNotFound error, which writeError renders in Plenario's ticket shape.
func (g *Gateway) job(ctx *fasthttp.RequestCtx, ticket string) (*schema.JobRecord, error) {
	if cj := g.cache.get(ticket, g.Now()); cj != nil {
		if rec, err := cj.record(); err == nil && g.visible(ctx, rec) {
			return rec, nil
		}
	}
	// A miss: read the KV, and keep the record for the next poll.
	raw, rev, err := g.bus.JobRaw(ctx, ticket)
	var rec *schema.JobRecord
	if err == nil {
		g.cacheRecord(ticket, rev, raw)
		rec, err = events.DecodeJob(ticket, raw)
	}
	if schema.ErrorCode(err) == schema.NotFound {
		e, qerr := g.bus.QueuedEvent(ctx, ticket)
		if schema.ErrorCode(qerr) == schema.NotFound {
			return nil, jobNotFound(ticket)
		}
		if qerr != nil {
			return nil, qerr
		}
		rec = &schema.JobRecord{}
		rec.Apply(e)
	} else if err != nil {
		return nil, err
	}
	if !g.visible(ctx, rec) {
		return nil, jobNotFound(ticket)
	}
	return rec, nil
}

// jobNotFound is the error for a ticket that names no job the caller may
// see: 404 {"ticket":…,"error":"Job not found."}. It is a NotFound
// schema.Error to errors.As.
func jobNotFound(ticket string) error {
	return &jobNotFoundError{ticket: ticket, err: schema.Errorf(schema.NotFound, "Job not found.")}
}

type jobNotFoundError struct {
	ticket string
	err    *schema.Error
}

func (e *jobNotFoundError) Error() string { return e.err.Message }
func (e *jobNotFoundError) Unwrap() error { return e.err }

func (g *Gateway) getJob(ctx *fasthttp.RequestCtx, p []string) error {
	if cj := g.cache.get(p[0], g.Now()); cj != nil && (len(g.APIKeys) == 0 || cj.client == clientID(ctx)) {
		if doc := cj.document(ctx, g); doc != nil {
			if !cj.terminal {
				ctx.Response.Header.Set("Retry-After", "1")
			}
			ctx.SetContentType("application/json")
			// Not copied: the cached document is never written again
			// (cachedJob.document makes it once).
			ctx.Response.SetBodyRaw(doc)
			return nil
		}
	}
	rec, err := g.job(ctx, p[0])
	if err != nil {
		return err
	}
	if !rec.Terminal() {
		ctx.Response.Header.Set("Retry-After", "1")
	}
	writeJSON(ctx, g.document(ctx, rec))
	return nil
}

// cancelJob cancels a job: exporters stop its parts, the projector removes
// its objects. Cancelling a finished export removes its result. The answer
// is the document with the cancel folded in.
func (g *Gateway) cancelJob(ctx *fasthttp.RequestCtx, p []string) error {
	rec, err := g.job(ctx, p[0])
	if err != nil {
		return err
	}
	// The record may not show a cancel accepted a moment ago yet (the
	// projector folds it after this answer): the stream's last cancel of
	// the ticket is the truth, so that a second DELETE is a 409 at once.
	prev, found, err := g.bus.LastEvent(ctx, p[0], schema.EventCancelled)
	if err != nil {
		return err
	}
	if found {
		rec.Apply(prev)
	}
	e := schema.Event{Kind: schema.EventCancelled, Ticket: p[0], Time: g.Now().UTC()}
	if !rec.Apply(e) {
		return schema.Errorf(schema.Conflict, "Job is %s: nothing to cancel.", rec.Job.Status.Status)
	}
	seq, err := g.bus.Publish(ctx, e)
	if err != nil {
		return err
	}
	// What this client reads next is what it is answered, not the record
	// the projector has yet to fold the cancel into (cache.go).
	rec.Seq = max(rec.Seq, seq)
	if err := g.cache.fold(p[0], rec); err != nil {
		return err
	}
	writeJSON(ctx, g.document(ctx, rec))
	return nil
}
