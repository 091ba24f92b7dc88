package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/plenario-next/exportd/schema"
)

// verifyFile is a CSV download of a header and three parts, with the
// manifests a job shows on its way: partial ones as parts are stored (part
// 3 before part 2, so without its offset at first), then the whole one.
type verifyFile struct {
	bytes    []byte
	partial1 *schema.Manifest // header, part 1
	partial2 *schema.Manifest // header, part 1, part 3 (no offset yet)
	whole    *schema.Manifest
}

func newVerifyFile() verifyFile {
	sum := func(b string) string { s := sha256.Sum256([]byte(b)); return hex.EncodeToString(s[:]) }
	header := "node_id,datetime,sensor,feature,property,value\n"
	parts := []string{"a,1,s,f,p,1\nb,1,s,f,p,2\n", "c,2,s,f,p,3\n", "d,3,s,f,p,4\ne,3,s,f,p,5\nf,3,s,f,p,6\n"}
	m := func(stored ...int) *schema.Manifest {
		mf := &schema.Manifest{Header: schema.ManifestHeader{Bytes: int64(len(header)), SHA256: sum(header)}}
		off, next := int64(len(header)), 1
		for i, p := range parts {
			isStored := false
			for _, s := range stored {
				isStored = isStored || s == i+1
			}
			mp := schema.ManifestPart{Part: i + 1, Rows: int64(strings.Count(p, "\n")), Bytes: int64(len(p)), Offset: -1, SHA256: sum(p)}
			if i+1 == next && isStored {
				mp.Offset, next = off, next+1
			}
			off += int64(len(p))
			if isStored {
				mf.Parts = append(mf.Parts, mp)
			}
		}
		return mf
	}
	return verifyFile{bytes: []byte(header + strings.Join(parts, "")), partial1: m(1), partial2: m(1, 3), whole: m(1, 2, 3)}
}

// step is a manifest to add (nil: none), then the file written up to upTo.
type step struct {
	m    *schema.Manifest
	upTo int
}

// TestCSVVerifier: the verifier checks a file in the one pass that writes
// it, whether the boundaries come before the bytes, after them or in
// pieces, and says which part does not match as soon as that part's last
// byte is written.
func TestCSVVerifier(t *testing.T) {
	f := newVerifyFile()
	n := len(f.bytes)
	flip := func(at int) []byte { b := append([]byte{}, f.bytes...); b[at] ^= 1; return b }
	for _, tc := range []struct {
		name    string
		file    []byte
		steps   []step
		wantErr string // in finish's error; "" for none
		early   bool   // a Write returns the error already
	}{
		{name: "boundaries first", file: f.bytes, steps: []step{{f.whole, n}}},
		{name: "bytes first", file: f.bytes, steps: []step{{nil, n}, {f.whole, n}}},
		{name: "partial manifests as parts come", file: f.bytes,
			steps: []step{{nil, 10}, {f.partial1, 80}, {f.partial2, n - 3}, {f.whole, n}}},
		{name: "a byte changed in part 2", file: flip(n - 40), steps: []step{{f.partial1, 70}, {f.whole, n}},
			wantErr: "part 2 (bytes", early: true},
		{name: "a byte changed in the header", file: flip(3), steps: []step{{nil, 20}, {f.partial1, 60}}, wantErr: "header (bytes 0-46)", early: true},
		{name: "short", file: f.bytes[:n-1], steps: []step{{f.whole, n - 1}}, wantErr: "the file has"},
		{name: "long", file: append(append([]byte{}, f.bytes...), 'x'), steps: []step{{f.whole, n + 1}}, wantErr: "the file has"},
	} {
		for _, owned := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: ", copied", true: ", owned"}[owned], func(t *testing.T) {
				testCSVVerifier(t, tc.file, tc.steps, tc.wantErr, tc.early, owned)
			})
		}
	}
}

// testCSVVerifier writes file to a verifier in steps, with Write or, when
// owned, with take, each block a buffer of its own that is scribbled over
// once released: the verifier must be done with it then, and release each
// exactly once.
func testCSVVerifier(t *testing.T, file []byte, steps []step, wantErr string, wantEarly, owned bool) {
	v := newCSVVerifier()
	taken, released := 0, map[*byte]int{}
	v.release = func(b []byte) {
		released[&b[:1][0]]++
		for i := range b {
			b[i] = 0xff
		}
	}
	pos := 0
	var early error
	for _, s := range steps {
		if s.m != nil {
			v.add(s.m)
		}
		for pos < s.upTo { // in chunks of 7 bytes, across every boundary
			k := min(7, s.upTo-pos)
			var err error
			if owned {
				taken++
				err = v.take(append(make([]byte, 0, 7), file[pos:pos+k]...))
			} else {
				_, err = v.Write(file[pos : pos+k])
			}
			if err != nil && early == nil {
				early = err
			}
			pos += k
		}
	}
	err := v.finish()
	if len(released) != taken {
		t.Fatalf("%d blocks taken, %d released", taken, len(released))
	}
	for _, n := range released {
		if n != 1 {
			t.Fatalf("a block released %d times", n)
		}
	}
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("got %v, want no error", err)
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr) || !errors.Is(err, errNoMatch)):
		t.Fatalf("got %v, want an error naming %q", err, wantErr)
	case wantEarly && early == nil:
		t.Fatal("no Write returned the mismatch: it waited for the end")
	}
	if wantErr == "" && (v.rows != 6 || v.parts != 3) {
		t.Fatalf("got %d rows in %d parts, want 6 in 3", v.rows, v.parts)
	}
}

// TestCSVVerifierManifestChanged: a part listed again with other bytes is
// a mismatch, not a silent switch of digests.
func TestCSVVerifierManifestChanged(t *testing.T) {
	f := newVerifyFile()
	v := newCSVVerifier()
	v.add(f.partial1)
	changed := *f.whole
	changed.Parts = append([]schema.ManifestPart{}, f.whole.Parts...)
	changed.Parts[0].SHA256 = strings.Repeat("0", 64)
	v.add(&changed)
	if _, err := v.Write(f.bytes); err == nil || !strings.Contains(err.Error(), "part 1 changed between manifests") {
		t.Fatalf("got %v, want part 1 changed", err)
	}
}
