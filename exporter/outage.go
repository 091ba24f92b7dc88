package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/schema"
)

// Backoff of a handler riding out an outage: from the first to the
// longest wait between attempts.
const (
	outageFirstWait = 250 * time.Millisecond
	outageMaxWait   = 10 * time.Second
)

// errOutage marks a transient error that lasted the whole outage
// tolerance: settle then gives up at once, with a reason that says so.
type errOutage struct {
	err       error
	tolerance time.Duration
}

func (e *errOutage) Error() string {
	return fmt.Sprintf("unavailable for %s: %v", e.tolerance, e.err)
}

func (e *errOutage) Unwrap() error { return e.err }

// rideOut runs attempt until it returns anything but a transient error
// (schema.Unavailable: ClickHouse or NATS unreachable, refusing, timing
// out, electing a leader), retrying with backoff in this process while
// keeping m in progress, so that an outage shorter than tolerance delays
// the job and never counts as one of its failed deliveries (a restart of
// ClickHouse takes longer than the deliveries' backoff of about half a
// minute). Past tolerance it returns an *errOutage; with tolerance 0 it
// runs attempt once.
func rideOut(ctx context.Context, m *events.Delivery, tolerance, ackWait time.Duration, log *slog.Logger, attempt func() error) error {
	var since time.Time
	wait := outageFirstWait
	for {
		err := attempt()
		if err == nil || schema.ErrorCode(err) != schema.Unavailable || ctx.Err() != nil || tolerance <= 0 {
			return err
		}
		if since.IsZero() {
			since = time.Now()
		}
		left := tolerance - time.Since(since)
		if left <= 0 {
			return &errOutage{err: err, tolerance: tolerance}
		}
		wait = min(wait, left)
		log.Warn("dependency unavailable; retrying", "err", err, "in", wait.String(),
			"outage", time.Since(since).Round(time.Millisecond).String(), "tolerance", tolerance.String())
		if !sleepInProgress(ctx, m, wait, ackWait) {
			return err
		}
		wait = min(2*wait, outageMaxWait)
	}
}

// sleepInProgress waits d, telling JetStream that m is in progress often
// enough that its ack wait never runs out; false if ctx ended first.
func sleepInProgress(ctx context.Context, m *events.Delivery, d, ackWait time.Duration) bool {
	_ = m.InProgress()
	tick := time.NewTicker(max(ackWait/3, 50*time.Millisecond))
	defer tick.Stop()
	done := time.NewTimer(d)
	defer done.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-done.C:
			return true
		case <-tick.C:
			_ = m.InProgress()
		}
	}
}

// outageReason is the result.error of a job given up after an outage.
func outageReason(err error) (string, bool) {
	var o *errOutage
	if !errors.As(err, &o) {
		return "", false
	}
	msg := "a service it needs is unavailable"
	var se *schema.Error
	if errors.As(o.err, &se) && se.Message != "" {
		msg = se.Message
	}
	return fmt.Sprintf("%s; gave up after %s of retries", msg, o.tolerance), true
}
