package chstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"slices"

	"github.com/ClickHouse/ch-go/proto"
)

// maxStringLen bounds one value of a String column: ClickHouse's own
// limit on a value it reads from the wire (1 GiB).
const maxStringLen = 1 << 30

// strCol is a String column that decodes straight from the connection's
// buffer: lengths and bytes are parsed from what is buffered, not a byte
// at a time through io.Reader calls as ch-go's ColStr does, which was half
// of an export's read. Each value is interned as it is parsed (in), so a
// row's strings are the interner's, not copies of the buffer's bytes.
// Its memory is reused from block to block. With codes, it is a column of
// UInt16 codes of those names instead (see nameCodes).
type strCol struct {
	br      *bufio.Reader // the reader under the proto.Reader, which buffers nothing
	in      *interner     // of the export reading the column
	vals    []string      // the block's values, interned
	scratch []byte        // a value split by the buffer's end
	codes   []string      // non-nil: the names of codes 1, 2, …
}

var _ proto.ColResult = (*strCol)(nil)

func (c *strCol) Type() proto.ColumnType {
	if c.codes != nil {
		return proto.ColumnTypeUInt16
	}
	return proto.ColumnTypeString
}
func (c *strCol) Rows() int { return len(c.vals) }
func (c *strCol) Reset()    { c.vals = c.vals[:0] } // interned strings: few, kept anyway

// DecodeColumn reads rows values: as many as are wholly buffered at a
// time, and a value split by the buffer's end on its own.
func (c *strCol) DecodeColumn(_ *proto.Reader, rows int) error {
	c.Reset()
	if cap(c.vals) < rows { // once, not grown value by value (a block from a pool the collector emptied)
		c.vals = make([]string, 0, rows)
	}
	if c.codes != nil {
		return c.decodeCodes(rows)
	}
	for len(c.vals) < rows {
		if _, err := c.br.Peek(1); err != nil {
			return noEOF(err)
		}
		avail, _ := c.br.Peek(c.br.Buffered())
		used := 0
		for len(c.vals) < rows {
			var n uint64
			k := 1
			if used < len(avail) && avail[used] < 0x80 { // a length below 128, as names are: no call
				n = uint64(avail[used])
			} else if n, k = binary.Uvarint(avail[used:]); k < 0 || n > maxStringLen {
				return errors.New("native: bad string length")
			}
			if k == 0 || used+k+int(n) > len(avail) {
				break
			}
			c.vals = append(c.vals, c.in.get(avail[used+k:used+k+int(n)]))
			used += k + int(n)
		}
		if _, err := c.br.Discard(used); err != nil {
			return noEOF(err)
		}
		if used == 0 { // the next value goes past what is buffered
			if err := c.readOne(); err != nil {
				return err
			}
		}
	}
	return nil
}

// readOne reads one value however long.
func (c *strCol) readOne() error {
	n, err := binary.ReadUvarint(c.br)
	if err != nil {
		return noEOF(err)
	}
	if n > maxStringLen {
		return errors.New("native: bad string length")
	}
	c.scratch = slices.Grow(c.scratch[:0], int(n))[:n]
	if _, err := io.ReadFull(c.br, c.scratch); err != nil {
		return noEOF(err)
	}
	c.vals = append(c.vals, c.in.get(c.scratch))
	if cap(c.scratch) > nativeReadBuffer { // one long value is not kept
		c.scratch = nil
	}
	return nil
}

// noEOF is err, but the end of the stream within a block is unexpected.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
