package main

import (
	"errors"

	"github.com/plenario-next/exportd/internal/app"
)

// natsSettings are app.NATSSettings, parsed here.
type natsSettings = app.NATSSettings

// parseNATSSettings checks that at most one way to authenticate is given,
// that files come in pairs, and that each setting applies: client
// credentials to an external server, listener TLS to the embedded one,
// whose identities exportd generates itself.
func parseNATSSettings(vals map[string]*string, embedded bool) (natsSettings, error) {
	n := natsSettings{User: *vals["nats-user"], Password: *vals["nats-password"], NKey: *vals["nats-nkey"],
		Creds: *vals["nats-creds"], CA: *vals["nats-ca"], Cert: *vals["nats-cert"], Key: *vals["nats-key"],
		ListenCert: *vals["nats-listen-cert"], ListenKey: *vals["nats-listen-key"]}
	ways := 0
	for _, v := range []string{n.User, n.NKey, n.Creds} {
		if v != "" {
			ways++
		}
	}
	switch {
	case ways > 1:
		return n, errors.New("nats: give one of nats-user (with nats-password), nats-nkey or nats-creds")
	case n.Password != "" && n.User == "":
		return n, errors.New("nats: nats-password without nats-user")
	case (n.Cert == "") != (n.Key == ""):
		return n, errors.New("nats: nats-cert and nats-key go together")
	case (n.ListenCert == "") != (n.ListenKey == ""):
		return n, errors.New("nats: nats-listen-cert and nats-listen-key go together")
	case embedded && (ways > 0 || n.CA != "" || n.Cert != ""):
		return n, errors.New("nats: nats-user, nats-nkey, nats-creds, nats-ca and nats-cert are for an external server (nats): " +
			"the embedded server makes its own identities under <data>/nats/auth")
	case !embedded && n.ListenCert != "":
		return n, errors.New("nats: nats-listen-cert is for the embedded server (serve without nats)")
	}
	return n, nil
}
