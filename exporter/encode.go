package exporter

import (
	"io"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

// partReader is an io.Reader over a part's CSV rows: the object store pulls
// chunks from it, and it pulls rows from ClickHouse only as fast as they
// are stored. Memory stays at one chunk plus one driver block.
type partReader struct {
	it      *chstore.RowIter
	enc     schema.CSVEncoder
	row     schema.Row
	pending []byte // encoded bytes not yet read
	rows    int64
	done    bool
	onRow   func(rows int64) // called every progressEvery rows
}

const progressEvery = 1 << 16

func (r *partReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.pending) > 0 {
			c := copy(p[n:], r.pending)
			n += c
			r.pending = r.pending[c:]
			continue
		}
		if r.done {
			break
		}
		// Encode straight into p while a row surely fits; near the end of
		// p, encode into pending and copy.
		if len(p)-n >= 1024 {
			if !r.it.Next(&r.row) {
				r.done = true
				continue
			}
			before := n
			out := r.enc.AppendRow(p[n:n], &r.row)
			if len(out) <= len(p)-n && &out[0] == &p[n] {
				n += len(out)
			} else { // a huge row: did not fit, keep it for next time
				r.pending = append(r.pending[:0], out...)
				n = before
			}
		} else {
			if !r.it.Next(&r.row) {
				r.done = true
				continue
			}
			r.pending = r.enc.AppendRow(r.pending[:0], &r.row)
		}
		r.rows++
		if r.onRow != nil && r.rows%progressEvery == 0 {
			r.onRow(r.rows)
		}
	}
	if n == 0 && r.done {
		if err := r.it.Err(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	return n, nil
}
