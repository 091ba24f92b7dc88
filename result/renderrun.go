package result

import "unsafe"

// run renders the lines csv begins with for as long as their names are
// known and plain, as nearly all are, and returns b and the bytes of those
// lines, their line breaks included; 0 if the first is not such a line,
// which line renders. Such a line's node and datetime are the last line's
// (it begins with nt), or the next node's at the same datetime
// (nextReading), or plain (plainReading); its sensor, feature and property
// the plain spelling of a known triple, the one that came after the last
// line's last time asked first; its value a JSON number, or empty, up to
// the line's '\n' or csv's end. Nothing is cut or escaped: a line is two
// comparisons, a scan of its value and a few copies.
//
// It is one loop whose state is kept in locals, stored back into j only
// when the reading changes and at the end, with the comparisons
// (equalAt), the value's scan (quickValueLen) and the short copies
// (move16: a line's value, a further property's name) without a call. Go
// keeps no register across a call, and each passes and returns slices: as
// a call a line for fast and for emit, two for hasPrefix, one for
// valueLen and a memmove a piece, the Renderer took 571 instructions a
// row, 469 so (BenchmarkRenderChunks/reset, cachegrind; the gateway's
// BenchmarkRenderPart, 889 and 732). Longer copies (an observation's head
// and beginning, 60-80 bytes each) stay memmove's: a loop of sixteen-byte
// moves inlined here took more instructions than the calls, the compiler
// reloading the loop's state in it.
func (j *Renderer) run(b, csv []byte) ([]byte, int) {
	trips := j.names.trips
	if len(trips) == 0 {
		return b, 0
	}
	nt, head, props := j.nt, j.head, j.props
	sf, last, nProps, open, obs := j.sf, j.last, j.nProps, j.open, j.obs
	skip := 2 // of head when no observation is open: "}}" (JSON), "}}\n" (NDJSON)
	if j.NDJSON {
		skip = 3
	}
	in := unsafe.Pointer(unsafe.SliceData(csv))
	at := 0
	for at < len(csv) {
		n := len(nt)
		if n < 8 || len(csv)-at < n || !equalAt(unsafe.Add(in, at), unsafe.Pointer(unsafe.SliceData(nt)), n) {
			j.sf, j.last, j.nProps, j.open, j.obs = sf, last, nProps, open, obs
			if n = j.nextReading(csv[at:]); n == 0 {
				if n = j.plainReading(csv[at:]); n == 0 {
					break
				}
			}
			nt, head, sf = j.nt, j.head, j.sf
		}
		ti := trips[last].next
		t := &trips[ti]
		r := at + n // where the triple begins
		if m := len(t.raw); m < 8 || len(csv)-r < m || !equalAt(unsafe.Add(in, r), unsafe.Pointer(unsafe.SliceData(t.raw)), m) {
			if ti = j.names.rawTriple(csv[r:]); ti < 0 {
				break
			}
			t = &trips[ti]
		}
		v := r + len(t.raw) // where the value begins
		k := -1
		if len(csv)-v >= 18 {
			k = quickValueLen(unsafe.Add(in, v))
		}
		if k < 0 {
			if k = numberLen(csv[v:]); k < 0 {
				break
			}
		}
		if e := v + k; e < len(csv) && csv[e] != '\n' {
			break // line says what is wrong, or right, with it
		}
		if t.sf == sf && !hasTriple(props[:nProps], ti) {
			if len(t.more) <= 16 && cap(b)-len(b) >= 32 {
				move16(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), len(b)), unsafe.Pointer(unsafe.SliceData(t.more)))
				b = b[:len(b)+len(t.more)]
			} else {
				b = append(b, t.more...)
			}
		} else {
			h := head
			if !open {
				h = h[skip:]
			}
			b = append(b, h...)
			b = append(b, t.begin...)
			open, sf, nProps = true, t.sf, 0
			obs++
		}
		if nProps == len(props) {
			props = append(props, 0)
			props = props[:cap(props)]
			j.props = props
		}
		props[nProps] = ti
		nProps++
		trips[last].next = ti
		last = ti
		switch {
		case k == 0:
			b = append(b, "null"...)
		case k <= 16 && len(csv)-v >= 16 && cap(b)-len(b) >= 16:
			move16(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), len(b)), unsafe.Add(in, v))
			b = b[:len(b)+k]
		default:
			b = append(b, csv[v:v+k]...)
		}
		if at = v + k; at < len(csv) {
			at++ // the line break
		}
	}
	j.sf, j.last, j.nProps, j.open, j.obs = sf, last, nProps, open, obs
	return b, at
}
