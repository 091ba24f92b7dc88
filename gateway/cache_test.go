package gateway

import (
	"strconv"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// A record is replaced only by a later one, and a deletion is not undone
// by an earlier read: the KV read on a miss may lose a race with the watch.
func TestJobCacheRevisions(t *testing.T) {
	c := newJobCache(100, nil)
	now := time.Now()
	const ticket = "0123456789abcdef0123456789abcdef"
	c.put(ticket, 5, 0, []byte("five"), "", schema.StatusQueued, "")
	c.put(ticket, 4, 0, []byte("four"), "", schema.StatusQueued, "")
	if cj := c.get(ticket, now); cj == nil || string(cj.raw) != "five" {
		t.Fatalf("after revisions 5 then 4: %+v, want 5's record", cj)
	}
	c.remove(ticket, 6)
	c.put(ticket, 5, 0, []byte("five"), "", schema.StatusSuccess, "")
	if cj := c.get(ticket, now); cj != nil {
		t.Fatalf("after a deletion at 6, a read of 5 came back: %q", cj.raw)
	}
	c.put(ticket, 7, 0, []byte("seven"), "", schema.StatusSuccess, "")
	if cj := c.get(ticket, now); cj == nil || string(cj.raw) != "seven" {
		t.Fatalf("after revision 7: %+v, want it", cj)
	}
	past := now.Add(-time.Minute).UTC().Format(schema.MetaTimeLayout)
	c.put(ticket, 8, 0, []byte("eight"), "", schema.StatusSuccess, past)
	if cj := c.get(ticket, now); cj != nil {
		t.Fatalf("a record past its expiry was served: %q", cj.raw)
	}
}

// Past its bound, the cache drops finished jobs that nobody reads before
// one that is being polled, however many new jobs come.
func TestJobCacheKeepsWhatIsRead(t *testing.T) {
	c := newJobCache(100, nil)
	now := time.Now()
	const hot = "hot"
	c.put(hot, 1, 0, []byte("polled"), "", schema.StatusSuccess, "")
	for i := range 5000 {
		if c.get(hot, now) == nil {
			t.Fatalf("the polled job was dropped after %d new jobs", i)
		}
		status := schema.StatusSuccess
		if i%3 == 0 {
			status = schema.StatusQueued
		}
		c.put("job"+strconv.Itoa(i), uint64(i+2), 0, []byte("x"), "", status, "")
		if n := len(c.m); n > 100 {
			t.Fatalf("%d entries, bound 100", n)
		}
	}
}

// A cancel folded here stays in force until the KV's record has folded it,
// however many later revisions of earlier folds the watch brings, and the
// client's active jobs follow the record in force.
func TestJobCacheFold(t *testing.T) {
	a := newActive()
	c := newJobCache(100, a)
	now := time.Now()
	const ticket = "0123456789abcdef0123456789abcdef"
	c.put(ticket, 3, 10, []byte("queued"), "c", schema.StatusQueued, "")
	if n := a.count("c"); n != 1 {
		t.Fatalf("a queued job: %d active, want 1", n)
	}
	var rec schema.JobRecord
	rec.Apply(schema.Event{Kind: schema.EventQueued, Ticket: ticket, Seq: 10, Request: &schema.ExportRequest{Client: "c"}})
	rec.Apply(schema.Event{Kind: schema.EventCancelled, Ticket: ticket, Seq: 20})
	if err := c.fold(ticket, &rec); err != nil {
		t.Fatal(err)
	}
	if n := a.count("c"); n != 0 {
		t.Fatalf("after the cancel: %d active, want 0", n)
	}
	c.put(ticket, 4, 15, []byte("processing"), "c", schema.StatusProcessing, "") // folded before the cancel
	if cj := c.get(ticket, now); cj == nil || !cj.terminal || !cj.folded {
		t.Fatalf("a record of seq 15 after the cancel at 20 was folded here: %+v, want the cancel", cj)
	}
	if n := a.count("c"); n != 0 {
		t.Fatalf("after an earlier record came: %d active, want 0", n)
	}
	c.put(ticket, 5, 20, []byte("cancelled"), "c", schema.StatusCancelled, "")
	if cj := c.get(ticket, now); cj == nil || string(cj.raw) != "cancelled" {
		t.Fatalf("the KV's record of the cancel: %+v, want it", cj)
	}
	c.put(ticket, 4, 15, []byte("processing"), "c", schema.StatusProcessing, "")
	if cj := c.get(ticket, now); cj == nil || string(cj.raw) != "cancelled" {
		t.Fatalf("after the KV's cancel, an earlier read: %+v, want the cancel", cj)
	}
	if c.fold(ticket, &rec) != nil || string(c.get(ticket, now).raw) != "cancelled" {
		t.Fatal("a fold the KV's record has folded already replaced it")
	}
}

// A cancel folded here gives way to the KV's record of a job that failed
// before the projector came to the cancel: the projector folds that cancel
// into nothing and writes no later record.
func TestJobCacheFoldFailedMeanwhile(t *testing.T) {
	a := newActive()
	c := newJobCache(100, a)
	const ticket = "0123456789abcdef0123456789abcdef"
	c.put(ticket, 3, 10, []byte("processing"), "c", schema.StatusProcessing, "")
	var rec schema.JobRecord
	rec.Apply(schema.Event{Kind: schema.EventQueued, Ticket: ticket, Seq: 10, Request: &schema.ExportRequest{Client: "c"}})
	rec.Apply(schema.Event{Kind: schema.EventCancelled, Ticket: ticket, Seq: 20})
	if err := c.fold(ticket, &rec); err != nil {
		t.Fatal(err)
	}
	c.put(ticket, 4, 15, []byte("failed"), "c", schema.StatusError, "")
	if cj := c.get(ticket, time.Now()); cj == nil || string(cj.raw) != "failed" {
		t.Fatalf("the KV's failed record (seq 15) after a cancel folded here at 20: %+v, want the failure", cj)
	}
	if n := a.count("c"); n != 0 {
		t.Fatalf("%d active, want 0", n)
	}
}
