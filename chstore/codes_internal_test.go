package chstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/iotest"
)

// FuzzCodeColumn holds decodeCodes to a plain reading of the column, two
// bytes a code, over every way the reader's buffer can split the codes
// (a buffer of 16 bytes fed one byte or a few at a time), for blocks
// after blocks and codes past the list or 0: the names of the codes in
// order, or ErrUnknownName and no more.
func FuzzCodeColumn(f *testing.F) {
	f.Add(uint8(3), uint8(5), []byte{1, 0, 2, 0, 3, 0, 1, 0, 1, 0, 2, 0})
	f.Add(uint8(1), uint8(2), []byte{1, 0, 1, 0, 0, 0, 1, 0})
	f.Add(uint8(250), uint8(7), []byte{250, 0, 1, 1, 9, 0, 1})
	f.Fuzz(func(t *testing.T, names, rows uint8, data []byte) {
		codes := make([]string, int(names)+1)
		for i := range codes {
			codes[i] = fmt.Sprint("name ", i)
		}
		var want []string
		for j := 0; j+2 <= len(data); j += 2 {
			i := int(binary.LittleEndian.Uint16(data[j:]))
			if i == 0 || i > len(codes) {
				want = append(want, "") // the end: unknown
				break
			}
			want = append(want, codes[i-1])
		}
		var r = iotest.OneByteReader(bytes.NewReader(data))
		if rows%2 == 1 {
			r = iotest.HalfReader(bytes.NewReader(data))
		}
		c := strCol{br: bufio.NewReaderSize(r, 16), codes: codes}
		per := int(rows%9) + 1 // rows a block
		for at := 0; at < len(want); at += per {
			err := c.DecodeColumn(nil, min(per, len(data)/2-at))
			block := want[at:min(at+per, len(want))]
			if n := len(block); n > 0 && block[n-1] == "" {
				if !errors.Is(err, ErrUnknownName) {
					t.Fatalf("block at %d: got %v, want %v", at, err, ErrUnknownName)
				}
				block = block[:n-1]
				if len(c.vals) < len(block) || !slices.Equal(c.vals[:len(block)], block) {
					t.Fatalf("block at %d: got %q before the unknown code, want %q", at, c.vals, block)
				}
				return
			}
			if err != nil {
				t.Fatalf("block at %d: %v", at, err)
			}
			if !slices.Equal(c.vals, block) {
				t.Fatalf("block at %d: got %q, want %q", at, c.vals, block)
			}
		}
	})
}
