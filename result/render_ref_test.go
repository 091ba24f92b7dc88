// refRenderer is the Renderer as it was before it kept the pieces of the
// names it had seen (7c05354), the reference FuzzRendererReference holds
// the Renderer to. One change: its known, the way of a line that begins
// with the last plain node and datetime, left a line to line when the
// open observation's key was quoted, since it compares raw bytes. It
// rendered "n,t,\"s\",f,p,1" and "n,t,s,f,q,2" as two observations,
// where the rule (schema/readings.go) and the JSONCounter make one: a
// mistake only CSV written by hand could show (CSVEncoder spells a name
// one way).

package result

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/plenario-next/exportd/schema"
)

// refRenderer turns stored CSV lines into Plenario observations. It is the
// one JSON rendering of the service: a download runs it over a part's
// stored lines to send it; the exporter counts what it would make of them
// (JSONCounter, whose frame is measured on a refRenderer and which
// FuzzJSONCounter holds equal to it), so the length, ETag and ranges a
// JSON download announces are those of the bytes it sends.
//
// Consecutive lines of one reading (node, datetime, sensor, feature)
// become one observation, but for a property it already has (see
// schema/readings.go). A part's JSON fragment is its observations, each
// preceded by ",\n" and closed by "}}"; its NDJSON, each closed by "}}\n".
// A part, a time slice, holds its readings whole, so the fragments of a
// job's parts stitched as Frame says are what one refRenderer makes of all
// their lines.
type refRenderer struct {
	// MetaIDs gives each observation its node's meta_id (0 if absent).
	MetaIDs schema.MetaIDs
	// NDJSON renders one object a line instead of a fragment.
	NDJSON bool

	key []byte // node,datetime,sensor,feature of the open observation
	// nt is "node,datetime," as the last fully cut line began, when both
	// were plain; head is the output they make, {"node":…,"datetime":…
	// (refAppendHead). The readings of one node and second follow one
	// another: most lines begin with the same nt, and only their rest is
	// cut and escaped.
	nt, head []byte
	ntNode   int // len of the node in nt
	// sf holds the output of the last few sensor and feature pairs,
	// ,"sensor":…,"feature":…,"results":{ (a network has a handful).
	sf             [8]refSFPiece
	sfNext, sfLast int
	props          refPropSet // of the open observation: a repeat starts another
	open           bool
	// keyPlain says key is line's raw "node,datetime,sensor,feature,"
	// (refPlainKey), not the four fields 0-separated.
	keyPlain bool
	obs      int64
}

// refSFPiece is a sensor and feature, their raw "sensor,feature," and the
// output they make.
type refSFPiece struct{ sensor, feature, raw, out []byte }

// Observations is how many observations have begun.
func (j *refRenderer) Observations() int64 { return j.obs }

// AppendLine appends the rendering of one stored line,
// node,datetime,sensor,feature,property,value (without its line break),
// to b.
func (j *refRenderer) AppendLine(b, line []byte) ([]byte, error) {
	if len(line) == 0 {
		return b, nil
	}
	// Most lines of a reading after its first begin with the same plain
	// node,datetime,sensor,feature, as the open observation's: only the
	// property and value are cut.
	if k := len(j.key); j.open && j.keyPlain && len(line) > k && bytes.Equal(line[:k], j.key) {
		if out, ok, err := j.more(b, line[k:]); ok || err != nil {
			return out, err
		}
	}
	if out, ok, err := j.known(b, line); ok || err != nil {
		return out, err
	}
	return j.line(b, line)
}

// known renders a line that begins with the last plain node,datetime,
// (nt) and then the raw sensor,feature, of a piece rendered already, as
// most lines that begin an observation do: only its property and value
// are cut. ok is false for a line it leaves to line.
func (j *refRenderer) known(b, line []byte) (out []byte, ok bool, err error) {
	n := len(j.nt)
	if n == 0 || len(j.head) == 0 || len(line) <= n || !bytes.Equal(line[:n], j.nt) ||
		j.open && !j.keyPlain { // the one change to the copy: see its file's comment
		return b, false, nil
	}
	p := j.rawPiece(line[n:])
	if p < 0 {
		return b, false, nil
	}
	piece := &j.sf[p]
	kp := n + len(piece.raw)
	rest := line[kp:]
	c := comma(rest)
	if c == 0 || c == len(rest) || rest[0] == '"' || c+1 < len(rest) && rest[c+1] == '"' {
		return b, false, nil
	}
	prop, val := rest[:c], rest[c+1:]
	if len(val) > 0 && !isJSONNumber(val) { // copied verbatim into the output
		return b, true, ErrBadRow
	}
	if j.open && j.keyPlain && bytes.Equal(line[:kp], j.key) && !j.props.hasBytes(prop) {
		return j.value(append(b, ','), prop, val), true, nil
	}
	j.props.reset()
	j.key, j.keyPlain = append(j.key[:0], line[:kp]...), true
	b = j.Close(b)
	if !j.NDJSON {
		b = append(b, ",\n"...)
	}
	j.open = true
	j.obs++
	b = append(append(b, j.head...), piece.out...)
	j.sfLast = p
	return j.value(b, prop, val), true, nil
}

// rawPiece is the index of the piece whose raw "sensor,feature," begins
// rest; -1 if none. A reading's pairs come in the same order every second,
// the order their pieces were made in: the one after the last used is
// asked first.
func (j *refRenderer) rawPiece(rest []byte) int {
	for k := 1; k <= len(j.sf); k++ {
		i := (j.sfLast + k) % len(j.sf)
		if r := j.sf[i].raw; len(r) > 0 && len(rest) > len(r) && bytes.Equal(rest[:len(r)], r) {
			return i
		}
	}
	return -1
}

// AppendLines appends the rendering of csv, whole stored lines (the last
// one's line break may be missing), to b. A line break in a quoted name is
// no line end: AppendLine says so of the line cut there (errOpenQuote),
// and appendOn carries it on.
func (j *refRenderer) AppendLines(b, csv []byte) ([]byte, error) {
	for len(csv) > 0 {
		i := bytes.IndexByte(csv, '\n')
		line := csv
		if i >= 0 {
			line = csv[:i]
		}
		var err error
		b, err = j.AppendLine(b, line)
		if err == errOpenQuote && i >= 0 {
			if b, i, err = j.appendOn(b, csv, i); i < 0 { // the last line, without its line break
				b, err = j.AppendLine(b, csv)
			}
		}
		if err != nil {
			return b, err
		}
		if i < 0 {
			break
		}
		csv = csv[i+1:]
	}
	return b, nil
}

// appendOn renders the line p begins, whose '\n' at i AppendLine found in
// a quoted field (errOpenQuote): the line is taken to each next '\n' until
// it renders. end is the index of its '\n'; -1, with errOpenQuote and b
// as it was, if p does not hold it.
func (j *refRenderer) appendOn(b, p []byte, i int) (out []byte, end int, err error) {
	for {
		k := bytes.IndexByte(p[i+1:], '\n')
		if k < 0 {
			return b, -1, errOpenQuote
		}
		i += k + 1
		if out, err = j.AppendLine(b, p[:i]); err != errOpenQuote {
			return out, i, err
		}
	}
}

// more appends rest, "property,value" of a line of the open observation's
// reading, to it; ok is false for a rest it leaves to line (a quoted
// field, a property the observation has already).
func (j *refRenderer) more(b, rest []byte) (out []byte, ok bool, err error) {
	c := bytes.IndexByte(rest, ',')
	if c <= 0 || rest[0] == '"' || c+1 < len(rest) && rest[c+1] == '"' {
		return b, false, nil
	}
	prop, val := rest[:c], rest[c+1:]
	if j.props.hasBytes(prop) {
		return b, false, nil
	}
	if len(val) > 0 && !isJSONNumber(val) { // copied verbatim into the output
		return b, true, ErrBadRow
	}
	return j.value(append(b, ','), prop, val), true, nil
}

// line renders any line: its fields cut, unquoted where needed (a local
// array, not the renderer's: see splitFrom).
func (j *refRenderer) line(b, line []byte) ([]byte, error) {
	var f [6][]byte
	if n := len(j.nt); n > 0 && len(line) > n && bytes.Equal(line[:n], j.nt) {
		f[0], f[1] = j.nt[:j.ntNode], j.nt[j.ntNode+1:n-1]
		var err error
		if f, err = splitFrom(line[n:], f, 2); err != nil {
			return b, err
		}
	} else {
		var err error
		if f, err = splitFrom(line, f, 0); err != nil {
			return b, err
		}
		j.rememberNT(line, &f)
	}
	if len(f[5]) > 0 && !isJSONNumber(f[5]) { // copied verbatim into the output
		return b, ErrBadRow
	}
	kp := refPlainKey(line, &f)
	same := j.open
	switch {
	case same && j.keyPlain && kp > 0:
		same = bytes.Equal(line[:kp], j.key)
	case same && j.keyPlain: // the same names may be quoted in one line and not in another
		same = refSameKey(j.key, &f, ',', true)
	case same:
		same = refSameKey(j.key, &f, 0, false)
	}
	if same && !j.props.hasBytes(f[4]) {
		b = append(b, ',')
	} else {
		b = j.begin(b, &f, line, kp)
	}
	return j.value(b, f[4], f[5]), nil
}

// value appends "property":value to the open observation.
func (j *refRenderer) value(b, prop, val []byte) []byte {
	j.props.addBytes(prop)
	b = appendJSONString(b, prop)
	b = append(b, ':')
	if len(val) == 0 {
		return append(b, "null"...)
	}
	return append(b, val...)
}

// begin closes the open observation, if any, and begins the one of f, of
// line; kp is the length of line's plain key prefix (refPlainKey).
func (j *refRenderer) begin(b []byte, f *[6][]byte, line []byte, kp int) []byte {
	j.props.reset()
	if j.keyPlain = kp > 0; j.keyPlain {
		j.key = append(j.key[:0], line[:kp]...)
	} else {
		j.key = append(append(append(append(append(append(append(j.key[:0], f[0]...), 0), f[1]...), 0), f[2]...), 0), f[3]...)
	}
	b = j.Close(b)
	if !j.NDJSON {
		b = append(b, ",\n"...)
	}
	j.open = true
	j.obs++
	if len(j.head) == 0 || len(j.nt) == 0 {
		j.head = refAppendHead(j.head[:0], f[0], j.MetaIDs[string(f[0])], f[1])
	}
	b = append(b, j.head...)
	if len(j.nt) == 0 {
		j.head = j.head[:0] // made of a line that is not remembered
	}
	if kp > 0 { // sensor,feature, as the line has it
		return j.sensorFeature(b, line[len(f[0])+len(f[1])+2:kp], f[2], f[3])
	}
	return j.sensorFeature(b, nil, f[2], f[3])
}

// refPlainKey is the length of line's "node,datetime,sensor,feature," when
// none of the four is quoted, else 0: a key compared as raw bytes, since
// plain fields hold no comma.
func refPlainKey(line []byte, f *[6][]byte) int {
	pos := 0
	for i := range 4 {
		n := len(f[i])
		if pos+n >= len(line) || (n > 0 && line[pos] == '"') || line[pos+n] != ',' {
			return 0
		}
		pos += n + 1
	}
	return pos
}

// Close appends the end of the open observation, if any, to b.
func (j *refRenderer) Close(b []byte) []byte {
	if !j.open {
		return b
	}
	j.open = false
	b = append(b, "}}"...)
	if j.NDJSON {
		b = append(b, '\n')
	}
	return b
}

// sensorFeature appends the output of a sensor and a feature, rendered once
// for the last few pairs; raw, when not nil, is "sensor,feature," as a
// plain line has it, compared at once. The last pair used is asked first.
func (j *refRenderer) sensorFeature(b, raw, sensor, feature []byte) []byte {
	for k := range len(j.sf) {
		i := (j.sfLast + k) % len(j.sf)
		p := &j.sf[i]
		if len(p.out) == 0 {
			continue
		}
		if raw != nil && bytes.Equal(p.raw, raw) || raw == nil && bytes.Equal(p.sensor, sensor) && bytes.Equal(p.feature, feature) {
			j.sfLast = i
			return append(b, p.out...)
		}
	}
	p := &j.sf[j.sfNext]
	j.sfLast, j.sfNext = j.sfNext, (j.sfNext+1)%len(j.sf)
	p.sensor, p.feature = append(p.sensor[:0], sensor...), append(p.feature[:0], feature...)
	p.raw = append(p.raw[:0], raw...) // empty without one: matched by none
	p.out = renderSF(p.out[:0], sensor, feature)
	return append(b, p.out...)
}

// rememberNT keeps the node and datetime of a line just cut, when they are
// plain (not quoted), as the prefix the next lines are compared with.
func (j *refRenderer) rememberNT(line []byte, f *[6][]byte) {
	j.nt, j.head = j.nt[:0], j.head[:0]
	k, d := len(f[0]), len(f[1])
	if len(line) > k+d+1 && line[k] == ',' && line[k+d+1] == ',' && bytes.Equal(line[:k], f[0]) &&
		bytes.Equal(line[k+1:k+1+d], f[1]) {
		j.nt, j.ntNode = append(j.nt, line[:k+d+2]...), k
	}
}

type refPropSet struct {
	names []byte // the properties one after another, up to used
	used  int
	ends  []int // where each ends in names, up to count
	count int
}

func (s *refPropSet) reset() { s.used, s.count = 0, 0 }

// hasBytes reports whether p is in the set. The last property added is
// asked first: sorted rows repeat the one before them.
func (s *refPropSet) hasBytes(p []byte) bool {
	for i := s.count - 1; i >= 0; i-- {
		start := 0
		if i > 0 {
			start = s.ends[i-1]
		}
		if string(s.names[start:s.ends[i]]) == string(p) {
			return true
		}
	}
	return false
}

func (s *refPropSet) addBytes(p []byte) {
	if s.used+len(p) > len(s.names) {
		s.names = append(s.names[:s.used], p...)
		s.names = s.names[:cap(s.names)]
	} else {
		copy(s.names[s.used:], p)
	}
	s.used += len(p)
	if s.count == len(s.ends) {
		s.ends = append(s.ends, 0)
		s.ends = s.ends[:cap(s.ends)]
	}
	s.ends[s.count] = s.used
	s.count++
}
func refSameKey(key []byte, f *[6][]byte, sep byte, raw bool) bool {
	n := len(f[0]) + len(f[1]) + len(f[2]) + len(f[3]) + 3
	if raw {
		n++
	}
	if len(key) != n {
		return false
	}
	for i := range 4 {
		n := len(f[i])
		if !bytes.Equal(key[:n], f[i]) || (i < 3 || raw) && key[n] != sep {
			return false
		}
		if i < 3 {
			key = key[n+1:]
		}
	}
	return true
}
func refAppendHead[T ~[]byte | ~string](b []byte, node T, metaID uint32, datetime []byte) []byte {
	b = append(b, `{"node":`...)
	b = appendJSONString(b, node)
	b = append(b, `,"meta_id":`...)
	b = strconv.AppendUint(b, uint64(metaID), 10)
	b = append(b, `,"datetime":`...)
	return appendJSONString(b, datetime)
}

// FuzzRendererReference holds the Renderer to refRenderer, the renderer it
// replaced, on lines made of the fuzzer's bytes: names from a pool that
// spells some values both plain and quoted, and the fuzzer's own bytes,
// lines that are malformed too. Where the reference renders without an
// error, the Renderer renders the same bytes and observations, as a whole,
// line by line, and in two chunks with a Reset between; where it fails,
// the Renderer fails too.
func FuzzRendererReference(f *testing.F) {
	// a property twice; a reading's names spelt plain, then quoted; a
	// datetime spelt plain, then quoted
	f.Add([]byte{0, 9, 0x99, 0, 3, 0, 9, 0x99, 1, 3, 0, 9, 0x9a, 0, 3}, []byte("x"), uint8(0))
	f.Add([]byte{1, 9, 0x99, 0, 3, 2, 9, 0x9a, 0, 3, 2, 9, 0x9a, 0, 3, 3, 9, 0x9a, 0, 3, 4, 9, 0x9b, 0, 3}, []byte("x"), uint8(100))
	f.Add([]byte{1, 0x49, 0x99, 0, 3, 1, 0x89, 0x9a, 0, 3, 1, 0x8b, 0xb9, 0, 3, 1, 0x49, 0xba, 0, 3}, []byte("x"), uint8(50))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, []byte(`"a,b",t`), uint8(3))
	for v := range byte(12) { // each value of the pool, of a known triple
		f.Add([]byte{0, 9, 0x99, 0, 3, 0, 9, 0x9a, 1, 3, 0, 9, 0x9a, v, 3}, []byte("x"), uint8(10))
	}
	f.Add([]byte{9, 9, 9, 9, 9, 0, 0, 0, 0, 200, 7, 7, 7, 7, 7}, []byte("\n\"\r"), uint8(130))
	f.Add([]byte(readRefFixture(f)), []byte(""), uint8(255))
	f.Fuzz(func(t *testing.T, data, own []byte, mode uint8) {
		csv := data
		if mode < 200 { // lines made of the pools; else data itself
			csv = refLines(data, own)
		}
		for _, ndjson := range []bool{false, true} {
			ids := schema.MetaIDs{"n1": 7, `n"3`: 4000000000, string(own): 9}
			ref := refRenderer{MetaIDs: ids, NDJSON: ndjson}
			want, wantErr := ref.AppendLines(nil, csv)
			want = ref.Close(want)
			r := Renderer{MetaIDs: ids, NDJSON: ndjson}
			got, err := r.AppendLines(nil, csv)
			got = r.Close(got)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("got error %v, want %v, rendering %q", err, wantErr, csv)
			}
			if err != nil {
				continue
			}
			if !bytes.Equal(got, want) || r.Observations() != ref.Observations() {
				t.Fatalf("got %q (%d observations), want %q (%d), rendering %q", got, r.Observations(), want, ref.Observations(), csv)
			}
			// Cut between two lines whose node and datetime differ, as the
			// gateway cuts, the halves render by one Reset Renderer as by two.
			if k := refCut(csv, int(mode)); k > 0 {
				var a, b refRenderer = refRenderer{MetaIDs: ids, NDJSON: ndjson}, refRenderer{MetaIDs: ids, NDJSON: ndjson}
				wa, errA := a.AppendLines(nil, csv[:k])
				wb, errB := b.AppendLines(nil, csv[k:])
				if errA != nil || errB != nil {
					continue
				}
				want = append(a.Close(wa), b.Close(wb)...)
				got, err = r.AppendLines(got[:0], csv[:k])
				got = r.Close(got)
				r.Reset()
				if err == nil {
					got, err = r.AppendLines(got, csv[k:])
					got = r.Close(got)
				}
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("got %q, %v in two chunks reset between, want %q, rendering %q cut at %d", got, err, want, csv, k)
				}
			}
		}
	})
}

func readRefFixture(f *testing.F) string {
	b, err := os.ReadFile("testdata/rows.csv")
	if err != nil {
		f.Fatal(err)
	}
	return string(b)
}

// refLines makes CSV lines of data, five bytes a line: which names, which
// value, and now and then a malformed line or the fuzzer's own bytes.
func refLines(data, own []byte) []byte {
	names := []string{"n1", "n2", `"n2"`, `n"3`, `"n""3"`, "", `""`, string(own), `"a,b"`, "p", "q", `"p"`, "\"l\nm\"", "ü"}
	times := []string{"2017-01-01T00:00:00", "2017-01-01T00:00:01", `"2017-01-01T00:00:01"`, string(own)}
	values := []string{"1", "-2.5e3", "", "0", "1.", "NaN", `"7"`, "01", "3\r", string(own), "1e400", "-0"}
	var b []byte
	for len(data) >= 5 {
		d := data[:5]
		data = data[5:]
		b = append(b, names[int(d[0])%len(names)]...)
		b = append(b, ',')
		b = append(b, times[int(d[1]>>6)%len(times)]...)
		for _, x := range []byte{d[1] & 15, d[2] >> 4, d[2] & 15} {
			b = append(b, ',')
			b = append(b, names[int(x)%len(names)]...)
		}
		b = append(b, ',')
		b = append(b, values[int(d[3])%len(values)]...)
		switch d[4] % 16 {
		case 0:
			b = append(b, ",x"...) // a seventh field
		case 1:
			b = append(b, own...)
		case 2:
			b = append(b, '\n') // an empty line
		}
		if d[4] < 250 {
			b = append(b, '\n')
		}
	}
	return b
}

// refCut is where the gateway could cut csv near its k-th byte: the start
// of a line whose first two fields' bytes differ from those of the line
// before it; 0 if there is none there. Lines with quotes are left uncut.
func refCut(csv []byte, k int) int {
	if bytes.IndexByte(csv, '"') >= 0 || len(csv) == 0 {
		return 0
	}
	k = k * len(csv) / 256
	i := bytes.IndexByte(csv[k:], '\n')
	if i < 0 || k+i+1 >= len(csv) {
		return 0
	}
	at := k + i + 1
	prev := csv[:at-1]
	prev = prev[bytes.LastIndexByte(prev, '\n')+1:]
	two := func(l []byte) string {
		if p := bytes.SplitN(l, []byte(","), 3); len(p) == 3 {
			return string(p[0]) + "," + string(p[1])
		}
		return ""
	}
	if a, b := two(prev), two(csv[at:]); a == "" || a == b {
		return 0
	}
	return at
}

// Past maxRenderNames nodes and triples, the Renderer begins its lists
// again, in the middle of an observation too, and renders as before.
func TestRendererManyNames(t *testing.T) {
	var csv []byte
	line := func(node, dt, sensor, prop string, v int) {
		csv = fmt.Appendf(csv, "%s,%s,%s,f,%s,%d\n", node, dt, sensor, prop, v)
	}
	for i := range 2*maxRenderNames + 10 { // one observation of many properties
		line("n", "t", "s", fmt.Sprint("p", i), i)
	}
	for i := range 3 * maxRenderNames { // many nodes and sensors, each for a few lines
		for _, p := range []string{"x", "y", "x"} {
			line(fmt.Sprint("n", i%(maxRenderNames+7)), fmt.Sprint("t", i/50), fmt.Sprint("s", i%(maxRenderNames+300)), p, i)
		}
	}
	line("n", "t", "s", "p7", 1) // a name seen before the lists began again
	ref := refRenderer{}
	want, err := ref.AppendLines(nil, csv)
	if err != nil {
		t.Fatal(err)
	}
	var r Renderer
	got, err := r.AppendLines(nil, csv)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Close(got), ref.Close(want); !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d: they differ", len(got), len(want))
	}
	if len(r.names.trips) > 3*maxRenderNames || len(r.names.nodes) > maxRenderNames {
		t.Errorf("got %d triples and %d nodes kept, want them bounded", len(r.names.trips), len(r.names.nodes))
	}
}

// FuzzNumberLen holds numberLen to JSON's grammar for numbers: the bytes
// before b's first line break are a number or nothing exactly when the
// Renderer's fast way takes them (numberLen, then a line break or b's
// end), and then numberLen is their length.
func FuzzNumberLen(f *testing.F) {
	for _, s := range []string{"", "\n", "0", "-0", "01", "-", "1.", "1.5", "-12.25\n3", "1e5", "1E+5", "1e", "2.5e-3x", "00.1", "9\r\n", ".5", "1.5.5"} {
		f.Add([]byte(s))
	}
	number := regexp.MustCompile(`^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)?$`)
	f.Fuzz(func(t *testing.T, b []byte) {
		value := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			value = b[:i]
		}
		k := numberLen(b)
		taken := k >= 0 && (k == len(b) || b[k] == '\n')
		if want := number.Match(value); taken != want || taken && k != len(value) {
			t.Fatalf("numberLen(%q) = %d, want the %d bytes %q taken: %v", b, k, len(value), value, want)
		}
	})
}
