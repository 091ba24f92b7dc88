package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/plenario-next/exportd/internal/testenv"
)

// startExternal starts a NATS server configured by configure, and returns
// the environment of an exportd exporter on it with a metrics listener.
func startExternal(t *testing.T, configure func(*server.Options)) map[string]string {
	t.Helper()
	o := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true}
	configure(o)
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	db := testenv.RandomName("exportd_test_")
	t.Cleanup(func() { testenv.DropDatabase(t, db) })
	return map[string]string{"EXPORTD_NATS_URL": s.ClientURL(), "EXPORTD_METRICS_ADDR": "127.0.0.1:0",
		"EXPORTD_CLICKHOUSE_ADDR": testenv.ClickHouseAddr(), "EXPORTD_CLICKHOUSE_DB": db, "EXPORTD_LOG_FORMAT": "json"}
}

// wantReady runs an exporter with env and checks that it sets up the
// topology and says ready.
func wantReady(t *testing.T, env map[string]string) {
	t.Helper()
	u := startRole(t, "exporter", env)
	if code, body := testenv.Get(t, strings.TrimSuffix(u, "/metrics")+"/readyz"); code != 200 {
		t.Fatalf("exporter readyz: got %d %s, want 200", code, body)
	}
}

func writeSecret(t *testing.T, name string, data []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestExternalNATSWithNKey: EXPORTD_NATS_NKEY logs in with a seed file to
// a server that knows only the nkey's public key.
func TestExternalNATSWithNKey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	env := startExternal(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })
	env["EXPORTD_NATS_NKEY"] = writeSecret(t, "exportd.nk", seed)
	wantReady(t, env)
}

// TestExternalNATSWithCreds: EXPORTD_NATS_CREDS logs in with a user JWT
// and seed to a server in operator mode, whose account has JetStream.
func TestExternalNATSWithCreds(t *testing.T) {
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	if _, err := oc.Encode(okp); err != nil {
		t.Fatal(err)
	}
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	ac := jwt.NewAccountClaims(apub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{DiskStorage: -1, MemoryStorage: -1, Streams: -1, Consumer: -1}
	ajwt, err := ac.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	ujwt, err := jwt.NewUserClaims(upub).Encode(akp)
	if err != nil {
		t.Fatal(err)
	}
	useed, _ := ukp.Seed()
	creds, err := jwt.FormatUserConfig(ujwt, useed)
	if err != nil {
		t.Fatal(err)
	}
	skp, _ := nkeys.CreateAccount() // operator mode with JetStream wants a system account
	spub, _ := skp.PublicKey()
	sjwt, err := jwt.NewAccountClaims(spub).Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	if resolver.Store(apub, ajwt) != nil || resolver.Store(spub, sjwt) != nil {
		t.Fatal("account resolver refused an account")
	}
	env := startExternal(t, func(o *server.Options) {
		o.TrustedOperators, o.AccountResolver, o.SystemAccount = []*jwt.OperatorClaims{oc}, resolver, spub
	})
	env["EXPORTD_NATS_CREDS"] = writeSecret(t, "exportd.creds", creds)
	wantReady(t, env)
}
