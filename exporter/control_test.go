package exporter_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

func del(t *testing.T, u string) (int, schema.Job) {
	t.Helper()
	resp, body := testenv.Do(t, http.MethodDelete, u)
	var j schema.Job
	_ = json.Unmarshal(body, &j)
	return resp.StatusCode, j
}

// objectsOf counts the stored parts of ticket.
func objectsOf(t *testing.T, svc *testenv.Service, ticket string) int {
	t.Helper()
	list, err := svc.ObjectStore(t, events.ResultBucket).List(t.Context())
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range list {
		if len(o.Name) > 32 && o.Name[:32] == ticket && !o.Deleted {
			n++
		}
	}
	return n
}

// TestCancelRunningJob: DELETE stops a running job promptly and leaves no
// part behind.
func TestCancelRunningJob(t *testing.T) {
	svc, _ := seeded(t, 300_000, testenv.ServiceOptions{PartRows: 2_000, Concurrency: 1})
	ticket := svc.Submit(t, "array_of_things", window)
	svc.WaitPartStored(t, ticket, 30*time.Second)
	code, j := del(t, svc.URL+"/v1/api/jobs/"+ticket)
	if code != 200 || j.Status.Status != schema.StatusCancelled {
		t.Fatalf("cancel: got %d %q, want 200 cancelled", code, j.Status.Status)
	}
	j = svc.Wait(t, ticket, 10*time.Second)
	if j.Status.Status != schema.StatusCancelled || j.Status.Meta.EndTime == "" {
		t.Fatalf("got status %q endTime %q, want cancelled with an end time", j.Status.Status, j.Status.Meta.EndTime)
	}
	testenv.Eventually(t, 30*time.Second, "no part of the cancelled job left", func() bool {
		return objectsOf(t, svc, ticket) == 0
	})
	// Work in flight stops: the part queue drains to nothing.
	testenv.Eventually(t, 30*time.Second, "part queue empty", func() bool {
		s, err := svc.JS.Stream(t.Context(), "EXPORT_PARTS")
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(t.Context())
		return err == nil && info.State.Msgs == 0
	})
	if n := objectsOf(t, svc, ticket); n != 0 {
		t.Fatalf("got %d parts after the queue drained, want 0", n)
	}
	code, _ = del(t, svc.URL+"/v1/api/jobs/"+ticket)
	if code != http.StatusConflict {
		t.Fatalf("second cancel: got %d, want 409", code)
	}
}

// TestCancelFinishedJobRemovesResult: a finished export can be withdrawn.
func TestCancelFinishedJobRemovesResult(t *testing.T) {
	svc, _ := seeded(t, 20_000, testenv.ServiceOptions{PartRows: 2_000})
	ticket := svc.Submit(t, "array_of_things", window)
	if j := svc.Wait(t, ticket, 30*time.Second); j.Status.Status != schema.StatusSuccess {
		t.Fatalf("got %q, want success", j.Status.Status)
	}
	if objectsOf(t, svc, ticket) == 0 {
		t.Fatal("no parts stored for a successful job")
	}
	if code, j := del(t, svc.URL+"/v1/api/jobs/"+ticket); code != 200 || j.Status.Status != schema.StatusCancelled {
		t.Fatalf("cancel: got %d %q, want 200 cancelled", code, j.Status.Status)
	}
	testenv.Eventually(t, 30*time.Second, "parts removed", func() bool { return objectsOf(t, svc, ticket) == 0 })
	code, body := testenv.Get(t, svc.URL+"/v1/api/datadump/"+ticket)
	var doc schema.Job
	if code != http.StatusOK || json.Unmarshal(body, &doc) != nil || doc.Status.Status != schema.StatusCancelled {
		t.Fatalf("download after cancel: got %d %.200s, want 200 with the cancelled job's document, as Plenario answered", code, body)
	}
	if code, _ := del(t, svc.URL+"/v1/api/jobs/"+"0123456789abcdef0123456789abcdef"); code != 404 {
		t.Fatalf("cancel unknown: got %d, want 404", code)
	}
}
