// Package testenv starts the real things integration tests run against: a
// fresh database on the local ClickHouse and an embedded nats-server with
// JetStream in a temporary directory. Nothing here is a mock.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/natsauth"
)

// ClickHouseAddr is where tests find ClickHouse: EXPORTD_CLICKHOUSE_ADDR, or
// the address `scripts/clickhouse.sh start` serves.
func ClickHouseAddr() string {
	if a := os.Getenv("EXPORTD_CLICKHOUSE_ADDR"); a != "" {
		return a
	}
	return chstore.DefaultAddr
}

// RandomName returns prefix followed by 12 random hex digits.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// MustOpenStore opens a fresh, empty database on the local ClickHouse and
// drops it when the test ends.
func MustOpenStore(tb testing.TB) *chstore.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := chstore.Open(ctx, chstore.Config{Addr: ClickHouseAddr(), Database: RandomName("exportd_test_")})
	if err != nil {
		tb.Fatalf("open ClickHouse at %s (run `scripts/clickhouse.sh start`): %v", ClickHouseAddr(), err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.DropDatabase(ctx)
		_ = s.Close()
	})
	return s
}

// MustStartNATS starts an embedded nats-server with JetStream on a random
// loopback port, storing in a temporary directory, and shuts it down when
// the test ends.
func MustStartNATS(tb testing.TB) *server.Server {
	tb.Helper()
	return MustStartNATSAt(tb, tb.TempDir(), -1)
}

// MustStartNATSAt is MustStartNATS with a given store directory and port,
// for tests that restart a server on the same storage.
func MustStartNATSAt(tb testing.TB, dir string, port int) *server.Server {
	tb.Helper()
	return mustStart(tb, &server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true})
}

func mustStart(tb testing.TB, o *server.Options) *server.Server {
	tb.Helper()
	s, err := server.NewServer(o)
	if err != nil {
		tb.Fatalf("nats-server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats-server did not start")
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// MustStartAuthNATS is MustStartNATS requiring the identities exportd
// serve makes (natsauth), generated in a temporary directory, with one
// per API key.
func MustStartAuthNATS(tb testing.TB, apiKeys []string) (*server.Server, *natsauth.Auth) {
	tb.Helper()
	auth, err := natsauth.Load(filepath.Join(tb.TempDir(), "auth"), apiKeys)
	if err != nil {
		tb.Fatal(err)
	}
	o := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: tb.TempDir(), NoSigs: true, NoLog: true}
	auth.Configure(o)
	return mustStart(tb, o), auth
}

// MustConnect connects to s and closes the connection when the test ends.
func MustConnect(tb testing.TB, s *server.Server) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// Eventually polls cond until it holds or the deadline passes.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("not reached within %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// DropDatabase drops a database made by a test that opened it another way.
func DropDatabase(tb testing.TB, db string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := chstore.Open(ctx, chstore.Config{Addr: ClickHouseAddr(), Database: db})
	if err != nil {
		tb.Logf("drop %s: %v", db, err)
		return
	}
	_ = s.DropDatabase(ctx)
	_ = s.Close()
}
