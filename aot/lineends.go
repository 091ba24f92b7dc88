package aot

import (
	"bufio"
	"bytes"
	"io"
)

// lineEnds returns a buffered reader of r that ends its lines with LF.
// A file whose first line ends in a lone CR (the old Mac's line end, which
// Excel for Mac wrote CSV with until 2016) has each CR read as an LF;
// another (LF or CRLF, the published digests') is read as it is, at the
// cost of one look at its first buffer. Such a file is read, not refused,
// because every tool a user would check it with (Python's universal
// newlines, pandas, a spreadsheet) reads it, and its lines mean one
// thing: before, the whole data file was one line, taken for the header,
// and a load stored nothing and counted 0 lines.
func lineEnds(r io.Reader, size int) *bufio.Reader {
	br := bufio.NewReaderSize(r, size)
	head, _ := br.Peek(min(size, 64<<10)) // an error stays for the first read
	i := bytes.IndexAny(head, "\r\n")
	if i < 0 || head[i] == '\n' || i+1 < len(head) && head[i+1] == '\n' {
		return br
	}
	return bufio.NewReaderSize(crReader{br}, size)
}

// crReader reads every CR of r as LF.
type crReader struct{ r io.Reader }

func (c crReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for b := p[:n]; ; {
		i := bytes.IndexByte(b, '\r')
		if i < 0 {
			break
		}
		b[i] = '\n'
		b = b[i+1:]
	}
	return n, err
}
