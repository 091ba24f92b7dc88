package exporter

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// When the meta_ids expire, a plan that finds another one reading the
// network waits for that read instead of reading it again (the plans in
// flight all found the copy old at once, and each read the network).
func TestMetaCacheReadsOnce(t *testing.T) {
	var c metaCache
	var reads atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	read := func(ctx context.Context, name string) (*schema.Network, error) {
		if reads.Add(1) == 1 {
			close(entered)
			<-release
		}
		return &schema.Network{Name: name, Nodes: []schema.Node{{ID: "a", Network: name}}}, nil
	}
	now := time.Now()
	first := make(chan error, 1)
	go func() {
		ids, err := c.get(context.Background(), read, "n", now)
		if err == nil && len(ids) != 1 {
			err = errors.New("not the network's meta_ids")
		}
		first <- err
	}()
	<-entered
	// A second plan while the first reads: with its context ended it can
	// only have waited (a read of its own would have been counted).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.get(ctx, read, "n", now); !errors.Is(err, context.Canceled) {
		t.Errorf("the second get: got error %v, want %v", err, context.Canceled)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if ids, err := c.get(context.Background(), read, "n", now.Add(time.Second)); err != nil || len(ids) != 1 {
		t.Errorf("a get after the read: got %v, %v, want the network's one meta_id", ids, err)
	}
	if got := reads.Load(); got != 1 {
		t.Errorf("got %d reads of the network, want 1", got)
	}
}
