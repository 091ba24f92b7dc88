package exporter_test

import (
	"testing"
	"time"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestRetention: when a job's retention ends, its document, its result and
// its events are gone, and the job document said when beforehand.
func TestRetention(t *testing.T) {
	const retention = 3 * time.Second
	svc, _ := seeded(t, 20_000, testenv.ServiceOptions{PartRows: 5_000, Events: events.Config{Retention: retention}})
	ticket := svc.Submit(t, "array_of_things", window)
	j := svc.Wait(t, ticket, 30*time.Second)
	if j.Status.Status != schema.StatusSuccess {
		t.Fatalf("got %q, want success", j.Status.Status)
	}
	exp, err := time.Parse(schema.MetaTimeLayout, j.Status.Meta.ExpiresAt)
	if err != nil {
		t.Fatalf("meta.expiresAt %q: %v", j.Status.Meta.ExpiresAt, err)
	}
	queued, _ := time.Parse(schema.MetaTimeLayout, j.Status.Meta.QueueTime)
	if got := exp.Sub(queued); got != retention {
		t.Fatalf("expiresAt - queueTime: got %v, want %v", got, retention)
	}
	if objectsOf(t, svc, ticket) == 0 {
		t.Fatal("no parts stored")
	}
	testenv.Eventually(t, 30*time.Second, "document, parts and events expired", func() bool {
		code, _ := testenv.Get(t, svc.URL+"/v1/api/jobs/"+ticket)
		if code != 404 || objectsOf(t, svc, ticket) != 0 {
			return false
		}
		s, err := svc.JS.Stream(t.Context(), events.EventStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(t.Context())
		return err == nil && info.State.Msgs == 0
	})
	if code, _ := testenv.Get(t, svc.URL+"/v1/api/datadump/"+ticket); code != 404 {
		t.Fatalf("download after expiry: got %d, want 404", code)
	}
}
