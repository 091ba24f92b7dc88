// Package natsauth holds the identities of exportd's embedded NATS server
// and what each may do. On first start it generates them into a directory
// (one password file each, 0600 in a 0700 directory) and reuses them
// afterwards, so that the server never takes anonymous clients:
//
//   - exportd, the service itself: everything (publishing events, the job
//     bucket, the result stores, the JetStream API).
//   - subscriber: subscribes to exports.events.> and nothing else; it may
//     publish nothing, so it cannot forge an event or touch a stream.
//   - key-<owner>, one per API key: subscribes to exports.owners.<owner>.>,
//     where the projector forwards the events of that key's jobs only.
//
// The events, the bucket and the stores live in the global account, the
// one JetStream account exportd's processes share. The readers (the
// subscriber and the keys' identities) are in an account of their own,
// ReaderAccount, which imports the event subjects from it under the same
// names: a reader is kept to its subjects by its subscribe permission, as
// before, and its connections by the account's limit (SubscriberMaxSubs),
// which the service's are not bound by.
package natsauth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/plenario-next/exportd/schema"
)

// The users of the embedded server.
const (
	ServiceUser    = "exportd"
	SubscriberUser = "subscriber"
	KeyUserPrefix  = "key-"
	passwordExt    = ".password"
)

// Identity is one user of the embedded server.
type Identity struct {
	User     string
	Password string
	File     string // the file the password is kept in
	// Subscribe is what the user may subscribe to (nothing else, and it may
	// publish nothing); nil for the service, which may do anything.
	Subscribe []string
}

// Auth is the set of identities in a directory.
type Auth struct {
	Dir        string
	Service    Identity
	Subscriber Identity
	Keys       []Identity // one per API key, in the keys' order
}

// Load reads the identities in dir, generating those missing: the service,
// the subscriber and one per API key. Files of keys no longer configured
// are removed, so that a withdrawn key's identity stops working.
func Load(dir string, apiKeys []string) (*Auth, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("nats auth dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	a := &Auth{Dir: dir}
	var err error
	if a.Service, err = load(dir, ServiceUser, nil); err != nil {
		return nil, err
	}
	if a.Subscriber, err = load(dir, SubscriberUser, []string{schema.EventSubjectAll}); err != nil {
		return nil, err
	}
	keep := map[string]bool{ServiceUser: true, SubscriberUser: true}
	for _, k := range apiKeys {
		owner := schema.KeyOwner(k)
		user := KeyUserPrefix + owner
		if keep[user] {
			continue
		}
		keep[user] = true
		id, err := load(dir, user, []string{schema.OwnerEvents(owner)})
		if err != nil {
			return nil, err
		}
		a.Keys = append(a.Keys, id)
	}
	files, _ := filepath.Glob(filepath.Join(dir, KeyUserPrefix+"*"+passwordExt))
	for _, f := range files {
		if !keep[strings.TrimSuffix(filepath.Base(f), passwordExt)] {
			_ = os.Remove(f)
		}
	}
	return a, nil
}

// Key returns the identity of an API key, and false if it has none.
func (a *Auth) Key(apiKey string) (Identity, bool) {
	user := KeyUserPrefix + schema.KeyOwner(apiKey)
	for _, id := range a.Keys {
		if id.User == user {
			return id, true
		}
	}
	return Identity{}, false
}

// SubscriberMaxSubs is how many subscriptions one connection of a reader
// (the subscriber, an API key's identity) may hold: a watcher needs one or
// a few, and without a bound one connection held 20 000 and more, each
// the server's memory. Past it the server closes the connection.
const SubscriberMaxSubs = 1000

// ReaderAccount is the account of the readers, whose limits are theirs
// alone: the service stays in the global account, where JetStream's data
// has always been, without a limit on its connections (a gateway holds a
// subscription per followed job).
const ReaderAccount = "READERS"

// accounts is the accounts block that makes ReaderAccount: the global
// account exports the events and the owners' subjects as streams, the
// readers import them under the same names, so that a reader subscribes
// as before and its subscribe permission still keeps it to its subjects.
// nats-server sets an account's limits only from a configuration (or a
// JWT), hence the text, in which the global account, whose name is
// reserved, is globalStandIn until Configure names it.
var accounts = fmt.Sprintf(`accounts {
  %[5]s: { jetstream: enabled, exports: [ {stream: %[1]q}, {stream: %[2]q} ] }
  %[3]s: {
    limits: { max_subscriptions: %[4]d }
    imports: [ {stream: {account: %[5]s, subject: %[1]q}}, {stream: {account: %[5]s, subject: %[2]q}} ]
  }
}`, schema.EventSubjectAll, schema.OwnerSubjectAll, ReaderAccount, SubscriberMaxSubs, globalStandIn)

const globalStandIn = "EXPORTD_GLOBAL"

// Configure makes o require these identities: no client without one gets
// in, and the readers' connections are bounded (SubscriberMaxSubs).
func (a *Auth) Configure(o *server.Options) {
	acc := &server.Options{}
	if err := acc.ProcessConfigString(accounts); err != nil {
		panic("natsauth: the accounts block: " + err.Error()) // a constant: every test that starts a server fails
	}
	o.Accounts = acc.Accounts
	var readers *server.Account
	for _, ac := range acc.Accounts {
		switch ac.Name {
		case ReaderAccount:
			readers = ac
		case globalStandIn:
			ac.Name = server.DEFAULT_GLOBAL_ACCOUNT // the server copies it into its global account
		}
	}
	ids := append([]Identity{a.Service, a.Subscriber}, a.Keys...)
	o.Users = o.Users[:0]
	for _, id := range ids {
		u := &server.User{Username: id.User, Password: id.Password}
		if id.Subscribe != nil {
			u.Account = readers
			u.Permissions = &server.Permissions{
				Publish:   &server.SubjectPermission{Deny: []string{">"}},
				Subscribe: &server.SubjectPermission{Allow: id.Subscribe},
			}
		}
		o.Users = append(o.Users, u)
	}
	o.NoAuthUser = ""
}

// Users lists the identities' names, sorted: for logs.
func (a *Auth) Users() []string {
	var us []string
	for _, id := range append([]Identity{a.Service, a.Subscriber}, a.Keys...) {
		us = append(us, id.User)
	}
	sort.Strings(us)
	return us
}

// load reads user's password file in dir, creating it with a new random
// password when it does not exist.
func load(dir, user string, subscribe []string) (Identity, error) {
	id := Identity{User: user, File: filepath.Join(dir, user+passwordExt), Subscribe: subscribe}
	b, err := os.ReadFile(id.File)
	switch {
	case err == nil:
		if id.Password = strings.TrimSpace(string(b)); id.Password == "" {
			return id, fmt.Errorf("nats auth: %s is empty", id.File)
		}
		return id, os.Chmod(id.File, 0o600)
	case !errors.Is(err, os.ErrNotExist):
		return id, fmt.Errorf("nats auth: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return id, err
	}
	id.Password = base64.RawURLEncoding.EncodeToString(raw)
	return id, writeFile(id.File, id.Password+"\n")
}

// writeFile writes a 0600 file whole or not at all: a crash leaves no
// empty password behind.
func writeFile(path, data string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
