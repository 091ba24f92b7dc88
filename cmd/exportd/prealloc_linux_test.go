package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// TestGetGivesBackPreallocation: get allocates its file ahead of the bytes
// written (64 MiB at a time), followed or not; the file it leaves holds
// no more disk than its bytes need.
func TestGetGivesBackPreallocation(t *testing.T) {
	svc := startGetService(t)
	for i, args := range [][]string{nil, {"--no-follow"}} {
		file := filepath.Join(t.TempDir(), "all.csv")
		win := getWindow()
		win[1] = getSeedEnd.Add(-7*24*time.Hour + time.Duration(i)*time.Second).Format(schema.DatetimeLayout) // a job each
		if err, _ := runGet(t, svc.URL, append(append(win, "--output", file), args...)...); err != nil {
			t.Fatalf("get %v: %v (exit %d)", args, err, exitCode(err))
		}
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if used := st.Blocks * 512; used > fi.Size()+1<<20 {
			t.Fatalf("get %v: a file of %d bytes holds %d on disk", args, fi.Size(), used)
		}
	}
}
