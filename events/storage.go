package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// The result store has a byte limit of its own (Config.ResultMaxBytes,
// JetStream's MaxBytes on its stream), below what the JetStream server
// may store, so that they fill before the disk does and events and job
// documents always have room: a job that would go past the limit fails
// with a reason, a client can still cancel (which frees room), and the
// service starts again.

// ShortFraction: the result storage is short, and new exports are
// refused, while less than this share of its limit is free.
const ShortFraction = 0.1

// storageTTL is how long a reading of the result store's usage is used.
const storageTTL = time.Second

// ErrStorageFull is the cause of a part that the result storage had no
// room for.
var ErrStorageFull = errors.New("events: result storage is full")

// storageFull reports whether err is JetStream refusing a write for want
// of room: a stream at its MaxBytes (10077, "maximum bytes exceeded"), or
// the account or server out of storage (10047, 10023).
func storageFull(err error) bool {
	if err == nil {
		return false
	}
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case 10047, 10023:
			return true
		case 10077:
			return strings.Contains(api.Description, "maximum bytes")
		}
	}
	s := err.Error()
	return strings.Contains(s, "maximum bytes exceeded") || strings.Contains(s, "insufficient storage") ||
		strings.Contains(s, "insufficient resources")
}

// storeError turns a write the result storage refused for want of room
// into a schema.Full error a user can read; other errors pass unchanged.
func storeError(err error) error {
	if !storageFull(err) {
		return err
	}
	return schema.Wrap(schema.Full, "result storage is full: this export needs more room than is left; "+
		"retry when other results have expired or been deleted, or export a shorter window",
		fmt.Errorf("%w: %w", ErrStorageFull, err))
}

// Usage is the result store's size and limit, in bytes.
type Usage struct {
	Used  int64
	Limit int64 // 0: none of ours
}

// Short reports whether less than ShortFraction of the limit is free.
func (u Usage) Short() bool {
	return u.Limit > 0 && float64(u.Limit-u.Used) < ShortFraction*float64(u.Limit)
}

// storageCache keeps the last reading of the result store's usage.
type storageCache struct {
	mu   sync.Mutex
	at   time.Time
	last Usage
}

// ResultUsage reads the result store's size and limit, at most once a
// second.
func (b *Bus) ResultUsage(ctx context.Context) (Usage, error) {
	c := &b.storage
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < storageTTL {
		return c.last, nil
	}
	var u Usage
	for _, bucket := range []string{ResultBucket} {
		s, err := b.js.Stream(ctx, "OBJ_"+bucket)
		if err != nil {
			return u, unavailable("result store", err)
		}
		info := s.CachedInfo()
		u.Used += int64(info.State.Bytes)
		if info.Config.MaxBytes > 0 {
			u.Limit += info.Config.MaxBytes
		}
	}
	c.at, c.last = time.Now(), u
	return u, nil
}

// StorageShort returns a schema.Full error while the result storage is
// short: what a submit is refused with, and what /readyz says.
func (b *Bus) StorageShort(ctx context.Context) error {
	u, err := b.ResultUsage(ctx)
	if err != nil || !u.Short() {
		return err
	}
	return schema.Errorf(schema.Full, "result storage is full: %s of %s used; new exports are refused until results expire or are deleted",
		mb(u.Used), mb(u.Limit))
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// resultMaxBytes is the MaxBytes of the result store's stream:
// Config.ResultMaxBytes, never below what the store already holds
// (JetStream would throw stored parts away to meet it). Without a limit
// configured, the stream keeps the one it has.
func resultMaxBytes(ctx context.Context, js jetstream.JetStream, bucket string, total int64) (int64, error) {
	s, err := js.Stream(ctx, "OBJ_"+bucket)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if total <= 0 {
			return 0, nil
		}
		return total, nil
	}
	if err != nil {
		return 0, err
	}
	info := s.CachedInfo()
	if total <= 0 {
		return info.Config.MaxBytes, nil
	}
	return max(total, int64(info.State.Bytes)), nil
}
