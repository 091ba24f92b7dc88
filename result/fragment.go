package result

import (
	"bytes"
	"io"

	"github.com/plenario-next/exportd/schema"
)

// renderFlush is how much output a FragmentWriter gathers before it
// writes: a chunk of a chunked response each, so not too small.
const renderFlush = 256 << 10

// FragmentWriter renders a part's stored CSV, written to it in chunks of
// any size, as the part's JSON fragment or NDJSON (Renderer) to w. Close
// writes the end.
type FragmentWriter struct {
	r       Renderer
	w       io.Writer
	partial []byte // an unfinished line from the last Write
	out     []byte
}

// NewFragmentWriter returns a FragmentWriter of format (schema.FormatJSON
// or schema.FormatNDJSON) writing to w, with the job's meta_ids.
func NewFragmentWriter(w io.Writer, format string, ids schema.MetaIDs) *FragmentWriter {
	return &FragmentWriter{r: Renderer{MetaIDs: ids, NDJSON: format == schema.FormatNDJSON}, w: w,
		out: make([]byte, 0, renderFlush+renderFlush/4)} // a flush's worth and the lines past it: never grown
}

// Write consumes CSV rows. The output is appended to a local slice, stored
// back once: a slice stored into the writer per line would pay a GC write
// barrier each. A line break in a quoted name is no line end (see
// Renderer.AppendLines).
func (j *FragmentWriter) Write(p []byte) (int, error) {
	n := len(p)
	out := j.out
	var err error
	if len(j.partial) > 0 {
		before := len(j.partial)
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			j.partial = append(j.partial, p...)
			return n, nil
		}
		j.partial = append(j.partial, p[:i]...)
		out, err = j.r.AppendLine(out, j.partial)
		e := before + i
		if err == errOpenQuote {
			j.partial = append(j.partial, p[i:]...)
			if out, e, err = j.r.appendOn(out, j.partial, e); e < 0 {
				return n, nil // all of p is the line's
			}
		}
		if err != nil {
			return 0, err
		}
		p = p[e+1-before:]
		j.partial = j.partial[:0]
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			j.partial = append(j.partial, p...)
			break
		}
		out, err = j.r.AppendLine(out, p[:i])
		if err == errOpenQuote {
			if out, i, err = j.r.appendOn(out, p, i); i < 0 {
				j.partial = append(j.partial, p...)
				break
			}
		}
		if err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	j.out = out
	if len(j.out) >= renderFlush {
		if err := j.flush(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Close renders the last line and the end of the last observation, and
// writes it all out.
func (j *FragmentWriter) Close() error {
	if len(j.partial) > 0 {
		var err error
		if j.out, err = j.r.AppendLine(j.out, j.partial); err != nil {
			return err
		}
		j.partial = nil
	}
	j.out = j.r.Close(j.out)
	if len(j.out) == 0 {
		return nil
	}
	return j.flush()
}

func (j *FragmentWriter) flush() error {
	_, err := j.w.Write(j.out)
	j.out = j.out[:0]
	return err
}
