package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
	"github.com/plenario-next/exportd/webhook"
)

func TestPolicyAllowed(t *testing.T) {
	for _, c := range []struct {
		addr  string
		allow []netip.Prefix
		want  bool
	}{
		{"93.184.215.14", nil, true},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", nil, true},
		{"127.0.0.1", nil, false},
		{"::1", nil, false},
		{"10.0.0.1", nil, false},
		{"172.16.5.4", nil, false},
		{"192.168.1.1", nil, false},
		{"100.64.0.1", nil, false},
		{"169.254.169.254", nil, false},
		{"fe80::1", nil, false},
		{"fd00::1", nil, false},
		{"0.0.0.0", nil, false},
		{"224.0.0.1", nil, false},
		{"::ffff:127.0.0.1", nil, false},
		{"127.0.0.1", loopback, true},
		{"::ffff:127.0.0.1", loopback, true},
		{"169.254.169.254", loopback, false},
	} {
		if got := (webhook.Policy{Allow: c.allow}).Allowed(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("%s allow %v: got %v, want %v", c.addr, c.allow, got, c.want)
		}
	}
}

// TestClientDialsOnlyAllowed: an endpoint registered while its host was
// public and that resolves to loopback now (DNS rebinding) is refused at
// the dial, not called; redirects are not followed.
func TestClientDialsOnlyAllowed(t *testing.T) {
	called := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	hook := schema.Webhook{ID: "1", URL: srv.URL, Secret: webhook.NewSecret()}
	err := webhook.NewClient(webhook.Policy{}, time.Second).Send(context.Background(), hook, "1", []byte(`{}`))
	if !errors.Is(err, webhook.ErrDisallowed) || called {
		t.Errorf("strict policy to loopback: got %v (called %v), want ErrDisallowed before any request", err, called)
	}
	err = webhook.NewClient(webhook.Policy{Allow: loopback}, time.Second).Send(context.Background(), hook, "1", []byte(`{}`))
	if err == nil || !called {
		t.Errorf("a redirect: got %v (called %v), want an error naming the 302", err, called)
	}
}

func TestSignVerify(t *testing.T) {
	secret, body, now := webhook.NewSecret(), []byte(`{"v":1}`), time.Unix(1764547200, 0)
	sig := webhook.Sign(secret, now, body)
	ts := "1764547200"
	if !webhook.Verify(secret, ts, sig, body, now, time.Minute) {
		t.Error("own signature does not verify")
	}
	if webhook.Verify(secret, ts, sig, []byte(`{"v":2}`), now, time.Minute) {
		t.Error("verifies another body")
	}
	if webhook.Verify(secret, ts, sig, body, now.Add(time.Hour), time.Minute) {
		t.Error("verifies an hour-old timestamp")
	}
	if !webhook.Verify(secret, ts, "v1=00, "+sig, body, now, time.Minute) {
		t.Error("a second signature in the header is not tried")
	}
}
