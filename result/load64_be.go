//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm)

package result

import (
	"encoding/binary"
	"unsafe"
)

// load64 is the eight bytes at p+i, the first the lowest (load64_le.go).
func load64(p unsafe.Pointer, i int) uint64 {
	return binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(p, i))[:])
}
