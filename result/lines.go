package result

import "bytes"

// A stored CSV line ends at a '\n' outside quotes: a name may hold a line
// break ('\n', "\r\n", '\r'), which CSVEncoder writes inside a quoted
// field, and that is no line end. Since a quote only ever appears in a
// quoted field of a stored line (doubled inside it), a '\n' is a line end
// when the quotes before it on its line are even in number. (The Renderer
// does not count them: it cuts at the first '\n' and carries a line on
// when its quoted field is left open, errOpenQuote, which costs a part
// without quoted names nothing. The gateway's chunk cutter and the Parquet
// conversion count them.)

// LineEnd is the index in p of the '\n' that ends the line p holds the
// rest of, p beginning inside a quoted field when quoted; -1 if p does not
// hold it, and then whether p ends inside a quoted field.
func LineEnd(p []byte, quoted bool) (int, bool) {
	i := 0
	for {
		if quoted {
			k := bytes.IndexByte(p[i:], '"')
			if k < 0 {
				return -1, true
			}
			i, quoted = i+k+1, false
			continue
		}
		n := bytes.IndexByte(p[i:], '\n')
		rest := p[i:]
		if n >= 0 {
			rest = rest[:n]
		}
		k := bytes.IndexByte(rest, '"')
		if k < 0 {
			if n < 0 {
				return -1, false
			}
			return i + n, false
		}
		i, quoted = i+k+1, true
	}
}
