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
// Most lines are runQuick's, a loop of its own without a call; run takes
// the others one at a time (the first of a chunk, a line of a new reading
// after nextReading has made its head, one near csv's end or of a value
// runQuick does not scan) and hands back to runQuick after each. Go keeps
// no register across a call, so that runQuick's loop, without the calls
// and other ways of run's, keeps more of its state in registers.
func (j *Renderer) run(b, csv []byte) ([]byte, int) {
	trips := j.names.trips
	if len(trips) == 0 {
		return b, 0
	}
	nt, head := j.nt, j.head
	sf, last, cur, open, obs := j.sf, j.last, j.cur, j.open, j.obs
	skip := 2 // of head when no observation is open: "}}" (JSON), "}}\n" (NDJSON)
	if j.NDJSON {
		skip = 3
	}
	in := unsafe.Pointer(unsafe.SliceData(csv))
	at := 0
	for at < len(csv) {
		if open && quickReading(nt, head) {
			j.sf, j.last, j.cur, j.obs = sf, last, cur, obs
			if b, at = j.runQuick(b, csv, at); at >= len(csv) {
				return b, at
			}
			sf, last, cur, obs = j.sf, j.last, j.cur, j.obs
		}
		n := len(nt)
		if n < 8 || len(csv)-at < n || !equalAt(unsafe.Add(in, at), unsafe.Pointer(unsafe.SliceData(nt)), n) {
			j.sf, j.last, j.cur, j.open, j.obs = sf, last, cur, open, obs
			if n = j.nextReading(csv[at:]); n == 0 {
				if n = j.plainReading(csv[at:]); n == 0 {
					break
				}
			}
			nt, head, sf = j.nt, j.head, j.sf
			if open && quickReading(nt, head) {
				continue // the line begins with nt now: most likely runQuick's
			}
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
		if len(csv)-v >= 20 {
			k = lineValueLen(unsafe.Add(in, v))
		}
		if k < 0 {
			if k = numberLen(csv[v:]); k < 0 {
				break
			}
			if e := v + k; e < len(csv) && csv[e] != '\n' {
				break // line says what is wrong, or right, with it
			}
		}
		if t.sf == sf && t.stamp != cur {
			b = append(b, t.more...)
		} else {
			h := head
			if !open {
				h = h[skip:]
			}
			b = append(b, h...)
			b = append(b, t.begin...)
			open, sf = true, t.sf
			cur++
			obs++
		}
		if k == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, csv[v:v+k]...)
		}
		t.stamp = cur
		trips[last].next = ti
		last = ti
		if at = v + k; at < len(csv) {
			at++ // the line break
		}
	}
	j.sf, j.last, j.cur, j.open, j.obs = sf, last, cur, open, obs
	return b, at
}

// quickReading reports whether lines of the reading nt and head are
// runQuick's to render.
func quickReading(nt, head []byte) bool { return uint(len(nt)-24) <= 24 && len(head) <= 96 }

// runQuickGo renders the lines csv[at:] begins with for as long as they
// are of the reading (they begin with nt), of triples spelt as the next
// triple's quick raw (see tripleOut), with values lineValueLen scans,
// far enough from csv's end for its loads and with room in b for its
// moves, and returns b and the index in csv of the first line it did not
// render. An observation is open, and the reading quickReading's. It is
// runQuick where there is no assembly version (renderquick_other.go), and
// what FuzzQuickAsm holds the assembly to.
//
// It is run's loop for those lines without a call: equalAt as two diff24
// of 24 to 48 bytes, lineValueLen spelt out (FuzzValueLen holds this copy
// to it), the copies fixed moves (a further property's name move32, an
// observation's head and beginning move96 each, the value move16) into
// room made ahead, past the ends of the pieces (padded) and the bytes
// written. BenchmarkRenderChunks/reset took 469 instructions, 65 branches
// and 2.4 mispredicted a row with the loop in run, its value scanned by a
// call and its head and beginning copied by memmove (cachegrind, 250 runs
// less 50); 273, 15 and 0.47 so, 223 of the 273 in this loop. The
// compiler kept what it could in registers and spent the rest on the
// loop's state, addresses and a bounds check a slice; in amd64 assembly
// (renderquick_amd64.s: the reading's bytes and the head held in SSE
// registers through the loop, the triple and the line compared sixteen
// bytes at a time) the loop is 117 a row and the whole 167, 17 and 0.47.
func (j *Renderer) runQuickGo(b, csv []byte, at int) ([]byte, int) {
	trips := j.names.trips
	in := unsafe.Pointer(unsafe.SliceData(csv))
	sf, last, cur, obs := j.sf, j.last, j.cur, j.obs
	n, ntp := len(j.nt), unsafe.Pointer(unsafe.SliceData(j.nt))
	hp, hn := unsafe.Pointer(unsafe.SliceData(j.head)), len(j.head)
	// o is where the next line goes, room what b has past it: a pointer
	// of its own, not b's data plus a length, so that move96's sixteen-
	// byte stores take their offsets from it (with an index, the compiler
	// made and kept six addresses).
	o, room := unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), len(b)), cap(b)-len(b)
	for len(csv)-at >= n+48+20 && room >= 224 {
		a := unsafe.Add(in, at)
		if diff24(a, ntp)|diff24(unsafe.Add(a, n-24), unsafe.Add(ntp, n-24)) != 0 {
			break
		}
		ti := trips[last].next
		t := &trips[ti]
		m := len(t.raw)
		a = unsafe.Add(a, n)
		p := unsafe.Pointer(unsafe.SliceData(t.raw))
		if !t.quick || diff24(a, p)|diff24(unsafe.Add(a, m-24), unsafe.Add(p, m-24)) != 0 {
			break
		}
		p = unsafe.Add(a, m) // the value: lineValueLen's, inlined
		neg := b2i(*(*byte)(p) == '-')
		x := load64(p, neg)
		d := digitRun(x)
		i := neg + d
		dot := b2i(*(*byte)(unsafe.Add(p, i)) == '.')
		k := i + (1+digitRun(load64(p, i+1)))&-dot
		if b2i(uint(d-1) >= 7)|b2i(d > 1)&b2i(byte(x) == '0')|dot&b2i(k-i < 2)|
			b2i(*(*byte)(unsafe.Add(p, k)) != '\n') != 0 {
			break
		}
		if t.sf == sf && t.stamp != cur {
			move32(o, unsafe.Pointer(unsafe.SliceData(t.more)))
			o = unsafe.Add(o, len(t.more))
			room -= len(t.more)
		} else {
			move96(o, hp)
			o2 := unsafe.Add(o, hn)
			if hn == 0 { // the same o2, but a CMOV's: the sum o+hn the compiler made six addresses of
				o2 = o
			}
			o = o2
			move96(o, unsafe.Pointer(unsafe.SliceData(t.begin)))
			o = unsafe.Add(o, len(t.begin))
			room -= hn + len(t.begin)
			sf = t.sf
			cur++
			obs++
		}
		move16(o, p)
		o = unsafe.Add(o, k)
		room -= k
		t.stamp = cur
		trips[last].next = ti
		last = ti
		at += n + m + k + 1
	}
	j.sf, j.last, j.cur, j.obs = sf, last, cur, obs
	return b[:cap(b)-room], at
}
