package faults_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
)

// TestSlowClientDownload: a client that reads a part more slowly than
// JetStream's default API timeout (5 s) still gets the whole file. The
// object store used to give the whole read of a part that timeout, and the
// download was cut in the middle of a row.
func TestSlowClientDownload(t *testing.T) {
	store := sharedStore(t)
	svc := testenv.StartService(t, testenv.ServiceOptions{Store: store, PartRows: 10_000_000})
	ticket := svc.Submit(t, network, window(seedEnd.Add(-3*24*time.Hour), seedEnd))
	j := mustSucceed(t, svc.URL, ticket, 2*time.Minute)

	req, _ := http.NewRequest(http.MethodGet, svc.URL+"/v1/api/datadump/"+ticket+"?data_type=csv", nil)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	size, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	rows, _ := strconv.ParseInt(resp.Header.Get("X-Row-Count"), 10, 64)
	first := (size + int64(j.Status.Progress.Total) - 1) / int64(j.Status.Progress.Total)
	if resp.StatusCode != 200 || first < 12<<20 {
		t.Fatalf("got %d, %d bytes in %d parts; want 200 and parts well beyond socket buffers",
			resp.StatusCode, size, j.Status.Progress.Total)
	}
	// Read the first part and a bit in about 9 s (the server side waits on
	// this client once the socket buffers are full), then the rest at once.
	slow := first + 4<<20
	buf := make([]byte, 64<<10)
	pause := 9 * time.Second / time.Duration(slow/int64(len(buf)))
	var n, lines int64
	start := time.Now()
	for {
		k, err := io.ReadFull(resp.Body, buf)
		n += int64(k)
		lines += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d of %d bytes in %s: %v", n, size, time.Since(start).Round(time.Millisecond), err)
		}
		if n < slow {
			time.Sleep(pause)
		}
	}
	if n != size || lines != rows+1 {
		t.Fatalf("read %d of %d bytes, %d of %d rows and the header, in %s", n, size, lines, rows, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("read %d bytes (%d rows) in %s, the first part slowly", n, rows, time.Since(start).Round(time.Millisecond))
}
