package result

import "bytes"

// A stored CSV line ends at a '\n' outside quotes: a name may hold a line
// break ('\n', "\r\n", '\r'), which CSVEncoder writes inside a quoted
// field, and that is no line end. Since a quote only ever appears in a
// quoted field of a stored line (doubled inside it), a '\n' is a line end
// when the quotes before it on its line are even in number.
//
// The cutters keep the index of the next quote of what is left to cut: a
// line before it (every line, in a part without a quoted name) is cut at
// its first '\n', as before, with one comparison more.

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

// quotedCut is the index of the '\n' ending the line p begins, whose first
// quote is at q (its first '\n' is not before q), or -1 if p does not hold
// it; and the index of the first quote after that '\n' (-1 if none), the
// q of what follows.
func quotedCut(p []byte, q int) (end, next int) {
	end, _ = LineEnd(p[q+1:], true)
	if end < 0 {
		return -1, q
	}
	end += q + 1
	if next = bytes.IndexByte(p[end+1:], '"'); next < 0 {
		return end, -1
	}
	return end, next
}

// oddQuotes reports whether p holds an odd number of quotes: whether a
// line's start p ends inside a quoted field.
func oddQuotes(p []byte) bool { return bytes.Count(p, []byte{'"'})%2 == 1 }
