package natsauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/natsauth"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

var dataEnd = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// startService runs a whole exportd with API keys on a server that
// requires the identities exportd serve makes, with a little data.
func startService(t *testing.T, keys ...string) *testenv.Service {
	t.Helper()
	store := testenv.MustOpenStore(t)
	if err := store.Seed(context.Background(), chstore.DemoNetwork("array_of_things"), 3_000, dataEnd); err != nil {
		t.Fatal(err)
	}
	return testenv.StartService(t, testenv.ServiceOptions{Store: store, APIKeys: keys, PartRows: 1_000})
}

// submit asks for an export as key and returns its ticket.
func submit(t *testing.T, svc *testenv.Service, key string) string {
	t.Helper()
	resp, body := testenv.Do(t, http.MethodGet, svc.URL+"/v1/api/sensor-networks/array_of_things/download?start_datetime="+
		dataEnd.Add(-7*24*time.Hour).Format(schema.DatetimeLayout)+"&end_datetime="+dataEnd.Format(schema.DatetimeLayout),
		"Authorization", "Bearer "+key)
	var j schema.Job
	if resp.StatusCode != 200 || json.Unmarshal(body, &j) != nil {
		t.Fatalf("submit: got %d %s, want 200 and a ticket", resp.StatusCode, body)
	}
	return j.Ticket
}

// wait polls ticket's document as key until the job is finished.
func wait(t *testing.T, svc *testenv.Service, key, ticket string) schema.Job {
	t.Helper()
	var j schema.Job
	testenv.Eventually(t, 30*time.Second, "job "+ticket+" finished", func() bool {
		resp, body := testenv.Do(t, http.MethodGet, svc.URL+"/v1/api/jobs/"+ticket, "Authorization", "Bearer "+key)
		if resp.StatusCode != 200 || json.Unmarshal(body, &j) != nil {
			t.Fatalf("poll: got %d %s", resp.StatusCode, body)
		}
		return schema.TerminalStatus(j.Status.Status)
	})
	return j
}

// watcher is a connection as one identity that keeps the events it gets
// and the asynchronous errors the server sends it (permission violations).
type watcher struct {
	nc     *nats.Conn
	mu     sync.Mutex
	msgs   []*nats.Msg
	errors []error
}

func connect(t *testing.T, svc *testenv.Service, id natsauth.Identity) *watcher {
	t.Helper()
	w := &watcher{}
	nc, err := nats.Connect(svc.NATS.ClientURL(), nats.UserInfo(id.User, id.Password), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		w.mu.Lock()
		w.errors = append(w.errors, err)
		w.mu.Unlock()
	}))
	if err != nil {
		t.Fatalf("connect as %s: %v", id.User, err)
	}
	t.Cleanup(nc.Close)
	w.nc = nc
	return w
}

func (w *watcher) subscribe(t *testing.T, subject string) {
	t.Helper()
	if _, err := w.nc.Subscribe(subject, func(m *nats.Msg) {
		w.mu.Lock()
		w.msgs = append(w.msgs, m)
		w.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// has reports whether w got the event of ticket of kind k.
func (w *watcher) has(ticket string, k schema.EventKind) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.msgs {
		if strings.HasSuffix(m.Subject, "."+ticket+"."+string(k)) {
			return true
		}
	}
	return false
}

// violation waits for the server to report a permissions violation naming
// what.
func (w *watcher) violation(t *testing.T, what string) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, "a permissions violation for "+what, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, err := range w.errors {
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), what) {
				return true
			}
		}
		return false
	})
}

// TestAnonymousRefused: a client without credentials, or with a wrong
// password, does not get in.
func TestAnonymousRefused(t *testing.T) {
	svc := startService(t)
	for name, opts := range map[string][]nats.Option{
		"anonymous":      nil,
		"wrong password": {nats.UserInfo(natsauth.SubscriberUser, "guess")},
		"no password":    {nats.UserInfo(natsauth.ServiceUser, "")},
	} {
		nc, err := nats.Connect(svc.NATS.ClientURL(), opts...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: got a connection, want it refused", name)
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: got %v, want %v", name, err, nats.ErrAuthorization)
		}
	}
}

// TestSubscriberReadsOnly: the subscriber sees every event of a job, but a
// forged event, reading the job bucket or the result store and deleting a
// stream are all refused, and the job stays as the service left it.
func TestSubscriberReadsOnly(t *testing.T) {
	svc := startService(t, "alpha")
	w := connect(t, svc, svc.Auth.Subscriber)
	w.subscribe(t, schema.EventSubjectAll)
	ticket := submit(t, svc, "alpha")
	if j := wait(t, svc, "alpha", ticket); j.Status.Status != schema.StatusSuccess {
		t.Fatalf("job: got %s, want success", j.Status.Status)
	}
	testenv.Eventually(t, 5*time.Second, "the subscriber got queued, started and succeeded", func() bool {
		return w.has(ticket, schema.EventQueued) && w.has(ticket, schema.EventStarted) && w.has(ticket, schema.EventSucceeded)
	})

	w.subscribe(t, schema.OwnerSubjectAll) // the keys' own subjects are theirs
	w.violation(t, schema.OwnerSubjectAll)

	forged := schema.EventSubject(ticket, schema.EventCancelled)
	_ = w.nc.Publish(forged, []byte(`{"v":1,"kind":"cancelled","ticket":"`+ticket+`"}`))
	w.violation(t, forged)

	// Refused requests get no answer: each waits out a short timeout, and
	// the server says which subject it refused.
	js, err := jetstream.New(w.nc)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what, subject string, call func(context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := call(ctx); err == nil {
			t.Errorf("subscriber: %s succeeded, want refused", what)
		}
		w.violation(t, subject)
	}
	refused("open the job bucket", "$JS.API.STREAM.INFO.KV_"+events.JobBucket, func(ctx context.Context) error {
		_, err := js.KeyValue(ctx, events.JobBucket)
		return err
	})
	refused("open the result store", "$JS.API.STREAM.INFO.OBJ_"+events.ResultBucket, func(ctx context.Context) error {
		_, err := js.ObjectStore(ctx, events.ResultBucket)
		return err
	})
	refused("delete the result stream", "$JS.API.STREAM.DELETE.OBJ_"+events.ResultBucket, func(ctx context.Context) error {
		return js.DeleteStream(ctx, "OBJ_"+events.ResultBucket)
	})
	refused("read a job document directly", "$JS.API.DIRECT.GET.KV_"+events.JobBucket, func(ctx context.Context) error {
		_, err := w.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET.KV_"+events.JobBucket+".$KV."+events.JobBucket+"."+ticket, nil)
		return err
	})
	if _, err := w.nc.SubscribeSync("$KV." + events.JobBucket + ".>"); err == nil {
		_ = w.nc.Flush()
	}
	w.violation(t, "$KV."+events.JobBucket)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := svc.JS.Stream(ctx, "OBJ_"+events.ResultBucket); err != nil {
		t.Fatalf("result stream after the subscriber's attempts: %v, want it still there", err)
	}
	es, err := svc.JS.Stream(ctx, events.EventStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := es.GetLastMsgForSubject(ctx, forged); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("forged event: got %v, want none stored", err)
	}
	if j := wait(t, svc, "alpha", ticket); j.Status.Status != schema.StatusSuccess {
		t.Fatalf("job after the forgery: got %s, want success", j.Status.Status)
	}
}

// TestKeySubscribersIsolated: each API key's identity receives the events
// of its own key's jobs and none of another key's, and may not subscribe
// to every event or to another owner's.
func TestKeySubscribersIsolated(t *testing.T) {
	svc := startService(t, "alpha", "beta")
	idA, okA := svc.Auth.Key("alpha")
	idB, okB := svc.Auth.Key("beta")
	if !okA || !okB {
		t.Fatalf("identities of the keys: got %v %v, want both", okA, okB)
	}
	a, b := connect(t, svc, idA), connect(t, svc, idB)
	a.subscribe(t, schema.OwnerEvents(schema.KeyOwner("alpha")))
	b.subscribe(t, schema.OwnerEvents(schema.KeyOwner("beta")))

	ticketB := submit(t, svc, "beta")
	wait(t, svc, "beta", ticketB)
	testenv.Eventually(t, 5*time.Second, "beta's identity got its job's events", func() bool {
		return b.has(ticketB, schema.EventQueued) && b.has(ticketB, schema.EventSucceeded)
	})
	ticketA := submit(t, svc, "alpha")
	wait(t, svc, "alpha", ticketA)
	testenv.Eventually(t, 5*time.Second, "alpha's identity got its job's events", func() bool {
		return a.has(ticketA, schema.EventQueued) && a.has(ticketA, schema.EventStarted) && a.has(ticketA, schema.EventSucceeded)
	})
	a.mu.Lock()
	for _, m := range a.msgs {
		if !strings.Contains(m.Subject, ticketA) {
			t.Errorf("alpha's identity got %s, want only its own job's events", m.Subject)
		}
		var e schema.Event
		if err := json.Unmarshal(m.Data, &e); err != nil || e.Ticket != ticketA || e.Seq == 0 {
			t.Errorf("alpha's event %s: got %s (%v), want its ticket and a seq", m.Subject, m.Data, err)
		}
	}
	a.mu.Unlock()
	if b.has(ticketA, schema.EventQueued) {
		t.Error("beta's identity got alpha's job")
	}

	// Nor may it publish, even on its own subjects: a forged success
	// would reach its own watchers.
	forged := schema.OwnerSubject(schema.KeyOwner("alpha"), ticketA, schema.EventSucceeded)
	_ = a.nc.Publish(forged, []byte(`{}`))
	a.violation(t, forged)
	a.subscribe(t, schema.EventSubjectAll)
	a.violation(t, schema.EventSubjectAll)
	a.subscribe(t, schema.OwnerEvents(schema.KeyOwner("beta")))
	a.violation(t, schema.OwnerEvents(schema.KeyOwner("beta")))
}
