//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package result

import "unsafe"

// load64 is the eight bytes at p+i, the first the lowest, as the masks
// and bit counts of digitRun and lineValueLen take them: on these
// little-endian machines, one load. load64_be.go is the same for the
// others, where a plain load puts the first byte highest and values such
// as "abc" passed for numbers (the package's tests under qemu-s390x).
func load64(p unsafe.Pointer, i int) uint64 { return *(*uint64)(unsafe.Add(p, i)) }
