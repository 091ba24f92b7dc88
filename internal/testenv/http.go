package testenv

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// HTTPClient sees responses as sent (no transparent gzip), keeps many idle
// connections for concurrent tests, and gives up on a stuck answer.
var HTTPClient = &http.Client{Timeout: time.Minute,
	Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 300}}

// Do sends method u with header pairs (name, value, ...) and returns the
// response with its whole body read.
func Do(tb testing.TB, method, u string, hdr ...string) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := HTTPClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return resp, body
}

// Get GETs u and returns the status and body.
func Get(tb testing.TB, u string) (int, []byte) {
	tb.Helper()
	resp, body := Do(tb, http.MethodGet, u)
	return resp.StatusCode, body
}

// FreePort returns a loopback port nothing listens on right now.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// LockedBuffer is a bytes.Buffer that loggers in several goroutines and a
// test may share.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Bytes returns a copy of what was written so far.
func (l *LockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// String returns what was written so far.
func (l *LockedBuffer) String() string { return string(l.Bytes()) }
