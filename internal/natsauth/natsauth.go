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
// Users with permissions in one account, not accounts with exports and
// imports: the events, the bucket and the stores live in one JetStream
// account that exportd's processes share, and a reader is kept to its
// subjects by its subscribe permission alone.
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

// Configure makes o require these identities: no client without one gets
// in.
func (a *Auth) Configure(o *server.Options) {
	ids := append([]Identity{a.Service, a.Subscriber}, a.Keys...)
	o.Users = o.Users[:0]
	for _, id := range ids {
		u := &server.User{Username: id.User, Password: id.Password}
		if id.Subscribe != nil {
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
