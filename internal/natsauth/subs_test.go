package natsauth_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/internal/natsauth"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestSubscriptionsBounded: a connection of a subscriber identity (the
// subscriber, an API key's) holds at most SubscriberMaxSubs subscriptions:
// past them the server says so and closes it, where it held 20 000 and
// more. The service's own identity, which the gateway's and exporters'
// connections use, is not bound by it, and the subscribers still get the
// events the service publishes.
func TestSubscriptionsBounded(t *testing.T) {
	ns, auth := testenv.MustStartAuthNATS(t, []string{"alpha"})
	dial := func(id natsauth.Identity, errs chan error) *nats.Conn {
		nc, err := nats.Connect(ns.ClientURL(), nats.UserInfo(id.User, id.Password), nats.NoReconnect(),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				select {
				case errs <- err:
				default:
				}
			}))
		if err != nil {
			t.Fatalf("connect as %s: %v", id.User, err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	key, _ := auth.Key("alpha")
	owner := schema.KeyOwner("alpha")
	for _, c := range []struct {
		id      natsauth.Identity
		subject func(i int) string
	}{
		{auth.Subscriber, func(i int) string { return "exports.events." + strconv.Itoa(i) + ".>" }},
		{key, func(i int) string { return schema.OwnerSubjectPrefix + owner + "." + strconv.Itoa(i) + ".>" }},
	} {
		errs := make(chan error, 1)
		nc := dial(c.id, errs)
		for i := 0; i <= natsauth.SubscriberMaxSubs && nc.IsConnected(); i++ {
			_, _ = nc.SubscribeSync(c.subject(i))
		}
		_ = nc.Flush()
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrMaxSubscriptionsExceeded) {
				t.Errorf("%s: got %v, want the server's maximum subscriptions exceeded", c.id.User, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: %d subscriptions on one connection taken, want at most %d", c.id.User, natsauth.SubscriberMaxSubs+1, natsauth.SubscriberMaxSubs)
		}
	}

	svc := dial(auth.Service, make(chan error, 1))
	for i := range 2 * natsauth.SubscriberMaxSubs {
		if _, err := svc.SubscribeSync("exports.internal." + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Flush(); err != nil || !svc.IsConnected() || svc.NumSubscriptions() != 2*natsauth.SubscriberMaxSubs {
		t.Fatalf("the service with %d subscriptions: %v, connected %v", 2*natsauth.SubscriberMaxSubs, err, svc.IsConnected())
	}

	sub := dial(auth.Subscriber, make(chan error, 1))
	ev, _ := sub.SubscribeSync(schema.EventSubjectAll)
	own := dial(key, make(chan error, 1))
	ov, _ := own.SubscribeSync(schema.OwnerEvents(owner))
	_ = sub.Flush()
	_ = own.Flush()
	_ = svc.Publish("exports.events.T1.queued", []byte("{}"))
	_ = svc.Publish(schema.OwnerSubjectPrefix+owner+".T1.queued", []byte("{}"))
	if _, err := ev.NextMsg(10 * time.Second); err != nil {
		t.Errorf("the subscriber: no event the service published: %v", err)
	}
	if _, err := ov.NextMsg(10 * time.Second); err != nil {
		t.Errorf("alpha's identity: no event of its own the service published: %v", err)
	}
}

// TestReaderAccountKeepsStreams: a data directory whose JetStream data a
// server without the readers' account wrote (every user in the global
// account, as before SubscriberMaxSubs) still has its streams under
// Configure's accounts: the service stays in the global account.
func TestReaderAccountKeepsStreams(t *testing.T) {
	dir := t.TempDir()
	auth, err := natsauth.Load(filepath.Join(dir, "auth"), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := func(o *server.Options) (*server.Server, jetstream.JetStream) {
		o.Host, o.Port, o.JetStream, o.StoreDir, o.NoSigs, o.NoLog = "127.0.0.1", -1, true, filepath.Join(dir, "js"), true, true
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server did not start")
		}
		nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(auth.Service.User, auth.Service.Password))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		return s, js
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old, js := start(&server.Options{Users: []*server.User{{Username: auth.Service.User, Password: auth.Service.Password}}})
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEPT", Subjects: []string{"kept.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "kept.1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	old.Shutdown()
	old.WaitForShutdown()
	o := &server.Options{}
	auth.Configure(o)
	s, js := start(o)
	defer s.Shutdown()
	st, err := js.Stream(ctx, "KEPT")
	if err != nil {
		t.Fatalf("the stream written before: %v, want it there", err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Fatalf("the stream written before: %+v, %v; want its one message", info, err)
	}
}
