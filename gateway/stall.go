package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/plenario-next/exportd/internal/metrics"
)

// DefaultWriteStall is how long a download, followed or not, waits for its
// client to take one write (a block of a part: 256 KiB of CSV, more once
// rendered as JSON, a part's row groups for Parquet made from CSV). A
// client that takes nothing for that long (about 2 KiB a second of CSV)
// is cut off, and what its download held freed: measured, some 1 MiB for
// a download of CSV whose client stopped reading, 1.5 MiB of JSON (the
// part read ahead, the renderer's buffers), a follower's job events being
// shared by all its followers. Without it, a client that stopped reading
// held that for as long as its connection stayed open
// (TestFollowStalledClient, TestDownloadStalledClient). fasthttp's own
// WriteTimeout would bound a whole response, which a download of
// gigabytes may rightly take minutes to send.
const DefaultWriteStall = 2 * time.Minute

// writeStall is DefaultWriteStall but in tests.
var writeStall atomic.Int64

func init() { writeStall.Store(int64(DefaultWriteStall)) }

// stalling is w with a deadline on each write to conn, writeStall after the
// write began; undo lifts the deadline, which is not for the next response
// on the connection.
func stalling(w io.Writer, conn net.Conn, m *metrics.Registry) (sw io.Writer, undo func()) {
	return stallWriter{w: w, conn: conn, stall: time.Duration(writeStall.Load()), m: m},
		func() { _ = conn.SetWriteDeadline(time.Time{}) }
}

// stallWriter gives each write to the client a deadline, so that one who
// stops reading cannot hold a download for ever (DefaultWriteStall).
type stallWriter struct {
	w     io.Writer
	conn  net.Conn
	stall time.Duration
	m     *metrics.Registry // counts a client cut off (exportd_downloads_stalled_total)
}

func (s stallWriter) Write(p []byte) (int, error) {
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.stall))
	n, err := s.w.Write(p)
	if errors.Is(err, os.ErrDeadlineExceeded) { // the download ends with its first failed write
		s.m.DownloadStalled()
	}
	return n, err
}
