package exporter_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// logLines parses the JSON log lines written to l.
func logLines(t *testing.T, l *testenv.LockedBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("a log line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// notAboutAPart are the exporter's log lines that concern no partition:
// JetStream being unreachable, or a message that is not a partition.
var notAboutAPart = map[string]bool{"exporter fetch": true, "exporter: dropping bad part": true}

// TestEveryExportLogLineNamesTicketAndPart: an operator greps one ticket
// (or one part) through the JSON logs and finds every line about it, on a
// normal export and on one cancelled while its parts run.
func TestEveryExportLogLineNamesTicketAndPart(t *testing.T) {
	svc, _ := seeded(t, 200_000, testenv.ServiceOptions{NoExporter: true})
	var exLog, plLog testenv.LockedBuffer
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	pl := exporter.NewPlanner(svc.Bus, svc.Store, slog.New(slog.NewJSONHandler(&plLog, opts)))
	pl.PartRows = 3_000
	ex := exporter.NewExporter(svc.Bus, svc.Store, slog.New(slog.NewJSONHandler(&exLog, opts)))
	ex.Concurrency = 2
	for _, run := range []func(context.Context) error{pl.Run, ex.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	stopped := false
	stopWorkers := func() {
		if !stopped {
			stopped = true
			stop()
			wg.Wait()
		}
	}
	t.Cleanup(stopWorkers)

	done := svc.Submit(t, "array_of_things", "start_datetime=2026-09-30T00:00:00&end_datetime=2026-10-01T00:00:00")
	job := svc.Wait(t, done, time.Minute)
	if job.Status.Status != schema.StatusSuccess {
		t.Fatalf("got status %q (%v), want success", job.Status.Status, job.Result)
	}
	parts := job.Status.Progress.Total

	cancelled := svc.Submit(t, "array_of_things", window)
	svc.WaitPartStored(t, cancelled, 30*time.Second)
	if code, _ := del(t, svc.URL+"/v1/api/jobs/"+cancelled); code != 200 {
		t.Fatalf("cancel: got %d, want 200", code)
	}
	svc.Wait(t, cancelled, 10*time.Second)
	stopWorkers()

	stored, msgs := 0, map[string]int{}
	for _, l := range logLines(t, &exLog) {
		msgs[l["msg"].(string)]++
		if notAboutAPart[l["msg"].(string)] {
			continue
		}
		ticket, _ := l["ticket"].(string)
		part, _ := l["part"].(float64)
		if !schema.IsTicket(ticket) || part < 1 {
			t.Errorf("exporter line without ticket and part: %v", l)
		}
		if ticket == done && l["msg"] == "part stored" {
			stored++
		}
	}
	t.Logf("exporter lines: %v", msgs)
	if stored != parts {
		t.Errorf("got %d 'part stored' lines for the finished job, want one per part (%d)", stored, parts)
	}
	for _, l := range logLines(t, &plLog) {
		if l["msg"] == "planner fetch" {
			continue
		}
		if ticket, _ := l["ticket"].(string); !schema.IsTicket(ticket) {
			t.Errorf("planner line without ticket: %v", l)
		}
	}
}
