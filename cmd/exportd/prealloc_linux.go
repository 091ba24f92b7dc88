package main

import (
	"os"
	"syscall"
)

// preallocate allocates n bytes of f from off, keeping its size
// (fallocate with FALLOC_FL_KEEP_SIZE).
func preallocate(f *os.File, off, n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		ferr = syscall.Fallocate(int(fd), 0x01, off, n)
	}); err != nil {
		return err
	}
	return ferr
}
