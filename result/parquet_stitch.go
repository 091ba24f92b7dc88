package result

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// ParquetPart is a stored part's Parquet file as the stitcher needs it:
// its length and its footer (ParquetFooter).
type ParquetPart struct {
	Size   int64
	Footer []byte
}

// Body is the length of the part's row groups and page indexes: the file
// less its leading magic and its trailing footer, length and magic.
func (p ParquetPart) Body() int64 {
	return p.Size - int64(len(ParquetMagic)) - int64(len(p.Footer)) - 8
}

// ParquetLayout returns the layout of one Parquet file made of parts, in
// order: the magic, each part's body (read from its stored file at offset
// 4), and a footer listing every part's row groups where they now lie. A
// job of no parts is a valid file of no rows.
func ParquetLayout(parts []ParquetPart) (*Layout, error) {
	footer, err := ParquetTail(parts)
	if err != nil {
		return nil, err
	}
	l := &Layout{}
	l.Add(Segment{Part: -1, Literal: []byte(ParquetMagic)})
	for i, p := range parts {
		l.Add(Segment{Part: i, Offset: int64(len(ParquetMagic)), Len: p.Body()})
	}
	l.Add(Segment{Part: -1, Literal: footer})
	return l, nil
}

// ParquetTail is the end of the file made of parts: the footer that lists
// every part's row groups where they lie in the whole, its length and the
// magic. A file streamed as it is made ends with it.
func ParquetTail(parts []ParquetPart) ([]byte, error) {
	proto := new(thrift.CompactProtocol)
	var whole format.FileMetaData
	pos := int64(len(ParquetMagic)) // where the next part's body begins in the whole
	for i, p := range parts {
		var md format.FileMetaData
		if p.Body() < 0 {
			return nil, fmt.Errorf("%w: part %d: size %d too small for its footer", ErrNotParquet, i, p.Size)
		}
		if err := thrift.Unmarshal(proto, p.Footer, &md); err != nil {
			return nil, fmt.Errorf("%w: part %d footer: %v", ErrNotParquet, i, err)
		}
		if i == 0 {
			whole = md
			whole.RowGroups, whole.NumRows = nil, 0
		} else if len(md.Schema) != len(whole.Schema) {
			return nil, fmt.Errorf("%w: part %d has %d schema elements, part 0 %d", ErrNotParquet, i, len(md.Schema), len(whole.Schema))
		}
		shift := pos - int64(len(ParquetMagic))
		for _, rg := range md.RowGroups {
			shiftRowGroup(&rg, shift)
			rg.Ordinal = int16(len(whole.RowGroups))
			whole.RowGroups = append(whole.RowGroups, rg)
		}
		whole.NumRows += md.NumRows
		pos += p.Body()
	}
	if len(parts) == 0 {
		md, err := emptyFooter()
		if err != nil {
			return nil, err
		}
		whole = md
	}
	b, err := thrift.Marshal(proto, &whole)
	if err != nil {
		return nil, fmt.Errorf("parquet footer: %w", err)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(b)))
	return append(b, ParquetMagic...), nil
}

// shiftRowGroup moves every offset of a row group by shift bytes. An
// offset of zero is an absent optional field and stays so.
func shiftRowGroup(rg *format.RowGroup, shift int64) {
	add := func(off *int64) {
		if *off != 0 {
			*off += shift
		}
	}
	add(&rg.FileOffset)
	cols := make([]format.ColumnChunk, len(rg.Columns))
	copy(cols, rg.Columns)
	for i := range cols {
		c := &cols[i]
		add(&c.FileOffset)
		add(&c.OffsetIndexOffset)
		add(&c.ColumnIndexOffset)
		add(&c.MetaData.DataPageOffset)
		add(&c.MetaData.IndexPageOffset)
		add(&c.MetaData.DictionaryPageOffset)
		add(&c.MetaData.BloomFilterOffset)
	}
	rg.Columns = cols
}

// emptyFooter is the file metadata of a file of no rows.
func emptyFooter() (format.FileMetaData, error) {
	var buf bytes.Buffer
	w := NewParquetWriter(&buf)
	var md format.FileMetaData
	if err := w.Close(); err != nil {
		return md, err
	}
	f, err := ParquetFooter(buf.Bytes())
	if err != nil {
		return md, err
	}
	err = thrift.Unmarshal(new(thrift.CompactProtocol), f, &md)
	return md, err
}

// ParquetRows returns the number of rows a Parquet file's footer says it
// holds, checked against its row groups' own counts.
func ParquetRows(footer []byte) (int64, error) {
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &md); err != nil {
		return 0, fmt.Errorf("%w: footer: %v", ErrNotParquet, err)
	}
	var sum int64
	for _, rg := range md.RowGroups {
		sum += rg.NumRows
	}
	if sum != md.NumRows {
		return 0, fmt.Errorf("%w: the footer says %d rows, its row groups %d", ErrNotParquet, md.NumRows, sum)
	}
	return md.NumRows, nil
}
