package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestPartialManifest: a running job's manifest lists the parts stored so
// far, each with the rows, bytes and SHA-256 of what the store holds, says
// it is not complete, and offers the followed downloads; once the job has
// succeeded the manifest is complete and lists those parts the same.
func TestPartialManifest(t *testing.T) {
	h := startHeld(t)
	ticket := h.submit(t)
	h.HoldAfterFirstPart(t, ticket)
	u := h.URL + "/v1/api/jobs/" + ticket + "/manifest"
	var m schema.Manifest
	resp, _ := testenv.Do(t, "GET", u)
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("partial manifest: Cache-Control %q, want no-store", cc)
	}
	ddGetJSON(t, u, &m)
	rec, _, err := h.Bus.Job(context.Background(), ticket)
	if err != nil {
		t.Fatal(err)
	}
	if m.Complete || m.Status != schema.StatusProcessing || len(m.Parts) != rec.Job.Status.Progress.Done || len(m.Parts) == 0 ||
		len(m.Parts) >= rec.Job.Status.Progress.Total {
		t.Fatalf("partial manifest: complete %v, status %q, %d parts; want not complete, processing, the %d stored of %d",
			m.Complete, m.Status, len(m.Parts), rec.Job.Status.Progress.Done, rec.Job.Status.Progress.Total)
	}
	if m.Parts[0].Part != 1 || m.Parts[0].Offset != m.Header.Bytes {
		t.Fatalf("partial manifest: first part %d at offset %d, want part 1 at %d", m.Parts[0].Part, m.Parts[0].Offset, m.Header.Bytes)
	}
	var rows, bytes int64
	for _, p := range m.Parts {
		r, err := h.Bus.OpenPart(context.Background(), ticket, p.Part)
		if err != nil {
			t.Fatal(err)
		}
		csv, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if p.SHA256 != ddHex(csv) || p.Bytes != int64(len(csv)) || p.Rows != int64(strings.Count(string(csv), "\n")) {
			t.Fatalf("partial manifest, part %d: %d rows, %d bytes, sha256 %s; the store holds %d bytes, sha256 %s",
				p.Part, p.Rows, p.Bytes, p.SHA256, len(csv), ddHex(csv))
		}
		rows, bytes = rows+p.Rows, bytes+p.Bytes
	}
	if m.Rows != rows || m.Bytes != m.Header.Bytes+bytes {
		t.Fatalf("partial manifest: %d rows, %d bytes; its parts sum to %d, %d", m.Rows, m.Bytes, rows, m.Header.Bytes+bytes)
	}
	for _, o := range m.Output {
		if !strings.Contains(o.URL, "follow=true") || o.Ranges {
			t.Fatalf("partial manifest output %s: %s (ranges %v), want a followed download", o.Format, o.URL, o.Ranges)
		}
	}

	h.Run()
	if j := h.Wait(t, ticket, time.Minute); j.Status.Status != schema.StatusSuccess {
		t.Fatalf("job %s", j.Status.Status)
	}
	var done schema.Manifest
	ddGetJSON(t, u, &done)
	if !done.Complete || done.Status != schema.StatusSuccess {
		t.Fatalf("manifest after success: complete %v, status %q", done.Complete, done.Status)
	}
	for _, p := range m.Parts {
		q := done.Parts[p.Part-1]
		if q.SHA256 != p.SHA256 || q.Rows != p.Rows || q.Bytes != p.Bytes || p.Offset >= 0 && p.Offset != q.Offset {
			t.Fatalf("part %d: partial %+v, complete %+v", p.Part, p, q)
		}
	}
	if resp, _ := testenv.Do(t, "GET", u); resp.StatusCode != http.StatusOK {
		t.Fatal(resp.StatusCode)
	}
}
