package events

import (
	"errors"
	"hash/crc32"
	"io"
	"slices"

	"github.com/klauspost/compress/s2"
)

// AppendBlock appends the part's next block of CSV to dst and returns it;
// io.EOF, with dst as it was, once the part has ended. A compressed part's
// block is decoded straight into dst's spare room (grown if it is short),
// checked against its frame's CRC as s2.Reader checks it: a JSON download
// renders the CSV from where it was decoded, where Read decoded it into
// s2.Reader's buffer and copied it out (a tenth of the gateway's CPU in a
// 20 M-row JSON download's profile: 0.25 s of memmove for 1.4 GB).
// Not to be mixed with Read, WriteTo or Skip: a part is read one way.
func (r *PartReader) AppendBlock(dst []byte) ([]byte, error) {
	r.fresh = false
	if !r.compressed { // stored as it is: up to a block of it
		n := len(dst)
		dst = slices.Grow(dst, partBlock)
		k, err := io.ReadFull(r.raw, dst[n:n+partBlock])
		if k > 0 && (err == io.ErrUnexpectedEOF || err == io.EOF) {
			err = nil
		}
		return dst[:n+k], err
	}
	return r.frames.appendBlock(dst, r.raw)
}

// s2Frames reads an S2 stream (the framing format s2.Writer writes:
// https://github.com/google/snappy/blob/master/framing_format.txt, S2's
// magic) a block at a time, for AppendBlock.
type s2Frames struct {
	begun   bool   // the stream identifier was read
	scratch []byte // a frame that spans chunks, gathered
	hdr     [4]byte
}

var (
	errS2Corrupt = errors.New("events: a stored part's S2 stream is corrupt")
	errS2CRC     = errors.New("events: a stored part's S2 block fails its CRC")
)

const (
	s2Magic        = "S2sTwO"
	s2MaxFrame     = 1<<24 - 1
	s2Compressed   = 0x00
	s2Uncompressed = 0x01
	s2StreamID     = 0xff
)

var s2CRCTable = crc32.MakeTable(crc32.Castagnoli)

// s2CRC is the frame checksum of section 3 of the framing format, as s2
// computes it.
func s2CRC(b []byte) uint32 {
	c := crc32.Update(0, s2CRCTable, b)
	return c>>15 | c<<17 + 0xa282ead8
}

// appendBlock appends the next data frame's bytes, read from raw, to dst.
func (f *s2Frames) appendBlock(dst []byte, raw *chunkReader) ([]byte, error) {
	typ, body, err := f.next(raw)
	if err != nil {
		return dst, err
	}
	return appendData(dst, typ, body)
}

// next is the next data frame's type and body, read from raw, passing over
// padding and skippable frames; valid until the next read.
func (f *s2Frames) next(raw *chunkReader) (byte, []byte, error) {
	for {
		if _, err := io.ReadFull(raw, f.hdr[:]); err != nil {
			if err == io.EOF { // between frames: as s2.Reader, an empty stream too
				return 0, nil, io.EOF
			}
			return 0, nil, corrupt(err)
		}
		typ, n := f.hdr[0], int(f.hdr[1])|int(f.hdr[2])<<8|int(f.hdr[3])<<16
		if !f.begun && typ != s2StreamID {
			return 0, nil, errS2Corrupt
		}
		body, err := f.frame(raw, n)
		if err != nil {
			return 0, nil, err
		}
		switch {
		case typ == s2StreamID:
			if string(body) != s2Magic {
				return 0, nil, errS2Corrupt
			}
			f.begun = true
		case typ == s2Compressed || typ == s2Uncompressed:
			return typ, body, nil
		case typ <= 0x7f: // reserved unskippable
			return 0, nil, errS2Corrupt
		} // padding and skippable frames are passed over
	}
}

// appendData appends a data frame's block (body: its checksum, then the
// block, compressed or not) to dst.
func appendData(dst []byte, typ byte, body []byte) ([]byte, error) {
	if len(body) < 4 {
		return dst, errS2Corrupt
	}
	sum := uint32(body[0]) | uint32(body[1])<<8 | uint32(body[2])<<16 | uint32(body[3])<<24
	body = body[4:]
	n := len(body)
	if typ == s2Compressed {
		var err error
		if n, err = s2.DecodedLen(body); err != nil {
			return dst, errS2Corrupt
		}
	}
	if n > partBlock { // as s2.Reader's ReaderMaxBlockSize(partBlock)
		return dst, errS2Corrupt
	}
	at := len(dst)
	dst = slices.Grow(dst, n)[:at+n]
	if typ == s2Compressed {
		if _, err := s2.Decode(dst[at:], body); err != nil {
			return dst[:at], errS2Corrupt
		}
	} else {
		copy(dst[at:], body)
	}
	if s2CRC(dst[at:]) != sum {
		return dst[:at], errS2CRC
	}
	return dst, nil
}

// frame is the next n bytes of raw: in place when the chunk being read
// holds them all (most frames: a chunk is larger than a compressed block),
// else gathered into scratch. Valid until the next read.
func (f *s2Frames) frame(raw *chunkReader, n int) ([]byte, error) {
	if n > s2MaxFrame {
		return nil, errS2Corrupt
	}
	if len(raw.buf) >= n {
		b := raw.buf[:n]
		raw.buf = raw.buf[n:]
		return b, nil
	}
	if cap(f.scratch) < n {
		f.scratch = make([]byte, n) // at most a block's MaxEncodedLen in a part we wrote
	}
	b := f.scratch[:n]
	if _, err := io.ReadFull(raw, b); err != nil {
		return nil, corrupt(err)
	}
	return b, nil
}

// corrupt is a read error, io.EOF inside a frame being a stream cut short.
func corrupt(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errS2Corrupt
	}
	return err
}

// Stored blocks' first byte: how the rest is to be decoded.
const (
	storedS2    = 0x00 // an S2 data frame's body (s2Compressed or s2Uncompressed), its type after
	storedPlain = 0x01 // CSV as it is, of a part stored so
)

// AppendStored appends the part's next block as stored to dst, for
// DecodeBlock to decode, and returns it; io.EOF, with dst as it was, once
// the part has ended. A download reads its blocks in order with it, a
// cheap copy of the compressed bytes (about a seventh of the CSV's), and
// decodes them on every core: decoding in the one goroutine that read them
// (AppendBlock) was 0.46 of the gateway's 1.7 CPU-s in a 2 M-row JSON
// download's trace, a third of its wall time on one core.
// Not to be mixed with Read, WriteTo, Skip or AppendBlock.
func (r *PartReader) AppendStored(dst []byte) ([]byte, error) {
	r.fresh = false
	at := len(dst)
	if !r.compressed {
		dst = append(slices.Grow(dst, 1+partBlock), storedPlain)
		k, err := io.ReadFull(r.raw, dst[at+1:at+1+partBlock])
		if k > 0 && (err == io.ErrUnexpectedEOF || err == io.EOF) {
			err = nil
		}
		if err != nil {
			return dst[:at], err
		}
		return dst[:at+1+k], nil
	}
	typ, body, err := r.frames.next(r.raw)
	if err != nil {
		return dst, err
	}
	return append(append(dst, storedS2, typ), body...), nil
}

// DecodeBlock appends the CSV of a block AppendStored read to dst, checked
// as AppendBlock checks it.
func DecodeBlock(dst, stored []byte) ([]byte, error) {
	switch {
	case len(stored) >= 2 && stored[0] == storedS2:
		return appendData(dst, stored[1], stored[2:])
	case len(stored) >= 1 && stored[0] == storedPlain:
		return append(dst, stored[1:]...), nil
	}
	return dst, errS2Corrupt
}
