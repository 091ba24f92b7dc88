package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// readPassword reads one of serve's generated password files, which must
// be private to its owner.
func readPassword(t *testing.T, dataDir, user string) string {
	t.Helper()
	f := filepath.Join(dataDir, "nats", "auth", user+".password")
	st, err := os.Stat(f)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: got %v (%v), want a 0600 file", f, st, err)
	}
	b, _ := os.ReadFile(f)
	return strings.TrimSpace(string(b))
}

// TestServeNATSAuth: exportd serve's embedded server refuses an anonymous
// client, takes the subscriber identity it generated (which then sees a
// job's events), and keeps the same passwords across a restart.
func TestServeNATSAuth(t *testing.T) {
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	env := map[string]string{"EXPORTD_DATA_DIR": dir, "EXPORTD_NATS_LISTEN": listen, "EXPORTD_API_KEYS": "alpha"}
	api, stop := startServe(t, env)
	if _, err := nats.Connect("nats://" + listen); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous client: got %v, want %v", err, nats.ErrAuthorization)
	}
	pw := readPassword(t, dir, "subscriber")
	readPassword(t, dir, "exportd")
	readPassword(t, dir, "key-"+schema.KeyOwner("alpha"))
	nc, err := nats.Connect("nats://"+listen, nats.UserInfo("subscriber", pw))
	if err != nil {
		t.Fatalf("subscriber: %v", err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync(schema.EventSubjectAll)
	if err != nil || nc.Flush() != nil {
		t.Fatal(err)
	}
	resp, body := testenv.Do(t, "GET", api+"/v1/api/sensor-networks/array_of_things/download?features=temperature", "Authorization", "Bearer alpha")
	if resp.StatusCode != 200 {
		t.Fatalf("submit: got %d %s", resp.StatusCode, body)
	}
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil || !strings.HasSuffix(m.Subject, ".queued") {
		t.Fatalf("subscriber: got %v (%v), want the queued event", m, err)
	}
	nc.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	startServe(t, env)
	if again := readPassword(t, dir, "subscriber"); again != pw {
		t.Fatal("after a restart: got a new subscriber password, want the stored one")
	}
	nc, err = nats.Connect("nats://"+listen, nats.UserInfo("subscriber", pw))
	if err != nil {
		t.Fatalf("subscriber after a restart: %v", err)
	}
	nc.Close()
}

// TestExternalNATSWithTLS: `exportd gateway` logs in to another process's
// server (here serve's embedded one, listening with TLS) with
// EXPORTD_NATS_USER and EXPORTD_NATS_PASSWORD, verifying it with
// EXPORTD_NATS_CA; a wrong password makes it stop with an error.
func TestExternalNATSWithTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	startServe(t, map[string]string{"EXPORTD_DATA_DIR": dir, "EXPORTD_NATS_LISTEN": listen,
		"EXPORTD_NATS_LISTEN_CERT": cert, "EXPORTD_NATS_LISTEN_KEY": key})
	if _, err := nats.Connect("nats://"+listen, nats.UserInfo("exportd", readPassword(t, dir, "exportd"))); err == nil {
		t.Fatal("a client without TLS got in, want refused")
	}
	env := map[string]string{"EXPORTD_NATS_URL": "tls://" + listen, "EXPORTD_NATS_CA": cert,
		"EXPORTD_NATS_USER": "exportd", "EXPORTD_NATS_PASSWORD": readPassword(t, dir, "exportd"),
		"EXPORTD_HTTP_ADDR": "127.0.0.1:0", "EXPORTD_CLICKHOUSE_ADDR": testenv.ClickHouseAddr(),
		"EXPORTD_CLICKHOUSE_DB": testenv.RandomName("exportd_test_"), "EXPORTD_LOG_FORMAT": "json"}
	t.Cleanup(func() { testenv.DropDatabase(t, env["EXPORTD_CLICKHOUSE_DB"]) })
	api := startRole(t, "gateway", env)
	if code, body := testenv.Get(t, api+"/readyz"); code != 200 {
		t.Fatalf("gateway readyz: got %d %s, want 200", code, body)
	}

	env["EXPORTD_NATS_PASSWORD"] = "wrong"
	done := make(chan error, 1)
	go func() {
		done <- run(t.Context(), []string{"gateway"}, func(k string) string { return env[k] }, &testenv.LockedBuffer{})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
			t.Fatalf("gateway with a wrong password: got %v, want NATS's authorization violation", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gateway with a wrong password still running after 30s, want it stopped with an error")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "exportd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestNATSCLI: the command serve prints works with the real nats CLI
// (natscli), and the same command without the password is refused. It
// runs when a nats binary is on PATH or in EXPORTD_NATS_CLI (`go install
// github.com/nats-io/natscli/nats@v0.5.0`).
func TestNATSCLI(t *testing.T) {
	cli := os.Getenv("EXPORTD_NATS_CLI")
	if cli == "" {
		var err error
		if cli, err = exec.LookPath("nats"); err != nil {
			t.Skip("no nats CLI: go install github.com/nats-io/natscli/nats@v0.5.0, or set EXPORTD_NATS_CLI")
		}
	}
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	api, _ := startServe(t, map[string]string{"EXPORTD_DATA_DIR": dir, "EXPORTD_NATS_LISTEN": listen})
	server := []string{"--server", "nats://" + listen}
	anon, err := exec.Command(cli, append(server, "--timeout", "5s", "sub", schema.EventSubjectAll, "--count", "1")...).CombinedOutput()
	if err == nil || !strings.Contains(string(anon), "Authorization Violation") {
		t.Fatalf("nats sub without credentials: got %v %s, want an authorization violation", err, anon)
	}
	args := append(server, "--user", "subscriber", "--password", readPassword(t, dir, "subscriber"),
		"sub", schema.EventSubjectAll, "--count", "1")
	cmd := exec.Command(cli, args...)
	out := &testenv.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	testenv.Eventually(t, 10*time.Second, "nats sub subscribed", func() bool { return strings.Contains(out.String(), "Subscribing") })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Submit until the CLI has its event: its subscription may reach the
	// server a moment after it says "Subscribing".
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, body := testenv.Get(t, api+"/v1/api/sensor-networks/array_of_things/download?features=temperature&nodes=001e0610b000"); code != 200 {
			t.Fatalf("submit: got %d %s", code, body)
		}
		select {
		case err := <-done:
			if err != nil || !strings.Contains(out.String(), "Received on \"exports.events.") {
				t.Fatalf("nats sub as subscriber: got %v %s, want one event", err, out)
			}
			return
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats sub as subscriber got no event within 20s: %s", out)
		}
	}
}

// TestNATSSettingsRefused: settings that cannot all apply are an error at
// start, not a surprise later.
func TestNATSSettingsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--nats-user", "exportd"}, // the embedded server makes its own identities
		{"serve", "--nats-ca", "ca.pem"},
		{"gateway", "--nats-user", "a", "--nats-creds", "x.creds"},
		{"gateway", "--nats-password", "secret"},
		{"gateway", "--nats-cert", "c.pem"},
		{"exporter", "--nats-listen-cert", "c.pem", "--nats-listen-key", "k.pem"},
		{"serve", "--nats-listen-cert", "c.pem"},
	} {
		if _, err := parseConfig(args[0], args[1:], func(string) string { return "" }, &testenv.LockedBuffer{}); err == nil {
			t.Errorf("%v: got nil, want an error", args)
		}
	}
	if _, err := parseConfig("exporter", []string{"--nats", "tls://n:4222", "--nats-creds", "x.creds", "--nats-ca", "ca.pem"},
		func(string) string { return "" }, &testenv.LockedBuffer{}); err != nil {
		t.Errorf("creds and a CA for an external server: got %v, want nil", err)
	}
}
