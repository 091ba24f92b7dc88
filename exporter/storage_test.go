package exporter_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestResultStorageLimit runs a service against a small result storage
// limit (EXPORTD_RESULT_MAX_BYTES, set the way exportd sets it: on the
// object stores' streams). A job bigger than the room left ends "error"
// saying the storage is full, and its parts are removed; with the storage
// short, submits are refused with 507, Retry-After and an error body,
// /readyz says what is wrong (200, degraded: every instance shares the
// storage, and downloads and cancels still work), and cancelling still works and frees the
// room, after which submits are accepted again.
func TestResultStorageLimit(t *testing.T) {
	svc, n := seeded(t, 200_000, testenv.ServiceOptions{PartRows: 20_000})
	const day = "start_datetime=2026-09-30T00:00:00&end_datetime=2026-10-01T00:00:00"
	small := svc.Submit(t, "array_of_things", day)
	if j := svc.Wait(t, small, time.Minute); j.Status.Status != schema.StatusSuccess {
		t.Fatalf("small job: got %q (%v), want success", j.Status.Status, j.Result)
	}
	used := storeBytes(t, svc)
	// Room for about one more small job, far less than the whole table.
	limit := 2 * used[events.ResultBucket]
	if _, err := events.Open(t.Context(), svc.NC, events.Config{ResultMaxBytes: limit}); err != nil {
		t.Fatal(err)
	}
	big := svc.Submit(t, "array_of_things", window)
	j := svc.Wait(t, big, time.Minute)
	reason, _ := j.Result.(map[string]any)["error"].(string)
	if j.Status.Status != schema.StatusError || !strings.HasPrefix(reason, "result storage is full") {
		t.Fatalf("job over the limit: got %q (%v), want error \"result storage is full…\"", j.Status.Status, j.Result)
	}
	// Its parts are removed, those an exporter was still writing too: with
	// none of its parts left queued or in an exporter's hands (a part is
	// acked only after its exporter removed what it wrote), the store is
	// back to the small job's size (and a few deletion markers). Without
	// the wait on the queue, the chunks of a part still being written, not
	// yet a listed object, were counted as the room in use, and the filler
	// below then overflowed the limit ("maximum bytes exceeded") or, once
	// they were removed, left the storage not short.
	testenv.Eventually(t, 30*time.Second, "the failed job's parts removed", func() bool {
		now := storeBytes(t, svc)
		return partsQueued(t, svc) == 0 && objectsOf(t, svc, big) == 0 &&
			now[events.ResultBucket] < used[events.ResultBucket]+64<<10
	})

	// Fill all but a few percent of the room: the storage is short.
	for bucket, n := range storeBytes(t, svc) {
		filler := int(float64(limit-n) * 0.95)
		if _, err := svc.ObjectStore(t, bucket).PutBytes(t.Context(), "filler", bytes.Repeat([]byte{'x'}, filler)); err != nil {
			t.Fatalf("filling %s with %d bytes: %v", bucket, filler, err)
		}
	}
	// Each try a new request (its own Idempotency-Key): a repeat of an
	// accepted one gets its ticket, short or not.
	tries := 0
	submit := func() (*http.Response, []byte) {
		tries++
		return testenv.Do(t, http.MethodGet, svc.URL+"/v1/api/sensor-networks/array_of_things/download?"+day+"&nodes="+n.Nodes[0].ID,
			"Idempotency-Key", fmt.Sprint("storage-", tries))
	}
	// Wait on /readyz, which reads the usage as a submit does (at most once
	// a second), not on submits: every submit accepted while the reading
	// was a second old was a job that took room (20 to 70 of them), and
	// after the cancel below they filled the room it freed, so that
	// submits were never accepted again.
	var code int
	var body []byte
	testenv.Eventually(t, 10*time.Second, "/readyz degraded", func() bool {
		code, body = testenv.Get(t, svc.URL+"/readyz")
		return strings.Contains(string(body), `"status":"degraded"`)
	})
	if code != http.StatusOK || !strings.Contains(string(body), "result storage is full") {
		t.Fatalf("/readyz while short: got %d %s, want 200, degraded, saying the result storage is full", code, body)
	}
	resp, body := submit()
	var e struct{ Error string }
	if resp.StatusCode != http.StatusInsufficientStorage || resp.Header.Get("Retry-After") == "" ||
		json.Unmarshal(body, &e) != nil || !strings.HasPrefix(e.Error, "result storage is full") {
		t.Fatalf("submit while short: got %d, Retry-After %q, %s; want 507 with Retry-After and the reason",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	// Withdrawing the small job's result works, and makes room.
	if code, j := del(t, svc.URL+"/v1/api/jobs/"+small); code != http.StatusOK {
		t.Fatalf("DELETE while short: got %d %+v, want 200", code, j)
	}
	testenv.Eventually(t, 30*time.Second, "/readyz ready again", func() bool {
		code, body = testenv.Get(t, svc.URL+"/readyz")
		return code == http.StatusOK && strings.Contains(string(body), `"status":"ready"`)
	})
	if resp, body := submit(); resp.StatusCode != http.StatusOK {
		t.Fatalf("submit with room again: got %d %s, want 200", resp.StatusCode, body)
	}
}

// storeBytes is what the result store holds, by bucket.
func storeBytes(t *testing.T, svc *testenv.Service) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, b := range []string{events.ResultBucket} {
		s, err := svc.JS.Stream(t.Context(), "OBJ_"+b)
		if err != nil {
			t.Fatal(err)
		}
		out[b] = int64(s.CachedInfo().State.Bytes)
	}
	return out
}

// partsQueued is how many parts are queued or being exported: the part
// stream is a work queue, a part leaves it when its exporter acks it.
func partsQueued(t *testing.T, svc *testenv.Service) uint64 {
	t.Helper()
	s, err := svc.JS.Stream(t.Context(), events.PartStream)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Msgs
}
