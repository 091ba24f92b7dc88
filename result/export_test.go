package result

import (
	"io"

	"github.com/plenario-next/exportd/schema"
)

// NewJSONWriter returns a writer of one part's rows as a whole file: a JSON
// array ("[", the fragment less its first byte, "]\n"), or NDJSON. The
// tests of the renderer read its output as JSON that way.
func NewJSONWriter(w io.Writer, ndjson bool, ids schema.MetaIDs) io.WriteCloser {
	if ndjson {
		return NewFragmentWriter(w, schema.FormatNDJSON, ids)
	}
	s := &arraySink{w: w}
	return &arrayWriter{FragmentWriter: NewFragmentWriter(s, schema.FormatJSON, ids), sink: s}
}

// arraySink takes a fragment's bytes: its first, a comma, becomes "[".
type arraySink struct {
	w       io.Writer
	started bool
}

func (a *arraySink) Write(p []byte) (int, error) {
	if len(p) > 0 && !a.started {
		a.started = true
		if _, err := a.w.Write(append([]byte("["), p[1:]...)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return a.w.Write(p)
}

type arrayWriter struct {
	*FragmentWriter
	sink *arraySink
}

func (a *arrayWriter) Close() error {
	if err := a.FragmentWriter.Close(); err != nil {
		return err
	}
	end := "]\n"
	if !a.sink.started {
		end = "[]\n"
	}
	_, err := io.WriteString(a.sink.w, end)
	return err
}
