package main

// `exportd get` following: the file is downloaded as the job makes it
// (GET /datadump/{ticket}?follow=true), so that submit-to-file is the job's
// time plus the transfer of its last part, not plus the transfer of all.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// Timing of the wait for a succeeded job's document after its followed
// download ended; variables so that tests can shorten them.
var (
	successPoll    = 25 * time.Millisecond
	successPatient = 30 * time.Second
)

// result follows the job to its end and downloads its file: as the job
// makes it (the default), or with --no-follow once it has succeeded. It
// returns the job's final document and what was written.
func (g *getter) result(ctx context.Context, job *jobDoc, network string) (*jobDoc, *downloaded, error) {
	if g.noFollow {
		job, err := g.wait(ctx, job.Ticket)
		if err != nil {
			return nil, nil, err
		}
		g.name(job, network)
		m, err := g.manifest(ctx, job)
		if err != nil {
			return nil, nil, err
		}
		res, err := g.download(ctx, job, m, nil)
		return job, res, err
	}
	return g.followed(ctx, job, network)
}

// name sets the output file's name from the job's network, unless given.
func (g *getter) name(job *jobDoc, network string) {
	if g.output != "" {
		return
	}
	if n := job.Request.Query.Network; n != "" {
		network = n
	}
	g.output = network + ".datadump." + g.format
}

// followedFile is the file a followed download wrote: written bytes, whole
// when the server ended the stream cleanly (it does so only once the job
// has succeeded), with the live verifier that checked them as they came
// (CSV) and the file's writing-back. A nil one is no followed download.
type followedFile struct {
	f       *os.File
	written int64
	done    bool
	live    *liveVerifier
	checked bool // live checked all of it: no manifest is needed
	wb      *writeBack
}

// file is the download's file and its writing-back: the followed one's,
// or new ones at tmp.
func (p *followedFile) file(tmp string) (*os.File, *writeBack, error) {
	if p == nil {
		f, err := os.Create(tmp)
		if err != nil {
			return nil, nil, err
		}
		return f, startWriteBack(f), nil
	}
	return p.f, p.wb, nil
}

// resume makes st the state of the followed file: its bytes written and
// checked, the rest to be fetched with Range. The live verifier goes on
// with st.m's boundaries; the bytes it did not hash (a server without
// partial manifests) are read back from the file.
func (p *followedFile) resume(st *dlState) error {
	if p == nil || p.written == 0 {
		return st.reset()
	}
	if _, err := p.f.Seek(p.written, io.SeekStart); err != nil {
		return err
	}
	st.written = p.written
	if p.done {
		st.total = p.written
	}
	if !st.verify {
		return nil
	}
	st.ver = newCSVVerifier()
	if p.live != nil {
		st.ver = p.live.csvVerifier
	}
	if st.m != nil {
		st.ver.add(st.m)
	}
	st.ver.seal()
	if from := st.ver.seen(); from < p.written {
		st.readBack = p.written - from
		if _, err := io.Copy(st.ver, io.NewSectionReader(p.f, from, p.written-from)); err != nil {
			return err
		}
	}
	return st.ver.err()
}

// verified reports whether the live check of the followed file covered
// all of it.
func (p *followedFile) verified() bool { return p != nil && p.checked }

// whole reports whether the followed file needs no more bytes.
func (p *followedFile) whole() bool { return p != nil && p.done }

// followed downloads the job's file as it is made, while the job is
// watched as without follow (progress lines, the end). A stream that
// breaks, or a server that does not follow, leaves the rest to the
// normal download once the job has succeeded: ranged from where the
// stream stopped when the format has ranges, else from the start.
func (g *getter) followed(ctx context.Context, job *jobDoc, network string) (*jobDoc, *downloaded, error) {
	if g.output == "" && job.Request.Query.Network == "" { // --ticket: the network names the file
		if status, body, err := g.apiGet(ctx, g.server+"/v1/api/jobs/"+job.Ticket); err == nil && status == http.StatusOK {
			_ = job.decode(body)
		}
	}
	g.name(job, network)
	wctx, stopWait := context.WithCancel(ctx)
	defer stopWait()
	type end struct {
		job *jobDoc
		err error
	}
	ended := make(chan end, 1)
	go func() {
		j, err := g.wait(wctx, job.Ticket)
		ended <- end{j, err}
	}()
	waited := false // the wait has ended, and its end been taken
	defer func() {
		if !waited { // it prints: it must end before get does
			stopWait()
			<-ended
		}
	}()

	tmp := g.output + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, nil, exitf(exitDownload, "%v", err)
	}
	prior := &followedFile{f: f, wb: startWriteBack(f)}
	handed := false // to download, which closes or removes it
	defer func() {
		if !handed {
			prior.wb.stop()
			f.Close()
			os.Remove(tmp)
		}
	}()
	streamErr := g.stream(ctx, job.Ticket, prior)
	defer prior.live.close()
	if errors.Is(streamErr, errNoMatch) {
		return nil, nil, streamErr // no bytes of the job's again: the same would come
	}

	var final *jobDoc
	if prior.done {
		// The job has succeeded: its document says so in a moment.
		stopWait()
		<-ended
		waited = true
		if final, err = g.succeeded(ctx, job.Ticket); err != nil {
			return nil, nil, err
		}
	} else {
		e := <-ended
		waited = true
		if e.err != nil {
			return nil, nil, e.err
		}
		final = e.job
		g.emit(true, map[string]any{"event": "retry", "attempt": 1, "offset": prior.written, "error": streamErr.Error()})
		var ee *exitError
		if errors.As(streamErr, &ee) { // not followed (an older server): all of it again
			prior.written = 0
		}
	}
	// The manifest only when the live check left something to check: a
	// broken stream, parts it could not place.
	var m *schema.Manifest
	if prior.checked = prior.done && prior.live.covers(final, prior.written); !prior.checked {
		if m, err = g.manifest(ctx, final); err != nil {
			return nil, nil, err
		}
	}
	handed = true
	res, err := g.download(ctx, final, m, prior)
	return final, res, err
}

// stream makes the followed request and writes what comes to p's file,
// checked as it comes by a live verifier when the format is CSV: a part
// that does not match ends the stream, and is the error.
func (g *getter) stream(ctx context.Context, ticket string, p *followedFile) error {
	st := &dlState{f: p.f, total: -1, wb: p.wb}
	sctx, abort := context.WithCancel(ctx)
	defer abort()
	if g.format == schema.FormatCSV {
		p.live = g.startLiveVerifier(ctx, ticket, abort)
		st.live = p.live
	}
	u := g.server + "/v1/api/datadump/" + ticket + "?follow=true&data_type=" + g.format
	// No byte bar while following: the job's progress has the terminal,
	// and --json's lines come from one goroutine at a time.
	err := g.fetch(sctx, u, false, st, &byteBar{g: &getter{}})
	p.written, p.done = st.written, err == nil
	if p.live != nil {
		if lerr := p.live.finish(p.done); lerr != nil {
			return &exitError{code: exitDownload, err: lerr}
		}
	}
	return err
}

// succeeded polls a job whose followed download has ended cleanly until
// its document shows the success, briefly: the projector folds the event
// that ended the download within moments.
func (g *getter) succeeded(ctx context.Context, ticket string) (*jobDoc, error) {
	deadline := time.Now().Add(successPatient)
	for {
		status, body, err := g.apiGet(ctx, g.server+"/v1/api/jobs/"+ticket)
		var job jobDoc
		if err == nil && status == http.StatusOK && job.decode(body) == nil && job.terminal() {
			g.showJob(&job, &progressMeter{})
			g.endLine()
			if job.Status.Status != schema.StatusSuccess {
				return nil, exitf(exitJobFailed, "job %s %s: %s", ticket, job.Status.Status, job.result.Error)
			}
			return &job, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			return nil, exitf(exitOther, "job %s: its download ended, its document does not say success (status %d, %v)", ticket, status, err)
		}
		select {
		case <-time.After(successPoll):
		case <-ctx.Done():
		}
	}
}
