package main

import "os"

// writeBackEvery is how many bytes a download writes between two syncs
// of its file in the background.
const writeBackEvery = 32 << 20

// writeBack sends a download's bytes to disk as it goes: every
// writeBackEvery bytes a goroutine syncs the file, so that the sync before
// the rename waits for the last few MB and not for a whole file the page
// cache held (about half a second for 1.3 GB here). A nil one does
// nothing.
//
// It also allocates the file ahead of the bytes written, preallocStep at a
// time: ext4 writes into allocated blocks for less CPU than it takes to
// allocate them write by write (1 GB in 256 KiB writes, synced: 0.35-0.39
// CPU-s against 0.50-0.56, load average 3-5), and a followed download does
// not know its size before its end. What is allocated past the end is
// given back by trim.
type writeBack struct {
	f        *os.File
	since    int64
	kick     chan struct{}
	done     chan struct{}
	reserved int64 // the file is allocated up to here
	noAlloc  bool  // the file system would not allocate ahead
}

// preallocStep is how far ahead of its end a download's file is allocated.
const preallocStep = 64 << 20

func startWriteBack(f *os.File) *writeBack {
	w := &writeBack{f: f, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for range w.kick {
			_ = f.Sync() // an error comes back from the last Sync, in download
		}
	}()
	return w
}

// wrote counts n bytes written, and starts a sync each writeBackEvery.
func (w *writeBack) wrote(n int) {
	if w == nil {
		return
	}
	if w.since += int64(n); w.since >= writeBackEvery {
		w.since = 0
		select {
		case w.kick <- struct{}{}:
		default: // a sync is queued already: it takes these bytes too
		}
	}
}

// stop waits for the sync running, if any; it may be called again.
func (w *writeBack) stop() {
	if w == nil || w.kick == nil {
		return
	}
	close(w.kick)
	<-w.done
	w.kick = nil
}

// grow allocates the file past end, if it is not already.
func (w *writeBack) grow(end int64) {
	if w == nil || w.noAlloc || end <= w.reserved {
		return
	}
	if err := preallocate(w.f, w.reserved, end+preallocStep-w.reserved); err != nil {
		w.noAlloc = true // a file system without it, or one that is full: the writes will say
		return
	}
	w.reserved = end + preallocStep
}

// truncated says the file was emptied, its allocation with it.
func (w *writeBack) truncated() {
	if w != nil {
		w.reserved = 0
	}
}

// trim gives back what is allocated past size, the file's end.
func (w *writeBack) trim(size int64) error {
	if w == nil || w.reserved <= size {
		return nil
	}
	w.reserved = 0
	return w.f.Truncate(size) // to its own size: ext4 frees the blocks past it
}
