package events

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// rewatchWait is the pause before a watch that could not be made again
// after a connect is tried once more (JetStream may still be electing
// the bucket's leader).
const rewatchWait = 250 * time.Millisecond

// followKV calls changed with every entry of kv under key as it stands
// now, then with every change, one at a time in the bucket's order, until
// ctx is done or the watch ends; only the first watch's error is
// returned.
//
// A KV watch is an ordered push consumer that lives in the server's
// memory: a restarted server (or another node, after a failover) knows
// nothing of it, and nats.go notices only when two idle heartbeats are
// missed, 10-20 s later, passing on no change meanwhile. So at each
// connect (rc) the watch is stopped, the changes it had delivered are
// passed on, and a new watch resumes after the last of them.
func followKV(ctx context.Context, rc *reconnects, kv jetstream.KeyValue, key string, changed func(jetstream.KeyValueEntry)) error {
	since := rc.since()
	w, err := kv.Watch(ctx, key)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	var last uint64 // the revision of the last change passed on
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e != nil { // nil: the entries as they stood are in
				last = e.Revision()
				changed(e)
			}
			continue
		case <-since:
		}
		_ = w.Stop()
		for stopped := false; !stopped; { // Updates closes once the watch has stopped
			select {
			case <-ctx.Done():
				return nil
			case e, ok := <-w.Updates():
				if stopped = !ok; e != nil {
					last = e.Revision()
					changed(e)
				}
			}
		}
		for {
			since = rc.since()
			var opts []jetstream.WatchOpt
			if last > 0 {
				opts = append(opts, jetstream.ResumeFromRevision(last+1))
			}
			if again, err := kv.Watch(ctx, key, opts...); err == nil {
				w = again
				break
			}
			select {
			case <-ctx.Done():
				return nil
			case <-since:
			case <-time.After(rewatchWait):
			}
		}
	}
}
