package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/compress/s2"
)

// s2Of is data as one S2 stream written with opts.
func s2Of(t *testing.T, data []byte, opts ...s2.WriterOption) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := s2.NewWriter(&b, append([]s2.WriterOption{s2.WriterConcurrency(1), s2.WriterBlockSize(4 << 10)}, opts...)...)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readS2 decodes stream with s2Blocks, into one reused buffer.
func readS2(stream []byte, noCRC bool) ([]byte, error) {
	src := &s2Blocks{r: bytes.NewReader(stream), noCRC: noCRC}
	buf := make([]byte, 0, 8<<10)
	var out []byte
	for {
		p, err := src.next(buf)
		if len(p) > 0 && &p[:1][0] != &buf[:1][0] {
			return out, errors.New("a block that fits was not decoded into the buffer given")
		}
		out = append(out, p...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// TestS2Blocks: get's S2 reading decodes what the s2 package writes, every
// chunk kind, and streams concatenated as the gateway sends them (the head
// line's, then each part's) as one, the bytes s2.Reader gives; a stream
// cut within a chunk is an unexpected end, a corrupt one a mismatch.
func TestS2Blocks(t *testing.T) {
	var csv bytes.Buffer
	for i := range 3000 {
		fmt.Fprintf(&csv, "\"001e0610b%03d\",\"2026-11-25 00:00:%02d\",\"bmp180\",\"temperature\",\"temperature\",%d.5\n", i%40, i%60, i%97)
	}
	head := []byte("\"node_id\",\"datetime\",\"sensor\",\"feature\",\"property\",\"value\"\n")
	data := csv.Bytes()
	concat := append(append(s2Of(t, head), s2Of(t, data[:5000])...), s2Of(t, data[5000:])...)
	flipped := func(b []byte, at int) []byte { c := bytes.Clone(b); c[at] ^= 0x40; return c }
	for _, tc := range []struct {
		name    string
		stream  []byte
		noCRC   bool
		want    []byte
		wantErr error
	}{
		{"one stream", s2Of(t, data), false, data, nil},
		{"concatenated", concat, false, append(append([]byte{}, head...), data...), nil},
		{"uncompressed chunks", s2Of(t, data, s2.WriterUncompressed()), false, data, nil},
		{"padding", s2Of(t, data, s2.WriterPadding(1000)), false, data, nil},
		{"snappy framing", s2Of(t, data, s2.WriterSnappyCompat()), false, data, nil},
		{"with an index", s2Of(t, data, s2.WriterAddIndex()), false, data, nil},
		{"empty", nil, false, nil, nil},
		{"cut within a chunk", concat[:len(concat)-3], false, nil, io.ErrUnexpectedEOF},
		{"cut within a header", concat[:len(s2Of(t, head))+12], false, nil, io.ErrUnexpectedEOF},
		{"no stream identifier", concat[10:], false, nil, errNoMatch},
		// Byte 14 is the head's data chunk's CRC (after the 10 of the
		// identifier and the chunk's own 4).
		{"a CRC changed", flipped(concat, 14), false, nil, errNoMatch},
		{"a CRC changed, not checked", flipped(concat, 14), true, append(append([]byte{}, head...), data...), nil},
		{"a length changed", flipped(concat, len(s2Of(t, head))+11), true, nil, errNoMatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readS2(tc.stream, tc.noCRC)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, %v; want %d", len(got), err, len(tc.want))
			}
			if want, err := io.ReadAll(s2.NewReader(bytes.NewReader(tc.stream), s2.ReaderIgnoreCRC())); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("s2.Reader gives %d bytes (%v), s2Blocks %d", len(want), err, len(got))
			}
		})
	}
}
