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
type writeBack struct {
	f     *os.File
	since int64
	kick  chan struct{}
	done  chan struct{}
}

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
