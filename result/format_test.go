package result_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

var ts0 = time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)

func TestCSVEncoderAppendRow(t *testing.T) {
	row := func(node, sensor, feature, property string, v float64) schema.Row {
		return schema.Row{Node: node, TS: ts0, Sensor: sensor, Feature: feature, Property: property, Value: v}
	}
	tests := []struct {
		name  string
		input schema.Row
		want  string
	}{
		{name: "plain", input: row("000", "tmp112", "temperature", "temperature", 21.5), want: "000,2017-01-01T00:00:00,tmp112,temperature,temperature,21.5\n"},
		{name: "a comma is quoted", input: row("a,b", "tmp112", "temperature", "temperature", 1), want: `"a,b",2017-01-01T00:00:00,tmp112,temperature,temperature,1` + "\n"},
		{name: "a quote is doubled", input: row("000", `say "hi"`, "temperature", "temperature", 1), want: `000,2017-01-01T00:00:00,"say ""hi""",temperature,temperature,1` + "\n"},
		{name: "a newline is quoted", input: row("000", "tmp112", "a\nb", "c\rd", 1), want: "000,2017-01-01T00:00:00,tmp112,\"a\nb\",\"c\rd\",1\n"},
		{name: "empty names", input: row("", "", "", "", 1), want: ",2017-01-01T00:00:00,,,,1\n"},
		{name: "zero", input: row("0", "s", "f", "p", 0), want: "0,2017-01-01T00:00:00,s,f,p,0\n"},
		{name: "negative zero", input: row("0", "s", "f", "p", math.Copysign(0, -1)), want: "0,2017-01-01T00:00:00,s,f,p,-0\n"},
		{name: "shortest round trip", input: row("0", "s", "f", "p", 0.1), want: "0,2017-01-01T00:00:00,s,f,p,0.1\n"},
		{name: "a third", input: row("0", "s", "f", "p", 1.0/3), want: "0,2017-01-01T00:00:00,s,f,p,0.3333333333333333\n"},
		{name: "large, no exponent", input: row("0", "s", "f", "p", 1e21), want: "0,2017-01-01T00:00:00,s,f,p,1000000000000000000000\n"},
		{name: "small, no exponent", input: row("0", "s", "f", "p", -1.5e-7), want: "0,2017-01-01T00:00:00,s,f,p,-0.00000015\n"},
		{name: "NaN is empty", input: row("0", "s", "f", "p", math.NaN()), want: "0,2017-01-01T00:00:00,s,f,p,\n"},
		{name: "infinity is empty", input: row("0", "s", "f", "p", math.Inf(-1)), want: "0,2017-01-01T00:00:00,s,f,p,\n"},
		{
			name:  "another zone is written as UTC, fractions dropped",
			input: schema.Row{Node: "0", TS: time.Date(2016, 12, 31, 18, 0, 0, 999_000_000, time.FixedZone("CST", -6*3600)), Sensor: "s", Feature: "f", Property: "p", Value: 1},
			want:  "0,2017-01-01T00:00:00,s,f,p,1\n",
		},
		{
			name:  "the epoch",
			input: schema.Row{Node: "0", TS: time.Unix(0, 0), Sensor: "s", Feature: "f", Property: "p", Value: 1},
			want:  "0,1970-01-01T00:00:00,s,f,p,1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e result.CSVEncoder
			if got := string(e.AppendRow(nil, &tt.input)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			// What it writes is CSV as encoding/csv reads it.
			r := csv.NewReader(strings.NewReader(tt.want))
			rec, err := r.Read()
			if err != nil {
				t.Fatalf("got error %v reading the row back, want nil", err)
			}
			if want := []string{tt.input.Node, tt.input.Sensor, tt.input.Feature, tt.input.Property}; !reflect.DeepEqual([]string{rec[0], rec[2], rec[3], rec[4]}, want) {
				t.Errorf("got fields %q, want %q", rec, want)
			}
		})
	}
}

func TestCSVEncoderTimestampsAcrossRows(t *testing.T) {
	var e result.CSVEncoder
	var b []byte
	for _, ts := range []time.Time{ts0, ts0, ts0.Add(time.Second), ts0.Add(1500 * time.Millisecond), ts0, time.Unix(0, 0), ts0} {
		b = e.AppendRow(b, &schema.Row{Node: "0", TS: ts, Sensor: "s", Feature: "f", Property: "p", Value: 1})
	}
	want := "" +
		"0,2017-01-01T00:00:00,s,f,p,1\n" +
		"0,2017-01-01T00:00:00,s,f,p,1\n" +
		"0,2017-01-01T00:00:01,s,f,p,1\n" +
		"0,2017-01-01T00:00:01,s,f,p,1\n" +
		"0,2017-01-01T00:00:00,s,f,p,1\n" +
		"0,1970-01-01T00:00:00,s,f,p,1\n" +
		"0,2017-01-01T00:00:00,s,f,p,1\n"
	if string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
}

func TestAppendValueRoundTrip(t *testing.T) {
	for _, v := range []float64{0, 1, -1, 0.1, 1.0 / 3, 123456789.125, 1e21, 1e-300, math.MaxFloat64, math.SmallestNonzeroFloat64, -273.15} {
		s := string(result.AppendValue(nil, v))
		if strings.ContainsAny(s, "eE") {
			t.Errorf("got %s for %v, want no exponent", s, v)
		}
		var got float64
		if err := json.Unmarshal([]byte(s), &got); err != nil || got != v {
			t.Errorf("got %v (%v) reading %s back, want %v", got, err, s, v)
		}
	}
}

// jsonOf runs input through a JSONWriter, written in chunks of size bytes
// (all at once when size is 0).
func jsonOf(tb testing.TB, input []byte, ndjson bool, size int) ([]byte, error) {
	tb.Helper()
	var out bytes.Buffer
	w := result.NewJSONWriter(&out, ndjson, nil)
	if size == 0 {
		size = len(input) + 1
	}
	for p := input; len(p) > 0; {
		n := min(size, len(p))
		m, err := w.Write(p[:n])
		if err != nil {
			return out.Bytes(), err
		}
		if m != n {
			tb.Fatalf("got Write %d, want %d", m, n)
		}
		p = p[n:]
	}
	err := w.Close()
	return out.Bytes(), err
}

var wantRowsObservations = []schema.Observation{
	{Node: "000", Datetime: "2017-01-01T00:00:00", Sensor: "tmp112", Feature: "temperature", Results: map[string]float64{"temperature": 21.5}},
	{Node: "000", Datetime: "2017-01-01T00:00:00", Sensor: "htu21d", Feature: "temperature", Results: map[string]float64{"temperature": 21.25}},
	{Node: "000", Datetime: "2017-01-01T00:00:00", Sensor: "htu21d", Feature: "relative_humidity", Results: map[string]float64{"humidity": 40}},
	{Node: "001", Datetime: "2017-01-01T00:00:00", Sensor: "hmc5883l", Feature: "magnetic_field", Results: map[string]float64{"x": 0.1, "y": -0.25, "z": 1e6}},
	{Node: "001", Datetime: "2017-01-01T00:00:05", Sensor: "hmc5883l", Feature: "magnetic_field", Results: map[string]float64{"x": 0.2, "y": 1e-7, "z": -3}},
	{Node: `node,with "comma"`, Datetime: "2017-01-01T00:00:05", Sensor: "tmp112", Feature: "temperature", Results: map[string]float64{"temperature": 0}}, // null
	{Node: `node,with "comma"`, Datetime: "2017-01-02T00:00:00", Sensor: `sen\sor`, Feature: "temperature", Results: map[string]float64{"temperature": -40}},
}

func TestJSONWriter(t *testing.T) {
	input := []byte(readFixture(t, "rows.csv"))
	whole, err := jsonOf(t, input, false, 0)
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	var got []schema.Observation
	if err := json.Unmarshal(whole, &got); err != nil {
		t.Fatalf("got error %v parsing %s, want nil", err, whole)
	}
	if !reflect.DeepEqual(got, wantRowsObservations) {
		t.Errorf("got %+v, want %+v", got, wantRowsObservations)
	}
	// An empty value is null, not zero.
	var nulls []struct {
		Results map[string]*float64 `json:"results"`
	}
	if err := json.Unmarshal(whole, &nulls); err != nil {
		t.Fatal(err)
	}
	if v, ok := nulls[5].Results["temperature"]; !ok || v != nil {
		t.Errorf("got %v, want null", v)
	}

	// Without the last newline, Close finishes the last row.
	trimmed, err := jsonOf(t, bytes.TrimSuffix(input, []byte("\n")), false, 0)
	if err != nil || !bytes.Equal(trimmed, whole) {
		t.Errorf("got %s (%v) without the last newline, want %s", trimmed, err, whole)
	}
}

func TestJSONWriterChunks(t *testing.T) {
	input := []byte(readFixture(t, "rows.csv"))
	for _, ndjson := range []bool{false, true} {
		whole, err := jsonOf(t, input, ndjson, 0)
		if err != nil {
			t.Fatal(err)
		}
		for size := 1; size <= len(input); size++ {
			got, err := jsonOf(t, input, ndjson, size)
			if err != nil {
				t.Fatalf("ndjson %v, chunks of %d: got error %v, want nil", ndjson, size, err)
			}
			if !bytes.Equal(got, whole) {
				t.Fatalf("ndjson %v, chunks of %d: got %s, want %s", ndjson, size, got, whole)
			}
		}
	}
}

func TestJSONWriterNDJSON(t *testing.T) {
	out, err := jsonOf(t, []byte(readFixture(t, "rows.csv")), true, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []schema.Observation
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var o schema.Observation
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("got error %v for line %q, want nil", err, sc.Text())
		}
		got = append(got, o)
	}
	if !reflect.DeepEqual(got, wantRowsObservations) {
		t.Errorf("got %+v, want %+v", got, wantRowsObservations)
	}
	if !bytes.HasSuffix(out, []byte("}\n")) {
		t.Errorf("got %q, want it to end with a newline", out)
	}
}

func TestJSONWriterFewRows(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		ndjson bool
		want   string // after trimming blanks
	}{
		{name: "no write", input: "", want: "[]"},
		{name: "blank lines", input: "\n\n", want: "[]"},
		{name: "ndjson, no write", input: "", ndjson: true, want: ""},
		{name: "ndjson, blank lines", input: "\n", ndjson: true, want: ""},
		{name: "one row", input: "000,2017-01-01T00:00:00,tmp112,temperature,temperature,21.5\n",
			want: `[` + "\n" + `{"node":"000","meta_id":0,"datetime":"2017-01-01T00:00:00","sensor":"tmp112","feature":"temperature","results":{"temperature":21.5}}]`},
		{name: "ndjson, one row", input: "000,2017-01-01T00:00:00,tmp112,temperature,temperature,21.5\n", ndjson: true,
			want: `{"node":"000","meta_id":0,"datetime":"2017-01-01T00:00:00","sensor":"tmp112","feature":"temperature","results":{"temperature":21.5}}`},
		{name: "two observations", input: "0,t,s,f,p,1\n1,t,s,f,p,2\n",
			want: `[` + "\n" + `{"node":"0","meta_id":0,"datetime":"t","sensor":"s","feature":"f","results":{"p":1}},` + "\n" + `{"node":"1","meta_id":0,"datetime":"t","sensor":"s","feature":"f","results":{"p":2}}]`},
		{name: "control characters and backslashes are escaped", input: "a\tb,t,s\\,\x01,p,1\n",
			want: `[` + "\n" + `{"node":"a\u0009b","meta_id":0,"datetime":"t","sensor":"s\\","feature":"\u0001","results":{"p":1}}]`},
		{name: "JSON number spellings pass", input: "0,t,s,f,a,-0\n0,t,s,f,b,1e5\n0,t,s,f,c,0.5E-3\n0,t,s,f,d,\"2\"\n",
			want: `[` + "\n" + `{"node":"0","meta_id":0,"datetime":"t","sensor":"s","feature":"f","results":{"a":-0,"b":1e5,"c":0.5E-3,"d":2}}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := result.NewJSONWriter(&out, tt.ndjson, nil)
			if tt.input != "" {
				if _, err := io.WriteString(w, tt.input); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(out.String()); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !tt.ndjson && !json.Valid(out.Bytes()) {
				t.Errorf("got %q, want valid JSON", out.Bytes())
			}
		})
	}
}

func TestJSONWriterMalformed(t *testing.T) {
	const good = "000,2017-01-01T00:00:00,tmp112,temperature,temperature,21.5\n"
	tests := []struct {
		name  string
		input string
	}{
		{name: "too few fields", input: "a,b,c\n"},
		{name: "five fields", input: "0,t,s,f,p\n"},
		{name: "a seventh field", input: "0,t,s,f,p,1,2\n"},
		{name: "an unterminated quote", input: "\"000,2017-01-01T00:00:00,s,f,p,1\n"},
		{name: "text after a closing quote", input: "\"0\"x,t,s,f,p,1\n"},
		{name: "a word for a value", input: "0,t,s,f,p,abc\n"},
		{name: "NaN", input: "0,t,s,f,p,NaN\n"},
		{name: "a plus sign", input: "0,t,s,f,p,+1\n"},
		{name: "a leading zero", input: "0,t,s,f,p,01\n"},
		{name: "a bare point", input: "0,t,s,f,p,.5\n"},
		{name: "a trailing point", input: "0,t,s,f,p,5.\n"},
		{name: "a bare exponent", input: "0,t,s,f,p,1e\n"},
		{name: "a minus alone", input: "0,t,s,f,p,-\n"},
		{name: "hex", input: "0,t,s,f,p,0x10\n"},
		{name: "a carriage return", input: "0,t,s,f,p,1\r\n"},
		{name: "a bad row after good ones", input: good + good + "0,t,s,f,p,x\n"},
		{name: "a bad last row without a newline", input: good + "0,t,s"},
	}
	for _, tt := range tests {
		for _, ndjson := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ndjson=%v", tt.name, ndjson), func(t *testing.T) {
				_, err := jsonOf(t, []byte(tt.input), ndjson, 0)
				if !errors.Is(err, result.ErrBadRow) {
					t.Errorf("got %v, want %v", err, result.ErrBadRow)
				}
			})
		}
	}
}

// CSVEncoder rows read back through a JSONWriter keep every name that a
// stored row can carry.
func TestCSVEncoderJSONWriterRoundTrip(t *testing.T) {
	names := []string{"plain", "a,b", `"quoted"`, `back\slash`, "tab\there", "ünïcödé", ""}
	var b []byte
	var e result.CSVEncoder
	var want []schema.Observation
	for i, n := range names {
		ts := ts0.Add(time.Duration(i) * time.Second)
		for j, prop := range []string{"x", "y"} {
			v := float64(i) + float64(j)/10
			b = e.AppendRow(b, &schema.Row{Node: n, TS: ts, Sensor: n + "s", Feature: n + "f", Property: prop, Value: v})
		}
		want = append(want, schema.Observation{Node: n, Datetime: ts.Format(schema.DatetimeLayout), Sensor: n + "s", Feature: n + "f",
			Results: map[string]float64{"x": float64(i), "y": float64(i) + 0.1}})
	}
	out, err := jsonOf(t, b, false, 7)
	if err != nil {
		t.Fatal(err)
	}
	var got []schema.Observation
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("got error %v parsing %s, want nil", err, out)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestJSONWriterWriteError(t *testing.T) {
	w := result.NewJSONWriter(failWriter{}, false, nil)
	if _, err := io.WriteString(w, "0,t,s,f,p,1\n"); err != nil {
		t.Fatal(err) // buffered: nothing written yet
	}
	if err := w.Close(); err == nil || err.Error() != "disk full" {
		t.Errorf("got %v, want disk full", err)
	}
}

// benchRows returns n stored rows: one reading of three properties for
// every few nodes and seconds, as an export reads them.
func benchRows(n int) []schema.Row {
	rows := make([]schema.Row, 0, n)
	for i := 0; len(rows) < n; i++ {
		for _, p := range []string{"x", "y", "z"} {
			rows = append(rows, schema.Row{Node: "001e0610ba46", TS: ts0.Add(time.Duration(i/4) * time.Second),
				Sensor: "hmc5883l", Feature: "magnetic_field", Property: p, Value: float64(i%1000) / 7})
		}
	}
	return rows[:n]
}

func BenchmarkCSVEncoderAppendRow(b *testing.B) {
	rows := benchRows(1024)
	var e result.CSVEncoder
	buf := make([]byte, 0, 64<<10)
	var size int
	for i := range rows {
		size += len(e.AppendRow(nil, &rows[i]))
	}
	b.SetBytes(int64(size / len(rows)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(buf) > 60<<10 {
			buf = buf[:0]
		}
		buf = e.AppendRow(buf, &rows[i%len(rows)])
	}
}

// readingRows are rows as an export has them: one reading of each of the
// five features of a node a second, magnetic_field with three properties,
// the others one, so most rows start an observation.
func readingRows(n int) []schema.Row {
	rows := make([]schema.Row, 0, n)
	feats := [][3]string{{"bmp180", "atmospheric_pressure", "pressure"}, {"tsl260rd", "light_intensity", "intensity"},
		{"htu21d", "relative_humidity", "humidity"}, {"tmp112", "temperature", "temperature"}}
	for i := 0; len(rows) < n; i++ {
		node, at := fmt.Sprintf("001e0610b%03x", i%100), ts0.Add(time.Duration(i/100)*time.Second)
		for _, p := range []string{"x", "y", "z"} {
			rows = append(rows, schema.Row{Node: node, TS: at, Sensor: "hmc5883l", Feature: "magnetic_field", Property: p,
				Value: float64(i%1000) / 7})
		}
		for _, f := range feats {
			rows = append(rows, schema.Row{Node: node, TS: at, Sensor: f[0], Feature: f[1], Property: f[2], Value: float64(i%977) / 3})
		}
	}
	return rows[:n]
}

func BenchmarkJSONWriter(b *testing.B) {
	rows := readingRows(10_000)
	var e result.CSVEncoder
	var input []byte
	for i := range rows {
		input = e.AppendRow(input, &rows[i])
	}
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := writeChunked(result.NewJSONWriter(io.Discard, false, nil), input, 32<<10); err != nil {
			b.Fatal(err)
		}
	}
}

// writeChunked writes data to w in writes of n bytes, as a download's
// blocks come, then closes it.
func writeChunked(w io.WriteCloser, data []byte, n int) error {
	for p := data; len(p) > 0; {
		k := min(n, len(p))
		if _, err := w.Write(p[:k]); err != nil {
			return err
		}
		p = p[k:]
	}
	return w.Close()
}

// Fragments of rows cut between readings, framed by TextLayout, are byte
// for byte what one Renderer writes of all the rows, and each part's size
// is what a Renderer counts of its lines, as the exporter counts it.
func TestJSONFragments(t *testing.T) {
	rows := benchRows(1200) // a reading every 12 rows
	csvOf := func(rs []schema.Row) []byte {
		var e result.CSVEncoder
		var b []byte
		for i := range rs {
			b = e.AppendRow(b, &rs[i])
		}
		return b
	}
	meta := schema.JobMeta{StartTime: "a", EndTime: "b", Workers: []string{"w"}}
	for _, format := range []string{schema.FormatCSV, schema.FormatJSON, schema.FormatNDJSON} {
		var whole bytes.Buffer
		whole.WriteString(result.Head(format))
		if format == schema.FormatCSV {
			whole.Write(csvOf(rows))
		} else {
			var frag bytes.Buffer
			if err := writeChunked(result.NewFragmentWriter(&frag, format, nil), csvOf(rows), 1000); err != nil {
				t.Fatal(err)
			}
			skip := 0
			if format == schema.FormatJSON && frag.Len() > 0 {
				skip = 1 // the comma before the first observation
			}
			whole.Write(frag.Bytes()[skip:])
		}
		whole.WriteString(result.Tail(format, meta))
		var parts [][]byte
		var sizes []result.TextPart
		for _, cut := range [][2]int{{0, 0}, {0, 120}, {120, 120}, {120, 1188}, {1188, 1200}, {1200, 1200}} {
			c := csvOf(rows[cut[0]:cut[1]])
			size, obs := countJSON(t, c)
			sizes = append(sizes, result.TextPart{CSV: int64(len(c)), JSON: size, Observations: obs})
			var b bytes.Buffer
			if format == schema.FormatCSV {
				b.Write(c)
			} else if err := writeChunked(result.NewFragmentWriter(&b, format, nil), c, 777); err != nil {
				t.Fatal(err)
			}
			if got := sizes[len(sizes)-1].Size(format); got != int64(b.Len()) {
				t.Fatalf("%s part %v: counted %d bytes, rendered %d", format, cut, got, b.Len())
			}
			parts = append(parts, b.Bytes())
		}
		l := result.TextLayout(format, sizes, result.Tail(format, meta))
		if got := assemble(t, l.Segments(), parts); !bytes.Equal(got, whole.Bytes()) {
			t.Fatalf("%s: stitched parts differ from the whole:\n%.300s\n%.300s", format, got, whole.Bytes())
		}
		if l.Size() != int64(whole.Len()) {
			t.Errorf("%s: layout size %d, file %d", format, l.Size(), whole.Len())
		}
		for _, r := range [][2]int64{{0, 1}, {5, 900}, {int64(whole.Len()) - 3, int64(whole.Len())}, {100, 20000}} {
			if got, want := assemble(t, l.Slice(r[0], r[1]), parts), whole.Bytes()[r[0]:min(r[1], int64(whole.Len()))]; !bytes.Equal(got, want) {
				t.Errorf("%s bytes %v: got %q, want %q", format, r, got, want)
			}
		}
	}
}

// countJSON counts a part's JSON fragment as the exporter does: each line
// rendered into a scratch buffer that is only measured.
func countJSON(t *testing.T, csv []byte) (size, obs int64) {
	t.Helper()
	var r result.Renderer
	var scratch []byte
	for _, line := range bytes.SplitAfter(csv, []byte("\n")) {
		var err error
		if scratch, err = r.AppendLine(scratch[:0], bytes.TrimSuffix(line, []byte("\n"))); err != nil {
			t.Fatal(err)
		}
		size += int64(len(scratch))
	}
	return size + int64(len(r.Close(scratch[:0]))), r.Observations()
}

// assemble reads segs of parts, rendered already, as a download does.
func assemble(t *testing.T, segs []result.Segment, parts [][]byte) []byte {
	t.Helper()
	var out []byte
	for _, s := range segs {
		if s.Part < 0 {
			out = append(out, s.Literal...)
			continue
		}
		p := parts[s.Part][s.Offset:]
		if s.Len >= 0 {
			p = p[:s.Len]
		}
		if s.ToEnd != (s.Offset+int64(len(p)) == int64(len(parts[s.Part]))) {
			t.Fatalf("segment %+v of a part of %d bytes: ToEnd wrong", s, len(parts[s.Part]))
		}
		out = append(out, p...)
	}
	return out
}

// Every byte, at every place in a name, comes out of a JSONWriter as valid
// JSON that reads back as the name (the line check that lets plain names be
// copied works eight bytes at a time: each lane is tried).
func TestJSONWriterEveryByte(t *testing.T) {
	for c := 0; c < 0x80; c++ {
		if c == ',' || c == '\n' || c == '\r' {
			continue
		}
		for pos := 0; pos < 17; pos++ {
			node := []byte("001e0610b03a12345"[:pos] + string(rune(c)) + "001e0610b03a12345"[pos:])
			var e result.CSVEncoder
			line := e.AppendRow(nil, &schema.Row{Node: string(node), TS: ts0, Sensor: "s", Feature: "f", Property: "p", Value: 1})
			var out bytes.Buffer
			w := result.NewJSONWriter(&out, true, nil)
			if _, err := w.Write(line); err != nil {
				t.Fatalf("byte %#x at %d: %v", c, pos, err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			var obs struct{ Node string }
			if err := json.Unmarshal(out.Bytes(), &obs); err != nil || obs.Node != string(node) {
				t.Fatalf("byte %#x at %d: %q (%v), want node %q", c, pos, out.Bytes(), err, node)
			}
		}
	}
}

// oddRows are readings with names that need quoting and escaping, a NaN,
// and sub-second times.
func oddRows() []schema.Row {
	rows := readingRows(1400)
	names := []string{"a,b", `"quoted"`, `back\slash`, "tab\there", "ünïcödé", "", "\x01ctl", "</script>"}
	for i, n := range names {
		at := ts0.Add(time.Duration(1000+i) * time.Second)
		for j, p := range []string{"x", n} {
			v := float64(i) - float64(j)/3
			if i == 2 {
				v = math.NaN()
			}
			rows = append(rows, schema.Row{Node: n, TS: at, Sensor: n + "s", Feature: "f" + n, Property: p, Value: v})
		}
	}
	// Sub-second times of one second are one reading, as the CSV has them.
	late := ts0.Add(2000 * time.Second)
	return append(rows, schema.Row{Node: "n", TS: late, Sensor: "s", Feature: "f", Property: "p", Value: 1},
		schema.Row{Node: "n", TS: late.Add(400 * time.Millisecond), Sensor: "s", Feature: "f", Property: "q", Value: 2})
}

// jsonWriterOf is what a JSONWriter makes of the rows' CSV.
func jsonWriterOf(t *testing.T, rows []schema.Row, ndjson bool) []byte {
	t.Helper()
	var csvRows []byte
	var ce result.CSVEncoder
	for i := range rows {
		csvRows = ce.AppendRow(csvRows, &rows[i])
	}
	var out bytes.Buffer
	w := result.NewJSONWriter(&out, ndjson, nil)
	if _, err := w.Write(csvRows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// The size the exporter counts of a part is that of its rendering, for
// names that need quoting and escaping, NaNs and repeated properties too.
func TestCountedSizeIsRendered(t *testing.T) {
	for _, rows := range [][]schema.Row{oddRows(), repeatRows(), readingRows(3000)} {
		var e result.CSVEncoder
		var csv []byte
		for i := range rows {
			csv = e.AppendRow(csv, &rows[i])
		}
		size, obs := countJSON(t, csv)
		for _, format := range []string{schema.FormatJSON, schema.FormatNDJSON} {
			var out bytes.Buffer
			if err := writeChunked(result.NewFragmentWriter(&out, format, nil), csv, 4096); err != nil {
				t.Fatal(err)
			}
			p := result.TextPart{CSV: int64(len(csv)), JSON: size, Observations: obs}
			if got := p.Size(format); got != int64(out.Len()) {
				t.Errorf("%s: counted %d bytes, rendered %d", format, got, out.Len())
			}
		}
	}
}

// readFixture returns the text of testdata/name.
func readFixture(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
