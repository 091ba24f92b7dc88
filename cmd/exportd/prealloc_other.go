//go:build !linux

package main

import (
	"errors"
	"os"
)

// preallocate is Linux's only: elsewhere the file grows write by write.
func preallocate(*os.File, int64, int64) error {
	return errors.New("no preallocation here")
}
