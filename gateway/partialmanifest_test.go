package gateway_test

import (
	"context"
	"fmt"
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

// TestPartialManifestGrows stores a job's parts out of order (2, then 1,
// then the rest) and asks for its manifest twice after each: every answer
// lists exactly the parts stored so far, as the store holds them, with the
// offsets of those whose parts before are stored; repeated answers (the
// parts' infos kept) are the same and ask the NATS server for far fewer
// than one look-up per part; and after success the complete manifest
// lists each part as the last partial one did.
func TestPartialManifestGrows(t *testing.T) {
	const parts = 40
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true}) // this test is the exporter
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ticket := handJob(t, svc)
	publish(t, svc, schema.Event{Kind: schema.EventStarted, Ticket: ticket, Parts: parts, Worker: "hand"})
	testenv.Eventually(t, 30*time.Second, "the job processing", func() bool { // as the gateway sees it
		return svc.Job(t, ticket).Status.Status == schema.StatusProcessing
	})
	u := svc.URL + "/v1/api/jobs/" + ticket + "/manifest"
	stored := map[int]string{} // part: its CSV's SHA-256
	order := []int{2, 1}
	for p := 3; p <= parts; p++ {
		order = append(order, p)
	}
	var m schema.Manifest
	for i, p := range order {
		csv := "001e0610b000,2026-09-30T00:00:00,tmp112,temperature,temperature," + strings.Repeat("1", p) + "\n"
		if _, err := testenv.PutPart(ctx, svc.Bus, ticket, p, func() int64 { return 1 }, strings.NewReader(csv)); err != nil {
			t.Fatal(err)
		}
		stored[p] = ddHex([]byte(csv))
		if i == len(order)-1 {
			break // the last part's event ends the job below
		}
		publish(t, svc, schema.Event{Kind: schema.EventPartDone, Ticket: ticket, Part: p, Parts: parts, Rows: 1, Bytes: int64(len(csv)), Worker: "hand"})
		testenv.Eventually(t, 30*time.Second, fmt.Sprintf("part %d in the manifest", p), func() bool {
			m = schema.Manifest{}
			ddGetJSON(t, u, &m)
			return len(m.Parts) == i+1
		})
		var again schema.Manifest
		ddGetJSON(t, u, &again)
		if fmt.Sprint(again.Parts) != fmt.Sprint(m.Parts) {
			t.Fatalf("after part %d, asked again: %+v, first %+v", p, again.Parts, m.Parts)
		}
		_, first := stored[1]
		offset := m.Header.Bytes
		for _, mp := range m.Parts {
			if mp.SHA256 != stored[mp.Part] {
				t.Fatalf("after part %d: part %d sha256 %s, the store's %s", p, mp.Part, mp.SHA256, stored[mp.Part])
			}
			if first && mp.Offset != offset {
				t.Fatalf("after part %d: part %d at offset %d, want %d", p, mp.Part, mp.Offset, offset)
			} else if !first && mp.Offset != -1 {
				t.Fatalf("after part %d, part 1 not stored: part %d at offset %d, want -1", p, mp.Part, mp.Offset)
			}
			offset += mp.Bytes
		}
	}
	// Every part but the last is kept now: asking again costs the server
	// a few messages, not one a part.
	before := natsInMsgs(t, svc.NATS)
	const asks = 5
	for range asks {
		ddGetJSON(t, u, &m)
	}
	if got := natsInMsgs(t, svc.NATS) - before; got >= parts {
		t.Errorf("%d manifests of %d stored parts: the NATS server received %d messages, want fewer than %d", asks, parts-1, got, parts)
	}
	last := order[len(order)-1]
	publish(t, svc, schema.Event{Kind: schema.EventPartDone, Ticket: ticket, Part: last, Parts: parts, Rows: 1, Worker: "hand"})
	publish(t, svc, schema.Event{Kind: schema.EventSucceeded, Ticket: ticket, Parts: parts, Rows: parts, Worker: "hand"})
	if st := svc.Wait(t, ticket, time.Minute).Status.Status; st != schema.StatusSuccess {
		t.Fatalf("job %s", st)
	}
	var done schema.Manifest
	ddGetJSON(t, u, &done)
	if !done.Complete || len(done.Parts) != parts {
		t.Fatalf("after success: complete %v, %d parts; want complete, %d", done.Complete, len(done.Parts), parts)
	}
	for _, p := range m.Parts {
		if q := done.Parts[p.Part-1]; q != p {
			t.Fatalf("part %d: partial %+v, complete %+v", p.Part, p, q)
		}
	}
}
