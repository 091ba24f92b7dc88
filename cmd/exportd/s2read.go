package main

// Reading a download sent with Content-Encoding: s2: one S2 stream of the
// CSV (the gateway's head line, then each part's stream as stored,
// concatenated; gateway/s2.go). It is about a quarter of the identity
// bytes through the connection, and the gateway does not decode it.

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/s2"
)

// codingS2 is the content coding get asks for on a CSV download.
const codingS2 = "s2"

// askS2 is whether get asks for CSV as s2; a variable so that a benchmark
// can set it against identity.
var askS2 = true

// sniffCoding returns the body of a whole file sent without a content
// coding, and the coding its first bytes show: a proxy that drops
// Content-Encoding (or Accept-Encoding, so that its own client unzips)
// passes the body on as the server sent it. A file begins with text (CSV's
// header, JSON's bracket) or Parquet's magic, never with an S2 stream's
// identifier (0xff is no byte of UTF-8) or gzip's magic, so the first
// bytes tell the codings apart; a ranged answer is identity bytes of the
// file anywhere, and is not sniffed.
func sniffCoding(body io.Reader) (io.Reader, string) {
	// Small: a read past what it holds goes straight into the caller's
	// buffer (bufio), so the identity path copies no more than this.
	br := bufio.NewReaderSize(body, 16)
	head, _ := br.Peek(len(s2StreamID))
	switch {
	case bytes.Equal(head, s2StreamID) || bytes.Equal(head, snappyStreamID):
		return br, codingS2
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return br, "gzip"
	}
	return br, ""
}

// The stream identifier chunks an S2 stream begins with (a Snappy one's,
// which S2 reads too).
var (
	s2StreamID     = []byte("\xff\x06\x00\x00S2sTwO")
	snappyStreamID = []byte("\xff\x06\x00\x00sNaPpY")
)

// blockSource gives a download's bytes a block at a time, in buf when it
// has room: the identity bytes as they are read, or an S2 stream's blocks
// as they are decoded. The block is the caller's until it asks for the
// next one with the same buf.
type blockSource interface {
	next(buf []byte) ([]byte, error)
}

// readBlocks is the identity body: each Read is a block.
type readBlocks struct{ r io.Reader }

func (s readBlocks) next(buf []byte) ([]byte, error) {
	k, err := s.r.Read(buf[:cap(buf)])
	return buf[:k], err
}

// s2Blocks decodes an S2 stream (the framing of klauspost/compress/s2, a
// superset of Snappy's; streams concatenated decode as one) block by block
// into the caller's buffers, so that a block is decoded where it is then
// written and hashed: s2.Reader would decode into its own buffer and copy
// out of it. With noCRC the blocks' CRC-32C is not checked: every byte is
// checked against the manifest's SHA-256 anyway.
type s2Blocks struct {
	r      io.Reader
	noCRC  bool
	frame  []byte
	header bool // a stream identifier was read
}

// Chunk types and sizes of the framing format
// (github.com/google/snappy/blob/main/framing_format.txt; S2's adds none
// that a reader must know).
const (
	s2Compressed   = 0x00
	s2Uncompressed = 0x01
	s2Identifier   = 0xff
	s2MaxBlock     = 4 << 20 // S2's largest block
	s2MaxChunk     = s2MaxBlock + 1024
)

// errS2Corrupt is a stream that does not decode: its bytes cannot be the
// manifest's, and the same would come again, so it is a mismatch
// (errNoMatch) to get, not a broken connection.
var (
	errS2Corrupt = fmt.Errorf("%w: the s2 stream is corrupt", errNoMatch)
	crcTable     = crc32.MakeTable(crc32.Castagnoli)
)

// next returns the next block of decoded bytes; io.EOF at the stream's end
// between chunks, io.ErrUnexpectedEOF within one.
func (s *s2Blocks) next(buf []byte) ([]byte, error) {
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
			return nil, err
		}
		kind, n := hdr[0], int(hdr[1])|int(hdr[2])<<8|int(hdr[3])<<16
		if !s.header && kind != s2Identifier {
			return nil, fmt.Errorf("%w: no stream identifier", errS2Corrupt)
		}
		if kind <= 0x7f && kind != s2Compressed && kind != s2Uncompressed || n > s2MaxChunk {
			return nil, fmt.Errorf("%w: chunk type %#x of %d bytes", errS2Corrupt, kind, n)
		}
		if cap(s.frame) < n {
			s.frame = make([]byte, n)
		}
		frame := s.frame[:n]
		if _, err := io.ReadFull(s.r, frame); err != nil {
			return nil, noEOF(err)
		}
		switch kind {
		case s2Identifier:
			if b := string(frame); b != "S2sTwO" && b != "sNaPpY" {
				return nil, fmt.Errorf("%w: stream identifier %q", errS2Corrupt, b)
			}
			s.header = true
		case s2Compressed, s2Uncompressed:
			return s.block(buf, kind, frame)
		}
		// Padding and the skippable chunks (0x80-0xfe): passed over.
	}
}

// block decodes a data chunk's frame into buf, or a new buffer when it
// has no room.
func (s *s2Blocks) block(buf []byte, kind byte, frame []byte) ([]byte, error) {
	if len(frame) < 4 {
		return nil, fmt.Errorf("%w: a data chunk of %d bytes", errS2Corrupt, len(frame))
	}
	sum, data := uint32(frame[0])|uint32(frame[1])<<8|uint32(frame[2])<<16|uint32(frame[3])<<24, frame[4:]
	var out []byte
	if kind == s2Uncompressed {
		out = append(buf[:0], data...)
	} else {
		n, err := s2.DecodedLen(data)
		if err != nil || n > s2MaxBlock {
			return nil, fmt.Errorf("%w: a block of %d bytes (%v)", errS2Corrupt, n, err)
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		if out, err = s2.Decode(buf[:n], data); err != nil {
			return nil, fmt.Errorf("%w: %v", errS2Corrupt, err)
		}
	}
	if !s.noCRC {
		if c := crc32.Update(0, crcTable, out); c>>15|c<<17+0xa282ead8 != sum {
			return nil, fmt.Errorf("%w: a block's CRC does not match", errS2Corrupt)
		}
	}
	return out, nil
}

// noEOF makes a stream that ends within a chunk an unexpected end.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
