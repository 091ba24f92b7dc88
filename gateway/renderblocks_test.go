package gateway_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/result/resulttest"
	"github.com/plenario-next/exportd/schema"
)

// A stored part's blocks, decoded, cut and rendered by the workers, each
// rendering the lines carried from the block before and its own up to its
// last cut, make what one Renderer makes of the whole CSV, wherever the
// blocks end (mid-line, mid-reading, blocks smaller than a reading's lines)
// and whatever their count; a damaged block is an error, after nothing
// but the rendering of the lines before it.
func TestRenderStoredBlocks(t *testing.T) {
	csv := resulttest.CSV(resulttest.BenchRows(20_000, time.Date(2025, 12, 26, 0, 0, 0, 0, time.UTC)))
	ids := schema.MetaIDs{}
	for i := range 100 {
		ids[fmt.Sprintf("001e0610%04x", 0xb000+i)] = uint32(1000 + i)
	}
	for _, format := range []string{schema.FormatJSON, schema.FormatNDJSON} {
		ref := &result.Renderer{MetaIDs: ids, NDJSON: format == schema.FormatNDJSON}
		want, err := ref.AppendLines(nil, csv)
		if err != nil {
			t.Fatal(err)
		}
		want = ref.Close(want)
		for _, sizes := range [][]int{{256 << 10}, {65536, 1000, 7777}, {100, 37, 3000}, {256<<10 - 1, 5}} {
			var got bytes.Buffer
			if err := gateway.RenderStored(&got, csv, sizes, 0, format, ids); err != nil || !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("%s in blocks of %v: %d bytes (%v), want the %d of one renderer", format, sizes, got.Len(), err, len(want))
			}
		}
		var got bytes.Buffer
		if err := gateway.RenderStored(&got, nil, []int{1000}, 0, format, ids); err != nil || got.Len() != 0 {
			t.Fatalf("%s of no lines: %q (%v), want nothing", format, got.Bytes(), err)
		}
		got.Reset()
		err = gateway.RenderStored(&got, csv, []int{7777}, 40, format, ids)
		if err == nil || !bytes.HasPrefix(want, got.Bytes()) || got.Len() > 40*7777*2 {
			t.Fatalf("%s, block 40 damaged: %d bytes (%v), want an error after at most the rendering of the blocks before", format, got.Len(), err)
		}
	}
}
