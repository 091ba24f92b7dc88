package main

// The check of a CSV download against its manifest, made in the one pass
// that writes the file.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/plenario-next/exportd/schema"
)

// errNoMatch is a download whose bytes are not those the manifest lists:
// never worth a retry of the same bytes, never a file to keep.
var errNoMatch = errors.New("the download does not match the manifest")

// csvVerifier checks a CSV download as it is written: the header and each
// part against the manifest's SHA-256, and its rows are the manifest's
// rows of the parts that matched: a part whose digest matches holds the
// rows the exporter counted as it wrote them, which a count of line ends
// would only repeat (at 0.1 CPU-s for 20 M rows), and get wrong for a
// quoted name with a line break in it. Its boundaries may
// come after the bytes: a followed download learns them from partial
// manifests as the parts are stored (add). A SHA-256 cannot be split after
// the fact, so the bytes past the boundaries known wait in memory
// (pending) until the next manifest places them; once sealed, no more
// boundaries come, and bytes past them are too many. The blocks given with
// take wait as they are, not copied (in a followed download nearly every
// byte waits for the manifest that lists its part), and go back to
// release once hashed.
type csvVerifier struct {
	segs    []segment
	parts   int // part segments in segs (all but the header)
	i       int // the segment being hashed
	h       hash.Hash
	pos     int64        // bytes hashed
	rows    int64        // of the segments that matched
	pending []heldBlock  // bytes past the known segments, in order
	waiting int64        // bytes in pending
	release func([]byte) // takes back a block of take's once hashed; nil: none
	extra   int64        // bytes past the segments once sealed
	sealed  bool
	bad     []string
}

// heldBlock is a block waiting for its boundaries: rest, the tail of buf
// not hashed yet.
type heldBlock struct{ buf, rest []byte }

// segment is a span of the file with its digest: the header or a part.
type segment struct {
	name       string
	start, end int64
	sha256     string
	rows       int64
}

// newCSVVerifier is a verifier that knows no boundaries yet.
func newCSVVerifier() *csvVerifier { return &csvVerifier{h: sha256.New()} }

// newSealedVerifier is a verifier of exactly the file m describes.
func newSealedVerifier(m *schema.Manifest) *csvVerifier {
	v := newCSVVerifier()
	v.add(m)
	v.seal()
	return v
}

// known is where the segments known so far end.
func (v *csvVerifier) known() int64 {
	if len(v.segs) == 0 {
		return 0
	}
	return v.segs[len(v.segs)-1].end
}

// seen is how many bytes of the file the verifier has been given.
func (v *csvVerifier) seen() int64 { return v.pos + v.waiting + v.extra }

// add learns the boundaries m gives: its header, and the parts that follow
// the known ones in order (a partial manifest gives a part its offset once
// every part before it is stored). A part known already must be as it
// was; then the bytes waiting for these boundaries are hashed.
func (v *csvVerifier) add(m *schema.Manifest) {
	if len(v.segs) == 0 {
		v.segs = append(v.segs, segment{"header", 0, m.Header.Bytes, m.Header.SHA256, 0})
	} else if h := v.segs[0]; h.end != m.Header.Bytes || h.sha256 != m.Header.SHA256 {
		v.fail("the header changed between manifests")
	}
	for _, p := range m.Parts {
		switch {
		case p.Part >= 1 && p.Part <= v.parts:
			if s := v.segs[p.Part]; s.end-s.start != p.Bytes || s.sha256 != p.SHA256 || s.rows != p.Rows {
				v.fail(fmt.Sprintf("part %d changed between manifests", p.Part))
			}
		case p.Part == v.parts+1 && p.Offset == v.known():
			v.segs = append(v.segs, segment{"part " + strconv.Itoa(p.Part), p.Offset, p.Offset + p.Bytes, p.SHA256, p.Rows})
			v.parts++
		case p.Part == v.parts+1 && p.Offset >= 0:
			v.fail(fmt.Sprintf("part %d at offset %d, after bytes 0-%d", p.Part, p.Offset, v.known()-1))
		}
	}
	v.drain()
}

// seal says that no more boundaries come: the bytes still waiting, and
// any after them, are past the manifest's end.
func (v *csvVerifier) seal() {
	v.sealed = true
	v.drain()
}

// drain hashes the waiting bytes the known segments now cover.
func (v *csvVerifier) drain() {
	for len(v.pending) > 0 {
		b := &v.pending[0]
		rest := v.consume(b.rest)
		v.waiting -= int64(len(b.rest) - len(rest))
		if b.rest = rest; len(rest) > 0 {
			return
		}
		v.free(b.buf)
		v.pending = v.pending[1:]
	}
	v.pending = nil // the array's start again, not its tail
	v.closeDone()
}

// Write hashes p, or keeps a copy of what its boundaries are not known
// for. Its error, once a segment has not matched, stops the download at
// once.
func (v *csvVerifier) Write(p []byte) (int, error) {
	rest := p
	if len(v.pending) == 0 {
		rest = v.consume(p)
	}
	if len(rest) > 0 {
		v.hold(nil, append([]byte(nil), rest...))
	}
	return len(p), v.err()
}

// take hashes b as Write does, but keeps b itself, not a copy, if its
// boundaries are not known yet: b is the verifier's until release takes
// it back.
func (v *csvVerifier) take(b []byte) error {
	rest := b
	if len(v.pending) == 0 {
		rest = v.consume(b)
	}
	if len(rest) > 0 {
		v.hold(b, rest)
	} else {
		v.free(b)
	}
	return v.err()
}

// hold keeps rest, the tail of buf, until its boundaries are known.
func (v *csvVerifier) hold(buf, rest []byte) {
	v.pending = append(v.pending, heldBlock{buf, rest})
	v.waiting += int64(len(rest))
}

// drop forgets the bytes waiting.
func (v *csvVerifier) drop() {
	for _, b := range v.pending {
		v.free(b.buf)
	}
	v.pending, v.waiting = nil, 0
}

// free gives a block of take's back.
func (v *csvVerifier) free(b []byte) {
	if b != nil && v.release != nil {
		v.release(b)
	}
}

// consume hashes as much of p as the known segments cover and returns the
// rest (none once sealed: it is counted as extra).
func (v *csvVerifier) consume(p []byte) []byte {
	for len(p) > 0 {
		v.closeDone()
		if v.i >= len(v.segs) {
			if v.sealed {
				v.extra += int64(len(p))
				return nil
			}
			return p
		}
		k := min(int64(len(p)), v.segs[v.i].end-v.pos)
		v.h.Write(p[:k])
		v.pos += k
		p = p[k:]
	}
	v.closeDone()
	return nil
}

// closeDone checks the digest of each segment the hashed bytes have
// reached the end of, and moves to the next.
func (v *csvVerifier) closeDone() {
	for v.i < len(v.segs) && v.pos >= v.segs[v.i].end {
		s := v.segs[v.i]
		if got := hex.EncodeToString(v.h.Sum(nil)); got != s.sha256 {
			v.fail(fmt.Sprintf("%s (bytes %d-%d): sha256 %s, manifest %s", s.name, s.start, s.end-1, got, s.sha256))
		} else {
			v.rows += s.rows
		}
		v.h.Reset()
		v.i++
	}
}

func (v *csvVerifier) fail(problem string) { v.bad = append(v.bad, problem) }

// err is the mismatches found so far, or nil.
func (v *csvVerifier) err() error {
	if len(v.bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  %s", errNoMatch, strings.Join(v.bad, "\n  "))
}

// finish seals the verifier and reports any mismatch, a file short of the
// manifest or longer.
func (v *csvVerifier) finish() error {
	v.seal()
	if end := v.known(); v.seen() != end {
		v.fail(fmt.Sprintf("the file has %d bytes, the manifest %d", v.seen(), end))
	}
	return v.err()
}
