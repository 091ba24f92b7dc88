//go:build amd64 && !purego

package result

import "unsafe"

// runQuick is runQuickGo's loop in assembly (renderquick_amd64.s): the
// same lines, bytes and state, in fewer instructions a line, since the
// compiler's loop spent them on what it could not keep in registers
// (see runQuickGo). FuzzQuickAsm holds the two equal; -tags purego
// builds runQuickGo in its place.
func (j *Renderer) runQuick(b, csv []byte, at int) ([]byte, int) {
	n, end, lastAt := quickLines(j, b, csv, at)
	j.last = int32(lastAt / int(unsafe.Sizeof(tripleOut{})))
	return b[:n], end
}

// quickLines renders as runQuickGo does, with the same preconditions (an
// observation open, the reading quickReading's, j.last a triple), updating
// j.sf, j.cur and j.obs; it returns b's new length, the index in csv of
// the first line it did not render and the byte offset in j.names.trips
// of the last line's triple, which runQuick makes j.last (a division the
// compiler does by multiplication, where the assembly would need the
// size of tripleOut spelt out).
//
//go:noescape
func quickLines(j *Renderer, b, csv []byte, at int) (n, end, lastAt int)
