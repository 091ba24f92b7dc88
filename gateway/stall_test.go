package gateway_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// stalledClients sends GET path on n connections of their own whose
// receive buffer is 4 KiB, and reads nothing of the answers: clients that
// stopped reading. Some 12 MB of answer each is more than the kernels hold
// for such a client (the server's send buffer at most 4 MiB), so the
// server's writes block.
func stalledClients(t *testing.T, baseURL, path string, n int) []net.Conn {
	t.Helper()
	host := strings.TrimPrefix(baseURL, "http://")
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	conns := make([]net.Conn, n)
	for i := range conns {
		conn, err := d.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(2 * time.Minute))
		if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		conns[i] = conn
	}
	return conns
}

// stalledAtLeast waits until the gateway at baseURL has cut off n
// downloads whose clients stopped reading (its metric): only then is every
// one of them known to be cut off, not still waiting to begin (a goroutine
// count alone let a download that began late finish whole once its client
// read).
func stalledAtLeast(t *testing.T, baseURL string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, _ := sample(scrape(t, baseURL), "exportd_downloads_stalled_total")
		if got >= float64(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v downloads counted as stalled after %s, want %d", got, within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// brokenOff checks that each stalled client, reading at last, finds its
// answer cut short: a download it cannot take for a whole file.
func brokenOff(t *testing.T, conns []net.Conn, who string) {
	t.Helper()
	for i, conn := range conns {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s %d: %v", who, i, err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%s %d: %v after %d bytes, want the download broken off", who, i, err, n)
		}
	}
}

// A client that stops reading a plain download (of a job that has
// succeeded) is cut off once a write to it has waited the stall limit, as
// a follower is: before, it held its download's part reads and buffers for
// as long as its connection stayed open.
func TestDownloadStalledClient(t *testing.T) {
	defer gateway.SetWriteStall(time.Second)()
	const stalled, slack = 20, 10
	h := &heldExport{testenv.StartHeld(t, 60_000, ddSeedEnd)}
	ticket := h.submit(t)
	h.Run()
	if st := h.Wait(t, ticket, 2*time.Minute).Status.Status; st != schema.StatusSuccess {
		t.Fatalf("job %s", st)
	}
	baseG := runtime.NumGoroutine()
	conns := stalledClients(t, h.URL, "/v1/api/datadump/"+ticket+"?data_type=json", stalled)
	stalledAtLeast(t, h.URL, stalled, 30*time.Second)
	goroutinesAtMost(t, baseG+slack, 30*time.Second, fmt.Sprintf("%d downloads that read nothing, past the stall limit", stalled))
	if got, _ := sample(scrape(t, h.URL), "exportd_downloads_stalled_total"); got != stalled {
		t.Fatalf("exportd_downloads_stalled_total %v, want %d: one a client cut off", got, stalled)
	}
	brokenOff(t, conns, "stalled download")
}
