package result

import (
	"bytes"
	"io"
)

// NDJSONOfJSON turns stored JSON fragments (JSONEncoder), written to it in
// chunks of any size and one fragment after another, into NDJSON: one
// observation a line, as a JSONWriter for NDJSON makes of the same rows.
// A fragment's only raw line breaks are those of the ",\n" before each
// observation (a line break in a name is escaped), so the conversion is to
// drop the first, turn the others into "\n" and end with one. Close
// writes the end.
type NDJSONOfJSON struct {
	w       io.Writer
	out     []byte
	comma   bool // the last byte written was a ',' not yet placed
	started bool // an observation has begun
}

// NewNDJSONOfJSON returns an NDJSONOfJSON writing to w.
func NewNDJSONOfJSON(w io.Writer) *NDJSONOfJSON {
	return &NDJSONOfJSON{w: w, out: make([]byte, 0, 2*jsonFlush)}
}

// Write consumes fragment bytes.
func (c *NDJSONOfJSON) Write(p []byte) (int, error) {
	n := len(p)
	if c.comma && len(p) > 0 {
		c.comma = false
		if p[0] == '\n' {
			c.separate()
			p = p[1:]
		} else {
			c.out = append(c.out, ',')
		}
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if p[len(p)-1] == ',' {
				c.comma, p = true, p[:len(p)-1]
			}
			c.out = append(c.out, p...)
			break
		}
		if i == 0 || p[i-1] != ',' {
			return 0, ErrBadRow
		}
		c.out = append(c.out, p[:i-1]...)
		c.separate()
		p = p[i+1:]
	}
	if len(c.out) >= jsonFlush {
		if err := c.flush(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// separate places the ",\n" before an observation: nothing before the first.
func (c *NDJSONOfJSON) separate() {
	if c.started {
		c.out = append(c.out, '\n')
	}
	c.started = true
}

// Close ends the last line and writes it all out.
func (c *NDJSONOfJSON) Close() error {
	if c.comma {
		return ErrBadRow
	}
	if c.started {
		c.out = append(c.out, '\n')
	}
	if len(c.out) == 0 {
		return nil
	}
	return c.flush()
}

func (c *NDJSONOfJSON) flush() error {
	_, err := c.w.Write(c.out)
	c.out = c.out[:0]
	return err
}
