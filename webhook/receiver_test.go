package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// delivery is one request a receiver got.
type delivery struct {
	id, ts, sig string
	body        []byte
	status      int // what the receiver answered
	event       schema.Event
}

// receiver is a webhook endpoint on loopback that answers 500 to its
// first fail requests (or while failing is set), 204 after.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	fail     int
	failing  bool
	failKind schema.EventKind // always refused
	got      []delivery
}

func startReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{fail: fail}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivery{id: req.Header.Get("Webhook-Id"), ts: req.Header.Get("Webhook-Timestamp"),
			sig: req.Header.Get("Webhook-Signature"), body: body, status: http.StatusNoContent}
		if req.Header.Get("Idempotency-Key") != d.id {
			d.id = "Idempotency-Key differs from Webhook-Id"
		}
		_ = json.Unmarshal(body, &d.event)
		r.mu.Lock()
		if r.fail > 0 || r.failing || d.event.Kind == r.failKind {
			r.fail--
			d.status = http.StatusInternalServerError
		}
		r.got = append(r.got, d)
		r.mu.Unlock()
		w.WriteHeader(d.status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) setFailing(v bool) {
	r.mu.Lock()
	r.failing = v
	r.mu.Unlock()
}

// deliveries returns what the receiver got; acked only those it answered 2xx.
func (r *receiver) deliveries(acked bool) []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []delivery
	for _, d := range r.got {
		if !acked || d.status < 300 {
			out = append(out, d)
		}
	}
	return out
}

// waitKind polls until the receiver acknowledged an event of kind for ticket.
func (r *receiver) waitKind(t *testing.T, ticket string, kind schema.EventKind) []delivery {
	t.Helper()
	var got []delivery
	testenv.Eventually(t, 60*time.Second, "a "+string(kind)+" event of "+ticket+" delivered", func() bool {
		got = r.deliveries(true)
		for _, d := range got {
			if d.event.Ticket == ticket && d.event.Kind == kind {
				return true
			}
		}
		return false
	})
	return got
}

// verify is the README's verification, as a receiver writes it.
func verify(secret string, r delivery) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(r.ts + "." + string(r.body)))
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	ts, err := strconv.ParseInt(r.ts, 10, 64)
	fresh := err == nil && time.Since(time.Unix(ts, 0)).Abs() < 5*time.Minute
	return fresh && hmac.Equal([]byte(r.sig), []byte(want))
}

// registered is the answer to a registration.
type registered struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Secret string   `json:"secret"`
}

// call sends method path with a form body (if any) and key (if any).
func call(t *testing.T, method, u, key string, form url.Values) (int, []byte) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := testenv.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func register(t *testing.T, svc *testenv.Service, key, target, kinds string) registered {
	t.Helper()
	code, body := call(t, "POST", svc.URL+"/v1/api/webhooks", key, url.Values{"url": {target}, "events": {kinds}})
	if code != http.StatusCreated {
		t.Fatalf("register %s: got %d %s, want 201", target, code, body)
	}
	var r registered
	if err := json.Unmarshal(body, &r); err != nil || r.ID == "" || !strings.HasPrefix(r.Secret, "whsec_") {
		t.Fatalf("register: bad answer %s (%v)", body, err)
	}
	return r
}

// state is GET /v1/api/webhooks/{id}.
type state struct {
	schema.WebhookState
	Pending uint64 `json:"pending"`
}

func getState(t *testing.T, svc *testenv.Service, key, id string) state {
	t.Helper()
	code, body := call(t, "GET", svc.URL+"/v1/api/webhooks/"+id, key, nil)
	if code != 200 {
		t.Fatalf("webhook state: got %d %s", code, body)
	}
	var s state
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(body, []byte("whsec_")) {
		t.Errorf("the state shows the secret: %s", body)
	}
	return s
}

var seedEnd = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

const window = "start_datetime=2026-09-30T00:00:00&end_datetime=2026-10-01T00:00:00"

func seed(t *testing.T, svc *testenv.Service) {
	t.Helper()
	if err := svc.Store.Seed(context.Background(), chstore.DemoNetwork("array_of_things"), 5000, seedEnd); err != nil {
		t.Fatal(err)
	}
}

// jobEvents is the kinds of ticket's deliveries, in order.
func jobEvents(ds []delivery, ticket string) (kinds []schema.EventKind, seqs []uint64) {
	for _, d := range ds {
		if d.event.Ticket == ticket {
			kinds = append(kinds, d.event.Kind)
			seqs = append(seqs, d.event.Seq)
		}
	}
	return kinds, seqs
}

// doBody sends method u with a body of content type ct.
func doBody(t *testing.T, method, u, ct, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	resp, err := testenv.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
