package events

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnectOptions say how Connect reaches NATS and proves who it is. The
// zero value connects anonymously, without TLS.
type ConnectOptions struct {
	Name string // the connection's name, shown by the server's monitoring

	// One way to authenticate: a user and password, a credentials file,
	// or an nkey seed file.
	User, Password string
	Creds          string
	NKeySeedFile   string

	// CA verifies the server; Cert and Key are the client's certificate.
	CA, Cert, Key string

	// InProcess, when set, is the embedded server (a *server.Server of
	// nats-server) to connect to in process, without a socket.
	InProcess interface {
		InProcessConn() (net.Conn, error)
	}

	ReconnectWait time.Duration // between reconnect attempts; nats.go's default if 0
	Logger        *slog.Logger  // connection errors, as warnings; none if nil
}

// options are the nats.go options of o. The connection reconnects without
// limit and retries a failed first connect: a NATS restart or election
// delays the service, it never stops it.
func (o ConnectOptions) options() ([]nats.Option, error) {
	opts := []nats.Option{nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true)}
	if o.Name != "" {
		opts = append(opts, nats.Name(o.Name))
	}
	switch {
	case o.User != "":
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	case o.Creds != "":
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.NKeySeedFile != "" {
		opt, err := nats.NkeyOptionFromSeed(o.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats-nkey: %w", err)
		}
		opts = append(opts, opt)
	}
	if o.CA != "" {
		opts = append(opts, nats.RootCAs(o.CA))
	}
	if o.Cert != "" {
		opts = append(opts, nats.ClientCert(o.Cert, o.Key))
	}
	if o.InProcess != nil {
		opts = append(opts, nats.InProcessServer(o.InProcess))
	}
	if o.ReconnectWait > 0 {
		opts = append(opts, nats.ReconnectWait(o.ReconnectWait))
	}
	if logger := o.Logger; logger != nil {
		// Refused credentials and denied subjects show here, not as a hang.
		opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { logger.Warn("nats", "err", err) }))
	}
	return opts, nil
}

// Connect connects to the NATS server (or cluster: comma-separated URLs)
// at url and opens the topology on the connection, as Open does. The Bus
// owns the connection: Close drains it.
func Connect(ctx context.Context, url string, o ConnectOptions, cfg Config) (*Bus, error) {
	opts, err := o.options()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats at %s: %w", url, err)
	}
	b, err := Open(ctx, nc, cfg)
	if err != nil {
		last := nc.LastError()
		nc.Close()
		if last != nil { // e.g. refused credentials, which say more
			return nil, fmt.Errorf("nats at %s: %w (jetstream topology: %v)", url, last, err)
		}
		return nil, fmt.Errorf("jetstream topology: %w", err)
	}
	b.ownConn = true
	return b, nil
}

// Close drains the connection Connect made, so that what was published
// reaches the server; a Bus made by Open leaves its connection to the
// caller.
func (b *Bus) Close() {
	if b.ownConn {
		_ = b.nc.Drain()
		b.nc.Close()
	}
}

// ConnectedServer names the NATS server the Bus is connected to now (of a
// cluster: which node), or "" while it is not connected.
func (b *Bus) ConnectedServer() string { return b.nc.ConnectedServerName() }
