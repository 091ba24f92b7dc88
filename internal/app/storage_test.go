package app

import (
	"log/slog"
	"testing"
)

// TestStoreLimits: the embedded server's limits come from the room of its
// directory, JetStream's never below what it holds, an explicit result
// limit bounded by JetStream's.
func TestStoreLimits(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	maxStore, results, err := storeLimits(dir, 0, logger)
	if err != nil {
		t.Fatal(err)
	}
	if maxStore <= 0 || results <= 0 || results >= maxStore {
		t.Fatalf("got max store %d, results %d; want 0 < results < max store", maxStore, results)
	}
	_, asked, err := storeLimits(dir, 1e6, logger)
	if err != nil || asked != 1e6 {
		t.Fatalf("explicit 1 MB: got %d (%v), want 1000000", asked, err)
	}
	_, huge, err := storeLimits(dir, 1<<62, logger)
	if err != nil || huge >= maxStore {
		t.Fatalf("explicit 4 EiB: got %d (%v), want less than the max store %d", huge, err, maxStore)
	}
}
