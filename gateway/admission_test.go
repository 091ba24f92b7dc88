package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

func do(t *testing.T, method, u string, hdr map[string]string) (*http.Response, schema.Job) {
	t.Helper()
	var pairs []string
	for k, v := range hdr {
		pairs = append(pairs, k, v)
	}
	resp, body := testenv.Do(t, method, u, pairs...)
	var j schema.Job
	_ = json.Unmarshal(body, &j)
	return resp, j
}

func seedSmall(t *testing.T, svc *testenv.Service) {
	t.Helper()
	if err := svc.Store.Seed(context.Background(), chstore.DemoNetwork("array_of_things"), 2_000, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
}

// TestIdempotentSubmission: a repeat of the same request, or of the same
// Idempotency-Key with the same request, gets the same ticket and starts no
// second job; the key with another request is a 422.
func TestIdempotentSubmission(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	seedSmall(t, svc)
	base := svc.URL + "/v1/api/sensor-networks/array_of_things/download?"
	_, a := do(t, "GET", base+"features=temperature,magnetic_field&nodes=001e0610b001,001e0610b000", nil)
	_, b := do(t, "GET", base+"nodes=001E0610B000,001e0610b001&features=magnetic_field,TEMPERATURE", nil)
	if !schema.IsTicket(a.Ticket) || a.Ticket != b.Ticket {
		t.Fatalf("same request twice: got tickets %q and %q, want one", a.Ticket, b.Ticket)
	}
	_, c := do(t, "GET", base+"features=temperature", nil)
	if c.Ticket == a.Ticket {
		t.Fatalf("a different request got the same ticket %q", c.Ticket)
	}
	key := map[string]string{"Idempotency-Key": "run-42"}
	_, d := do(t, "GET", base+"features=temperature&nodes=001e0610b002", key)
	_, e := do(t, "GET", base+"nodes=001E0610B002&features=TEMPERATURE", key)
	if d.Ticket != e.Ticket {
		t.Fatalf("same Idempotency-Key and request: got tickets %q and %q, want one", d.Ticket, e.Ticket)
	}
	// The key again with another request: refused, as the IETF's
	// Idempotency-Key draft has it, naming the key's job; no job is made.
	resp, body := testenv.Do(t, "GET", base+"features=relative_humidity", "Idempotency-Key", "run-42")
	var refusal struct {
		Meta  struct{ Query map[string]string }
		Error map[string][]string
	}
	if err := json.Unmarshal(body, &refusal); err != nil || resp.StatusCode != http.StatusUnprocessableEntity ||
		len(refusal.Error["Idempotency-Key"]) != 1 || !strings.Contains(refusal.Error["Idempotency-Key"][0], d.Ticket) ||
		refusal.Meta.Query["features"] != "relative_humidity" {
		t.Fatalf("same Idempotency-Key, another request: got %d %s, want 422 naming the key and job %s", resp.StatusCode, body, d.Ticket)
	}
	// Exactly three jobs were queued.
	s, err := svc.JS.Stream(t.Context(), "EXPORT_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.NumSubjects; got != 3 {
		t.Fatalf("got %d event subjects, want 3 queued jobs", got)
	}
}

// TestActiveJobLimit: past MaxActive queued or running jobs a client gets
// 429 with Retry-After; polling an unfinished job says when to come back.
func TestActiveJobLimit(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true, MaxActive: 2})
	seedSmall(t, svc)
	base := svc.URL + "/v1/api/sensor-networks/array_of_things/download?features="
	for _, f := range []string{"temperature", "magnetic_field"} {
		if resp, _ := do(t, "GET", base+f, nil); resp.StatusCode != 200 {
			t.Fatalf("job %s: got %d, want 200", f, resp.StatusCode)
		}
	}
	resp, _ := do(t, "GET", base+"light_intensity", nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third job: got %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// A repeat of an accepted request is not a new job: still 200.
	resp, j := do(t, "GET", base+"temperature", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("repeat: got %d, want 200", resp.StatusCode)
	}
	resp, _ = do(t, "GET", svc.URL+"/v1/api/jobs/"+j.Ticket, nil)
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("polling a queued job: no Retry-After")
	}
	// Cancelling one makes room.
	if resp, _ := do(t, "DELETE", svc.URL+"/v1/api/jobs/"+j.Ticket, nil); resp.StatusCode != 200 {
		t.Fatalf("cancel: got %d", resp.StatusCode)
	}
	testenv.Eventually(t, 10*time.Second, "room for a new job", func() bool {
		resp, _ := do(t, "GET", base+"light_intensity", nil)
		return resp.StatusCode == 200
	})
}

// TestAPIKeys: with keys configured every API call needs one, and a job is
// visible only to the key that made it.
func TestAPIKeys(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true, APIKeys: []string{"alpha-key", "beta-key"}})
	seedSmall(t, svc)
	alpha := map[string]string{"Authorization": "Bearer alpha-key"}
	beta := map[string]string{"Authorization": "Bearer beta-key"}
	u := svc.URL + "/v1/api/sensor-networks/array_of_things/download?features=temperature"
	if resp, _ := do(t, "GET", u, nil); resp.StatusCode != 401 {
		t.Fatalf("no key: got %d, want 401", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", u, map[string]string{"Authorization": "Bearer nope"}); resp.StatusCode != 401 {
		t.Fatalf("wrong key: got %d, want 401", resp.StatusCode)
	}
	resp, j := do(t, "GET", u, alpha)
	if resp.StatusCode != 200 {
		t.Fatalf("alpha submit: got %d", resp.StatusCode)
	}
	if resp, got := do(t, "GET", svc.URL+"/v1/api/jobs/"+j.Ticket, alpha); resp.StatusCode != 200 || got.Ticket != j.Ticket {
		t.Fatalf("alpha polls its job: got %d", resp.StatusCode)
	}
	for _, path := range []string{"/v1/api/jobs/", "/v1/api/datadump/"} {
		if resp, _ := do(t, "GET", svc.URL+path+j.Ticket, beta); resp.StatusCode != 404 {
			t.Fatalf("beta reads alpha's %s: got %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := do(t, "DELETE", svc.URL+"/v1/api/jobs/"+j.Ticket, beta); resp.StatusCode != 404 {
		t.Fatalf("beta cancels alpha's job: got %d, want 404", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", svc.URL+"/healthz", nil); resp.StatusCode != 200 {
		t.Fatalf("healthz without key: got %d, want 200", resp.StatusCode)
	}
	// The scheme is case-insensitive (RFC 9110 11.1), and spaces around
	// the key are not part of it; anything else is still a 401.
	for auth, want := range map[string]int{"bearer alpha-key": 200, "BEARER  alpha-key ": 200, "Bearer": 401,
		"Bearer ": 401, "Basic alpha-key": 401, "alpha-key": 401, "Bearer alpha-key beta-key": 401} {
		if resp, _ := do(t, "GET", svc.URL+"/v1/api/jobs/"+j.Ticket, map[string]string{"Authorization": auth}); resp.StatusCode != want {
			t.Errorf("Authorization %q: got %d, want %d", auth, resp.StatusCode, want)
		}
	}
}

// TestCancelTwice: a second DELETE of a job is a 409 at once, before the
// projector has folded the first: with no projector at all, the record
// never shows it, and only the event stream knows.
func TestCancelTwice(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true, NoProjector: true})
	seedSmall(t, svc)
	_, j := do(t, "GET", svc.URL+"/v1/api/sensor-networks/array_of_things/download?features=temperature", nil)
	if resp, got := do(t, "DELETE", svc.URL+"/v1/api/jobs/"+j.Ticket, nil); resp.StatusCode != 200 || got.Status.Status != schema.StatusCancelled {
		t.Fatalf("cancel: got %d %q, want 200 cancelled", resp.StatusCode, got.Status.Status)
	}
	resp, body := testenv.Do(t, "DELETE", svc.URL+"/v1/api/jobs/"+j.Ticket)
	var e struct {
		Error string `json:"error"`
	}
	if resp.StatusCode != http.StatusConflict || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "cancelled") {
		t.Fatalf("cancelled again: got %d %s, want 409 saying it is cancelled", resp.StatusCode, body)
	}
}

// TestCancelReadYourWrites: what a DELETE answered is what the same client
// reads next, before the projector has folded the cancel (here it never
// does): the job's document is cancelled, repeating the request starts a
// new job, and the cancelled job no longer counts against the client's
// limit. Before, each read came from the record (or the queued event) and
// showed the job still queued.
func TestCancelReadYourWrites(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true, NoProjector: true, MaxActive: 1})
	seedSmall(t, svc)
	u := svc.URL + "/v1/api/sensor-networks/array_of_things/download?features=temperature"
	_, first := do(t, "GET", u, nil)
	if resp, got := do(t, "DELETE", svc.URL+"/v1/api/jobs/"+first.Ticket, nil); resp.StatusCode != 200 || got.Status.Status != schema.StatusCancelled {
		t.Fatalf("cancel: got %d %q, want 200 cancelled", resp.StatusCode, got.Status.Status)
	}
	if resp, got := do(t, "GET", svc.URL+"/v1/api/jobs/"+first.Ticket, nil); resp.StatusCode != 200 || got.Status.Status != schema.StatusCancelled {
		t.Fatalf("the job after its cancel: got %d %q, want 200 cancelled", resp.StatusCode, got.Status.Status)
	}
	resp, second := do(t, "GET", u, nil)
	if resp.StatusCode != 200 || !schema.IsTicket(second.Ticket) || second.Ticket == first.Ticket {
		t.Fatalf("the request again after its cancel: got %d, ticket %q (the cancelled one %q), want a new job", resp.StatusCode, second.Ticket, first.Ticket)
	}
	if resp, _ := do(t, "DELETE", svc.URL+"/v1/api/jobs/"+second.Ticket, nil); resp.StatusCode != 200 {
		t.Fatalf("cancel the second: got %d", resp.StatusCode)
	}
	if resp, other := do(t, "GET", u+",magnetic_field", nil); resp.StatusCode != 200 || !schema.IsTicket(other.Ticket) {
		t.Fatalf("another request at MaxActive 1 after both were cancelled: got %d, want 200 and a job", resp.StatusCode)
	}
}

// TestResubmitAfterFailure: repeating a request whose job was cancelled (or
// failed) starts a new job, and repeating it again gets that new one;
// identical requests racing each other get one job.
func TestResubmitAfterFailure(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true, MaxActive: 1})
	seedSmall(t, svc)
	u := svc.URL + "/v1/api/sensor-networks/array_of_things/download?features=temperature"
	_, first := do(t, "GET", u, nil)
	if resp, _ := do(t, "DELETE", svc.URL+"/v1/api/jobs/"+first.Ticket, nil); resp.StatusCode != 200 {
		t.Fatalf("cancel: got %d", resp.StatusCode)
	}
	testenv.Eventually(t, 10*time.Second, "the job is cancelled", func() bool {
		_, j := do(t, "GET", svc.URL+"/v1/api/jobs/"+first.Ticket, nil)
		return j.Status.Status == schema.StatusCancelled
	})
	resp, second := do(t, "GET", u, nil)
	if resp.StatusCode != 200 || !schema.IsTicket(second.Ticket) || second.Ticket == first.Ticket {
		t.Fatalf("after a cancel: got %d, ticket %q (the cancelled one %q), want a new job", resp.StatusCode, second.Ticket, first.Ticket)
	}
	// Its limit reached (MaxActive 1), the client may still repeat it.
	resp, third := do(t, "GET", u, nil)
	if resp.StatusCode != 200 || third.Ticket != second.Ticket {
		t.Fatalf("repeat at the limit: got %d, ticket %q, want 200 and %q", resp.StatusCode, third.Ticket, second.Ticket)
	}

	unlimited := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	seedSmall(t, unlimited)
	racing := unlimited.URL + "/v1/api/sensor-networks/array_of_things/download?features=magnetic_field"
	tickets := make(chan string, 16)
	var wg sync.WaitGroup
	for range cap(tickets) {
		wg.Go(func() {
			resp, body := testenv.Do(t, "GET", racing)
			var j schema.Job
			if resp.StatusCode != 200 || json.Unmarshal(body, &j) != nil {
				t.Errorf("racing submission: got %d %s", resp.StatusCode, body)
			}
			tickets <- j.Ticket
		})
	}
	wg.Wait()
	close(tickets)
	seen := map[string]bool{}
	for tk := range tickets {
		seen[tk] = true
	}
	if len(seen) != 1 {
		t.Fatalf("%d identical requests at once got %d tickets %v, want one", cap(tickets), len(seen), seen)
	}
}
