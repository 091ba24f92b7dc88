package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Owner subjects. With API keys, the projector forwards every event of a
// key's jobs, after folding it, to exports.owners.<owner>.<ticket>.<kind>,
// where owner is KeyOwner of the key: a NATS identity allowed to subscribe
// to exports.owners.<owner>.> sees its own key's jobs and no other's. The
// event stream's own subjects carry no owner, so that its consumers and
// the stored history stay as they are.
const (
	OwnerSubjectPrefix = "exports.owners."
	OwnerSubjectAll    = "exports.owners.>"
	keyClientPrefix    = "key:"
)

// KeyOwner is the owner id of an API key: 16 hex digits of its SHA-256,
// enough to tell keys apart and nothing to recover the key from.
func KeyOwner(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:8])
}

// KeyClient is the client id of an API key, as job records keep it.
func KeyClient(key string) string { return keyClientPrefix + KeyOwner(key) }

// ClientOwner returns the owner id of a job record's client, and false for
// a client that is not an API key (an address, when no keys are set).
func ClientOwner(client string) (string, bool) {
	o, ok := strings.CutPrefix(client, keyClientPrefix)
	return o, ok && o != ""
}

// OwnerEvents is the subject of all the events of owner's jobs.
func OwnerEvents(owner string) string { return OwnerSubjectPrefix + owner + ".>" }

// OwnerSubject is the subject an event of ticket's, of kind k, is forwarded
// to for owner.
func OwnerSubject(owner, ticket string, k EventKind) string {
	return OwnerSubjectPrefix + owner + "." + ticket + "." + string(k)
}
