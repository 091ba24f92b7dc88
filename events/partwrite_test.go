package events_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
)

// failingWriter takes n bytes, then fails every write, as a client's
// connection that is gone.
type failingWriter struct {
	bytes.Buffer
	n int
}

var errGone = errors.New("client gone")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) > w.n {
		return 0, errGone
	}
	return w.Buffer.Write(p)
}

// A part sent whole whose client leaves mid-part: WriteTo returns the
// write's error with what it wrote before, and nothing of the read is left
// running once the part is closed (its decoding goroutine, the chunks'
// fetcher), however far ahead the decoding was.
func TestPartWriteToClientGone(t *testing.T) {
	ctx := context.Background()
	bus := newBus(t)
	part := csvPart(6 << 20)
	const ticket = "0123456789abcdef0123456789abcdef"
	if _, err := testenv.PutPart(ctx, bus, ticket, 1, func() int64 { return 1 }, bytes.NewReader(part)); err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	for _, take := range []int{0, 1 << 20, 5 << 20} {
		for range 20 {
			r, err := bus.OpenPart(ctx, ticket, 1)
			if err != nil {
				t.Fatal(err)
			}
			w := &failingWriter{n: take}
			n, err := r.WriteTo(w)
			r.Close()
			if !errors.Is(err, errGone) || n != int64(w.Len()) || !bytes.HasPrefix(part, w.Bytes()) {
				t.Fatalf("client gone after %d bytes: wrote %d (said %d), error %v; want %v and the part's first bytes", take, w.Len(), n, err, errGone)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > base {
		t.Fatalf("%d goroutines after 60 downloads left mid-part, %d before", g, base)
	}
}
