package app_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/app"
	"github.com/plenario-next/exportd/internal/testenv"
)

// TestOpenFailsOnATakenPort: the API's port is taken, so Open fails at
// once with the listener's error and closes what it had opened: a second
// Open on the same data directory (the embedded NATS storage) starts, and
// its API answers.
func TestOpenFailsOnATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	c := app.Config{Roles: app.RoleAll, HTTPAddr: taken.Addr().String(), NATSListen: "127.0.0.1:0",
		DataDir: t.TempDir(), Store: testenv.MustOpenStore(t), Logger: testenv.TestLogger()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if a, err := app.Open(ctx, c); err == nil || !strings.Contains(err.Error(), "http listen") {
		if a != nil {
			_ = a.Close(ctx)
		}
		t.Fatalf("open on a taken port: got %v, want the listen error", err)
	}

	c.HTTPAddr = "127.0.0.1:0"
	a, err := app.Open(ctx, c)
	if err != nil {
		t.Fatalf("open again on the same data directory: %v", err)
	}
	defer a.Close(ctx)
	if code, body := testenv.Get(t, "http://"+a.HTTPAddr.String()+"/healthz"); code != 200 {
		t.Fatalf("/healthz: got %d %s, want 200", code, body)
	}
}

// TestExporterRoleHasNoAPI: exportd exporter's roles listen on nothing and
// build no gateway, yet deliver webhooks.
func TestExporterRoleHasNoAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Open(ctx, app.Config{Roles: app.RoleProjector | app.RoleExporter, NATSListen: "127.0.0.1:0",
		DataDir: t.TempDir(), Store: testenv.MustOpenStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if a.HTTPAddr != nil || a.Gateway != nil || a.Deliverer == nil {
		t.Fatalf("got listener %v, gateway %v, deliverer %v; want none, none, one", a.HTTPAddr, a.Gateway, a.Deliverer)
	}
	if got := (app.RoleProjector | app.RoleExporter).String(); got != "exporter" {
		t.Fatalf("roles: got %q, want exporter", got)
	}
}
