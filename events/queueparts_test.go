package events_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/schema"
)

// A plan of more parts than are sent before their acks are awaited is
// queued whole, each part once, in the plan's order, and queued again
// (a planner redelivered after a crash) adds nothing.
func TestQueuePartsInOrder(t *testing.T) {
	bus := newBus(t)
	ctx := context.Background()
	const ticket, parts = "000000000000000000000000000000bb", 100
	tasks := make([]schema.PartTask, parts)
	for i := range tasks {
		tasks[i] = schema.PartTask{Ticket: ticket, Parts: parts, Spec: schema.PartSpec{Part: i + 1}}
	}
	for range 2 {
		if err := bus.QueueParts(ctx, tasks, events.Bulk); err != nil {
			t.Fatal(err)
		}
	}
	s, err := bus.JS().Stream(ctx, events.PartStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var pt schema.PartTask
		if err := json.Unmarshal(m.Data, &pt); err != nil {
			t.Fatal(err)
		}
		got = append(got, pt.Spec.Part)
	}
	if len(got) != parts {
		t.Fatalf("got %d parts queued, want %d", len(got), parts)
	}
	for i, p := range got {
		if p != i+1 {
			t.Fatalf("part %d queued in place %d: got order %v", p, i+1, got)
		}
	}
}

// BenchmarkQueueParts queues a 40-part plan (10 M rows at the default
// part size) one part at a time, each ack awaited (as the planner did),
// and with QueueParts. One op is one plan.
func BenchmarkQueueParts(b *testing.B) {
	bus := newBus(b)
	ctx := context.Background()
	plan := func(int) []schema.PartTask {
		ticket := newTicket()
		tasks := make([]schema.PartTask, 40)
		for i := range tasks {
			tasks[i] = schema.PartTask{Ticket: ticket, Parts: 40, Spec: schema.PartSpec{Part: i + 1}}
		}
		return tasks
	}
	b.Run("one-by-one", func(b *testing.B) {
		defer cpuPerOp(b)()
		for i := 0; b.Loop(); i++ {
			for _, t := range plan(i) {
				if err := bus.QueuePart(ctx, t, events.Bulk); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("windowed", func(b *testing.B) {
		defer cpuPerOp(b)()
		for i := 0; b.Loop(); i++ {
			if err := bus.QueueParts(ctx, plan(i), events.Bulk); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// cpuPerOp reports this process's CPU per op (the embedded NATS server's
// included) when the func it returns is called.
func cpuPerOp(b *testing.B) func() {
	cpu := cputime.Self()
	return func() { b.ReportMetric(float64((cputime.Self()-cpu).Microseconds())/float64(b.N), "cpu-µs/op") }
}
