package main

// `exportd get` following: the file is downloaded as the job makes it
// (GET /datadump/{ticket}?follow=true), so that submit-to-file is the job's
// time plus the transfer of its last part, not plus the transfer of all.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
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
// has succeeded). A nil one is no followed download.
type followedFile struct {
	f       *os.File
	written int64
	done    bool
}

// file is the download's file: the followed one, or a new one at tmp.
func (p *followedFile) file(tmp string) (*os.File, error) {
	if p == nil {
		return os.Create(tmp)
	}
	return p.f, nil
}

// resume makes st the state of the followed file: its bytes written and
// seen by the verifier (read back from the file: the manifest that checks
// them comes after success), the rest to be fetched with Range.
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
	st.ver = newCSVVerifier(st.m)
	if p.done {
		return p.verifyParts(st.ver)
	}
	_, err := io.Copy(st.ver, io.NewSectionReader(p.f, 0, p.written))
	return err
}

// verifyParts checks a whole followed file's header and parts against
// their digests on every core at once (the parts' digests are their own,
// and the file is in the page cache), and leaves v as if it had been
// written the file: at its end, with its rows and its mismatches.
func (p *followedFile) verifyParts(v *csvVerifier) error {
	sums := make([]string, len(v.segs))
	rows := make([]int64, len(v.segs))
	errs := make([]error, len(v.segs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for i := range next {
				s := v.segs[i]
				h := sha256.New()
				r := io.NewSectionReader(p.f, s.start, max(0, min(s.end, p.written)-s.start))
				for {
					n, err := r.Read(buf)
					h.Write(buf[:n])
					rows[i] += int64(countNewlines(buf[:n]))
					if err == io.EOF {
						break
					}
					if err != nil {
						errs[i] = err
						break
					}
				}
				sums[i] = hex.EncodeToString(h.Sum(nil))
			}
		}()
	}
	for i := range v.segs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, s := range v.segs {
		if errs[i] != nil {
			return errs[i]
		}
		if s.end > p.written {
			break // finish reports the file short
		}
		if sums[i] != s.sha256 {
			v.bad = append(v.bad, fmt.Sprintf("%s (bytes %d-%d): sha256 %s, manifest %s", s.name, s.start, s.end-1, sums[i], s.sha256))
		}
		if i > 0 {
			v.rows += rows[i]
		}
	}
	v.i, v.pos = len(v.segs), p.written
	return nil
}

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

	tmp := g.output + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, nil, exitf(exitDownload, "%v", err)
	}
	prior := &followedFile{f: f}
	handed := false // to download, which closes or removes it
	defer func() {
		if !handed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	st := &dlState{f: f, total: -1}
	u := g.server + "/v1/api/datadump/" + job.Ticket + "?follow=true&data_type=" + g.format
	// No byte bar while following: the job's progress has the terminal,
	// and --json's lines come from one goroutine at a time.
	streamErr := g.fetch(ctx, u, false, st, &byteBar{g: &getter{}})
	prior.written, prior.done = st.written, streamErr == nil

	var final *jobDoc
	if prior.done {
		// The job has succeeded: its document says so in a moment.
		stopWait()
		<-ended
		if final, err = g.succeeded(ctx, job.Ticket); err != nil {
			return nil, nil, err
		}
	} else {
		e := <-ended
		if e.err != nil {
			return nil, nil, e.err
		}
		final = e.job
		g.emit(true, map[string]any{"event": "retry", "attempt": 1, "offset": st.written, "error": streamErr.Error()})
		var ee *exitError
		if errors.As(streamErr, &ee) { // not followed (an older server): all of it again
			prior.written = 0
		}
	}
	m, err := g.manifest(ctx, final)
	if err != nil {
		return nil, nil, err
	}
	handed = true
	res, err := g.download(ctx, final, m, prior)
	return final, res, err
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
