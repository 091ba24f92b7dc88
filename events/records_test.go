package events_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/schema"
)

// queuedRecord is the record of a job just queued, as the projector keeps it.
func queuedRecord(ticket string) *schema.JobRecord {
	now := time.Now().UTC()
	req := schema.ExportRequest{Ticket: ticket, Query: schema.Query{Network: "n", AllNodes: true, AllSensors: true,
		AllFeatures: true, Start: now.Add(-time.Hour), End: now}, SubmittedAt: now}
	rec := &schema.JobRecord{}
	rec.Apply(schema.Event{Kind: schema.EventQueued, Ticket: ticket, Time: now, Request: &req})
	return rec
}

// A burst of tickets queues far more jobs than run at once: the records of
// all of them are kept until they are started (a count of 1 024 made the
// started event of every job past the last 1 024 read its record back).
func TestRecordsKeepABurst(t *testing.T) {
	var kept events.Kept
	const n = 20_000
	for i := range n {
		kept.Keep(fmt.Sprintf("%032x", i), queuedRecord(fmt.Sprintf("%032x", i)), uint64(i+1))
	}
	for i := range n {
		if !kept.Take(fmt.Sprintf("%032x", i)) {
			t.Fatalf("record %d of %d: not kept", i, n)
		}
	}
	if got := kept.Bytes(); got != 0 {
		t.Errorf("got %d bytes kept after taking every record, want 0", got)
	}
}

// Records are bounded by their size: started jobs' records, with their
// meta_ids, make room by dropping others.
func TestRecordsBoundedBySize(t *testing.T) {
	var kept events.Kept
	ids := schema.MetaIDs{}
	for i := range 1000 {
		ids[fmt.Sprintf("node%04d", i)] = uint32(i + 1)
	}
	for i := range 2000 {
		rec := queuedRecord(fmt.Sprintf("%032x", i))
		rec.MetaIDs = ids
		kept.Keep(fmt.Sprintf("%032x", i), rec, uint64(i+1))
		kept.Keep(fmt.Sprintf("%032x", i), rec, uint64(i+2)) // the same job again: counted once
		if got := kept.Bytes(); got > events.MaxRecordBytes {
			t.Fatalf("after %d records: got %d bytes kept, want at most %d", i+1, got, events.MaxRecordBytes)
		}
	}
	if !kept.Take(fmt.Sprintf("%032x", 1999)) {
		t.Error("the record kept last was dropped")
	}
}
