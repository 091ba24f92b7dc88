package chstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ErrTimeLimit is the cause of a query stopped at its time limit.
var ErrTimeLimit = errors.New("chstore: the query ran past its time limit")

// timeLimitGrace is how much longer than its time limit a query is waited
// for before its context gives up on it and cancels it in ClickHouse.
// Current ClickHouse stops a query at max_execution_time itself; 18.16
// checks the limit only as result blocks come out, which an ORDER BY holds
// back until the sort is done.
const timeLimitGrace = time.Second

type timeLimitKey struct{}

// WithTimeLimit gives the queries of a request made with the returned
// context a time limit that ClickHouse enforces (max_execution_time).
func WithTimeLimit(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, timeLimitKey{}, d)
}

// bounded is ctx for the queries of one client request: ClickHouse stops
// them at the time limit of WithTimeLimit (whole seconds, at least one;
// the context ends timeLimitGrace later should ClickHouse not), and each
// carries a query id that names the database (freshID), so that
// ClickHouse's system.processes tells them apart. clickhouse-go cancels a running query
// in ClickHouse when ctx is cancelled.
func (s *Store) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	settings := clickhouse.Settings{}
	cancel := context.CancelFunc(func() {})
	if d, ok := ctx.Value(timeLimitKey{}).(time.Duration); ok && d > 0 {
		settings["max_execution_time"] = max(1, int(math.Ceil(d.Seconds())))
		// A timer, not a deadline: clickhouse-go turns a context's deadline
		// into the connection's, past which it cannot send the cancel.
		var cause context.CancelCauseFunc
		ctx, cause = context.WithCancelCause(ctx)
		t := time.AfterFunc(d+timeLimitGrace, func() { cause(ErrTimeLimit) })
		cancel = func() { t.Stop(); cause(nil) }
	}
	ctx = context.WithValue(ctx, queryIDKey{}, s.QueryIDPrefix())
	return clickhouse.Context(ctx, clickhouse.WithSettings(settings)), cancel
}

type queryIDKey struct{}

// freshID gives the next query of a bounded ctx an id of its own: one
// ClickHouse still lists as running refuses a second query of the same id.
func freshID(ctx context.Context) context.Context {
	prefix, ok := ctx.Value(queryIDKey{}).(string)
	if !ok {
		return ctx
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	return clickhouse.Context(ctx, clickhouse.WithQueryID(prefix+hex.EncodeToString(id[:])))
}

// limited returns err, marked ErrTimeLimit when ctx of bounded ran out.
func limited(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), ErrTimeLimit) && !errors.Is(err, ErrTimeLimit) {
		return fmt.Errorf("%w: %w", ErrTimeLimit, err)
	}
	return err
}

// QueryIDPrefix starts the ClickHouse query id of every /query, /aggregate
// and /nearest request's queries on this Store's database.
func (s *Store) QueryIDPrefix() string { return s.db + "-query-" }
