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
	quoted  bool   // partial ends inside a quoted field
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
// barrier each. A line break in quotes is a name's (see lines.go); q is
// the index of p's next quote.
func (j *FragmentWriter) Write(p []byte) (int, error) {
	n := len(p)
	out := j.out
	var err error
	if len(j.partial) > 0 {
		i, quoted := LineEnd(p, j.quoted)
		if i < 0 {
			j.partial, j.quoted = append(j.partial, p...), quoted
			return n, nil
		}
		j.partial = append(j.partial, p[:i]...)
		p = p[i+1:]
		if out, err = j.r.AppendLine(out, j.partial); err != nil {
			return 0, err
		}
		j.partial, j.quoted = j.partial[:0], false
	}
	q := bytes.IndexByte(p, '"')
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if q >= 0 {
			if i < 0 || i > q {
				i, q = quotedCut(p, q)
			} else {
				q -= i + 1
			}
		}
		if i < 0 {
			j.partial = append(j.partial, p...)
			j.quoted = q >= 0 && oddQuotes(p)
			break
		}
		if out, err = j.r.AppendLine(out, p[:i]); err != nil {
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
