// Parquet. A job's Parquet file is made of its parts: each
// part is stored as a complete Parquet file of its own (so that one part can
// be checked alone), and a download is the magic, each part's body (its row
// groups and page indexes, without its own magic and footer) in order, and
// one footer that lists every part's row groups at their place in the whole.
// The footer is made from the parts' own footers, which are small and stored
// beside them, so the whole file's size and every byte's place are known
// before any body is read: readers such as DuckDB fetch the footer first
// with a range, then the row groups they need.

package result

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// ParquetMagic begins and ends every Parquet file.
const ParquetMagic = "PAR1"

// ParquetContentType is what a Parquet download is sent as.
const ParquetContentType = "application/vnd.apache.parquet"

// ParquetRow is one observed value as a Parquet row: the CSV's columns,
// typed, and Plenario's meta_id. Strings are dictionary-encoded (a part has
// a few hundred nodes and a handful of names at most); the timestamp is
// microseconds, UTC; the value is split into byte streams, which zstd
// compresses far better than whole doubles.
type ParquetRow struct {
	NodeID   string    `parquet:"node_id,dict"`
	Datetime time.Time `parquet:"datetime,timestamp(microsecond)"`
	MetaID   float64   `parquet:"meta_id"`
	Sensor   string    `parquet:"sensor,dict"`
	Feature  string    `parquet:"feature,dict"`
	Property string    `parquet:"property,dict"`
	Value    float64   `parquet:"value,split"`
}

// parquetBatch is how many rows a ParquetWriter gathers before it hands
// them to the encoder: the encoder's per-call cost is then negligible.
const parquetBatch = 4096

// ParquetRowGroupRows caps a row group. A part of the default 250 000 rows
// is one or two row groups, each a few MB: large enough for column chunks
// that compress well, small enough that a reader skipping by time reads
// little more than it needs.
const ParquetRowGroupRows = 256 << 10

// parquetZstd is the zstd codec of every Parquet part: it keeps its
// encoders in a pool, so one codec for all of them reuses their buffers
// (several MB of history each) from part to part, where a codec per part
// made new ones every time.
var parquetZstd = &zstd.Codec{Level: zstd.SpeedFastest}

// ParquetWriter encodes a part's rows as one complete Parquet file written
// to w. Rows are buffered in the encoder's pages (a part's columns,
// compressed as they fill) and written out at Close: memory is about the
// compressed part, a few MB.
type ParquetWriter struct {
	w     *parquet.GenericWriter[ParquetRow]
	out   *countWriter
	batch []ParquetRow
	rows  int64
}

// NewParquetWriter starts a part's Parquet file on w.
func NewParquetWriter(w io.Writer) *ParquetWriter {
	out := &countWriter{w: w}
	return &ParquetWriter{
		out:   out,
		batch: make([]ParquetRow, 0, parquetBatch),
		w: parquet.NewGenericWriter[ParquetRow](out,
			parquet.Compression(parquetZstd),
			parquet.MaxRowsPerRowGroup(ParquetRowGroupRows),
			parquet.CreatedBy("exportd", "1", ""),
			parquet.DataPageStatistics(false),
		),
	}
}

// Append adds a row. Its strings are kept until the next flush: callers
// that reuse string memory must not (schema.Row's strings are immutable).
func (p *ParquetWriter) Append(r ParquetRow) error {
	p.batch = append(p.batch, r)
	if len(p.batch) == cap(p.batch) {
		return p.flush()
	}
	return nil
}

func (p *ParquetWriter) flush() error {
	if len(p.batch) == 0 {
		return nil
	}
	n, err := p.w.Write(p.batch)
	p.rows += int64(n)
	clear(p.batch)
	p.batch = p.batch[:0]
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	return nil
}

// Close writes the rest of the file. A part of no rows is still a valid
// file (a footer and no row groups).
func (p *ParquetWriter) Close() error {
	if err := p.flush(); err != nil {
		return err
	}
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	return nil
}

// Size is the bytes written so far.
func (p *ParquetWriter) Size() int64 { return p.out.n }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// ErrNotParquet is returned for bytes that are not a Parquet file.
var ErrNotParquet = errors.New("result: not a Parquet file")

// ParquetFooter returns the footer (the thrift-encoded file metadata,
// without its length and magic) of a complete Parquet file's last bytes;
// tail must hold at least the footer and its 8-byte trailer.
func ParquetFooter(tail []byte) ([]byte, error) {
	if len(tail) < 8 || string(tail[len(tail)-4:]) != ParquetMagic {
		return nil, ErrNotParquet
	}
	n := int64(binary.LittleEndian.Uint32(tail[len(tail)-8:]))
	if n > int64(len(tail)-8) {
		return nil, fmt.Errorf("%w: footer of %d bytes beyond the %d given", ErrNotParquet, n, len(tail))
	}
	return bytes.Clone(tail[int64(len(tail))-8-n : len(tail)-8]), nil
}

var nanValue = math.NaN()
