package gateway

import (
	"context"
	"io"
)

// pipedRead gives a body that sends itself with WriteTo (what fasthttp
// uses) a Read for the readers that call it instead: the first Read starts
// WriteTo into a pipe on a goroutine of its own, and stop ends it.
type pipedRead struct {
	pr *io.PipeReader
}

// read serves Read from writeTo's output; after, if set, runs once
// writeTo has returned, on its goroutine.
func (p *pipedRead) read(b []byte, writeTo func(io.Writer) (int64, error), after func()) (int, error) {
	if p.pr == nil {
		var pw *io.PipeWriter
		p.pr, pw = io.Pipe()
		go func() {
			_, err := writeTo(pw)
			pw.CloseWithError(err) // nil: EOF
			if after != nil {
				after()
			}
		}()
	}
	return p.pr.Read(b)
}

// stop ends a started read, whose WriteTo then returns on its next write;
// it reports whether one was started.
func (p *pipedRead) stop() bool {
	if p.pr == nil {
		return false
	}
	p.pr.CloseWithError(context.Canceled)
	return true
}
