package result_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/plenario-next/exportd/result"
)

// FuzzJSONWriter feeds arbitrary bytes, in two chunks, to a JSONWriter: it
// must not panic, must agree with one whole write, and what it writes
// without an error must be JSON.
func FuzzJSONWriter(f *testing.F) {
	f.Add([]byte(readFixture(f, "rows.csv")), uint16(17), false)
	f.Add([]byte(readFixture(f, "rows.csv")), uint16(64), true)
	f.Add([]byte(""), uint16(0), false)
	f.Add([]byte("\n\n"), uint16(1), true)
	f.Add([]byte("0,t,s,f,p,1\n0,t,s,f,q,-2.5e3\n1,t,s,f,p,"), uint16(12), false)
	f.Add([]byte("\"a,\"\"b\",t,s,f,p,1\n"), uint16(3), false)
	f.Add([]byte("0,t,s,f,p,1,2\n"), uint16(5), false)
	f.Add([]byte("0,t,s,f,p,NaN\n"), uint16(5), true)
	f.Add([]byte("\"0\"x,t,s,f,p,1\n"), uint16(2), false)
	f.Add([]byte("0,\x01\xff\"\\,s,f,p,0\r\n"), uint16(9), false)
	f.Add([]byte("\"a\nb\",t,\"s\r\n\",f,p,1\n\"a\nb\",t,\"s\r\n\",f,\"\"\"\n\",2\n"), uint16(2), false)
	f.Add([]byte("\"a\nb\",t,s,f,p,1\n0,t,\"\n\",f,p,2\n"), uint16(24), true)
	f.Fuzz(func(t *testing.T, data []byte, split uint16, ndjson bool) {
		k := int(split) % (len(data) + 1)
		var whole, chunked bytes.Buffer
		errWhole := writeAll(&whole, ndjson, data)
		errChunked := writeAll(&chunked, ndjson, data[:k], data[k:])
		if (errWhole == nil) != (errChunked == nil) {
			t.Fatalf("got errors %v whole and %v split at %d, want the same", errWhole, errChunked, k)
		}
		if errWhole != nil {
			if !errors.Is(errWhole, result.ErrBadRow) {
				t.Fatalf("got %v, want %v", errWhole, result.ErrBadRow)
			}
			return
		}
		if !bytes.Equal(whole.Bytes(), chunked.Bytes()) {
			t.Fatalf("got %q split at %d, want %q as whole", chunked.Bytes(), k, whole.Bytes())
		}
		out := whole.Bytes()
		if !ndjson {
			if !json.Valid(out) {
				t.Fatalf("got %q, want valid JSON", out)
			}
			var obs []observationShape
			if err := json.Unmarshal(out, &obs); err != nil {
				t.Fatalf("got %v decoding %q, want observations", err, out)
			}
			return
		}
		if len(out) > 0 && out[len(out)-1] != '\n' {
			t.Fatalf("got %q, want one object a line", out)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
			if len(out) == 0 {
				break
			}
			var o observationShape
			if err := json.Unmarshal([]byte(line), &o); err != nil {
				t.Fatalf("got %v decoding line %q, want an observation", err, line)
			}
		}
	})
}

// observationShape is an Observation whose values may be any JSON number,
// even one past float64, or null: the writer copies stored values verbatim.
type observationShape struct {
	Node     string                  `json:"node"`
	Datetime string                  `json:"datetime"`
	Sensor   string                  `json:"sensor"`
	Feature  string                  `json:"feature"`
	Results  map[string]*json.Number `json:"results"`
}

func writeAll(out *bytes.Buffer, ndjson bool, chunks ...[]byte) error {
	w := result.NewJSONWriter(out, ndjson, nil)
	for _, c := range chunks {
		if _, err := w.Write(c); err != nil {
			return err
		}
	}
	return w.Close()
}
