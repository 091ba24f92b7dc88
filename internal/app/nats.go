package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/natsauth"
	"github.com/plenario-next/exportd/schema"
)

// NATSSettings are the credentials and TLS files of the NATS connection
// (an external server) and the TLS files of the embedded server.
type NATSSettings struct {
	User, Password, NKey, Creds string
	CA, Cert, Key               string
	ListenCert, ListenKey       string
}

// connectOptions are how the service connects to an external server:
// authenticating to it and verifying it.
func (n NATSSettings) connectOptions() events.ConnectOptions {
	return events.ConnectOptions{User: n.User, Password: n.Password, Creds: n.Creds, NKeySeedFile: n.NKey,
		CA: n.CA, Cert: n.Cert, Key: n.Key}
}

// startNATS starts the embedded JetStream server on c.NATSListen, storing
// under the data directory with a JetStream limit of maxStore (0: none) and taking only the identities of
// <data>/nats/auth (generated on first start), and returns them.
func startNATS(c Config, maxStore int64, logger *slog.Logger) (*server.Server, *natsauth.Auth, error) {
	host, portS, err := net.SplitHostPort(c.NATSListen)
	if err != nil {
		return nil, nil, fmt.Errorf("nats-listen: %w", err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return nil, nil, fmt.Errorf("nats-listen port: %w", err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	dir := filepath.Join(c.DataDir, "nats")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	auth, err := natsauth.Load(filepath.Join(dir, "auth"), c.APIKeys)
	if err != nil {
		return nil, nil, err
	}
	opts := &server.Options{ServerName: "exportd", Host: host, Port: port, JetStream: true,
		StoreDir: dir, NoSigs: true, NoLog: true, MaxPayload: 8 << 20, JetStreamMaxStore: maxStore}
	auth.Configure(opts)
	if c.NATS.ListenCert != "" {
		if opts.TLSConfig, err = server.GenTLSConfig(&server.TLSConfigOpts{CertFile: c.NATS.ListenCert, KeyFile: c.NATS.ListenKey}); err != nil {
			return nil, nil, fmt.Errorf("nats-listen-cert: %w", err)
		}
		opts.TLS, opts.TLSTimeout = true, 2
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded nats: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, nil, errors.New("embedded nats did not start (is the port taken?)")
	}
	logger.Info("embedded NATS JetStream", "url", s.ClientURL(), "store", dir, "auth", auth.Dir, "users", strings.Join(auth.Users(), ","))
	logWatchCommands(s.ClientURL(), c.NATS.ListenCert != "", auth, logger)
	return s, auth, nil
}

// logWatchCommands says how to watch events with the nats CLI as the
// subscriber identities, the passwords left in their files.
func logWatchCommands(url string, tls bool, auth *natsauth.Auth, logger *slog.Logger) {
	server := "--server " + url
	if tls {
		server += " --tlsca <CA of nats-listen-cert>"
	}
	cmd := func(id natsauth.Identity, subject string) string {
		// No double quotes: a text log would escape them. The passwords
		// are base64url, safe unquoted.
		return fmt.Sprintf(`nats %s --user %s --password $(cat %s) sub '%s'`, server, id.User, id.File, subject)
	}
	logger.Info("watch every job's events (read only): "+cmd(auth.Subscriber, schema.EventSubjectAll), "user", auth.Subscriber.User)
	for _, id := range auth.Keys {
		logger.Info("watch one API key's jobs (read only): "+cmd(id, id.Subscribe[0]), "user", id.User)
	}
}
