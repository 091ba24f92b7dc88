package gateway_test

import (
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// Clients that leave a download after its first bytes, their connections
// closed while the gateway still writes to them, leave nothing of it
// running: the part being sent, the next part read ahead, a JSON part's
// rendering workers. A download after them is whole. (These parts are
// 2 000 rows, a block each: a client leaving in the middle of a part's
// blocks, decoded ahead of the writes, is TestPartWriteToClientGone's.)
func TestDownloadClientLeaves(t *testing.T) {
	const clients, slack = 20, 10
	h := &heldExport{testenv.StartHeld(t, 60_000, ddSeedEnd)}
	ticket := h.submit(t)
	h.Run()
	if st := h.Wait(t, ticket, 2*time.Minute).Status.Status; st != schema.StatusSuccess {
		t.Fatalf("job %s", st)
	}
	baseG := runtime.NumGoroutine()
	for _, format := range []string{"csv", "json"} {
		path := "/v1/api/datadump/" + ticket + "?data_type=" + format
		for _, conn := range stalledClients(t, h.URL, path, clients) {
			if _, err := io.ReadFull(conn, make([]byte, 64<<10)); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			conn.Close()
		}
		goroutinesAtMost(t, baseG+slack, 30*time.Second, fmt.Sprintf("%d %s downloads left after their first 64 KiB", clients, format))
		resp, err := testenv.HTTPClient.Get(h.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || n != resp.ContentLength {
			t.Fatalf("%s after the clients left: %d, %d of %d bytes (%v)", format, resp.StatusCode, n, resp.ContentLength, err)
		}
	}
}
