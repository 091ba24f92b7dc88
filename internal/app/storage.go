package app

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
)

// Storage limits of the embedded NATS server, so that the disk never fills
// before JetStream does, and the result stores fill before the rest of
// JetStream (events, job documents, the partition queue):
//
//	available = free space of the data directory's filesystem + what NATS holds there
//	JetStream max_file_store = storeShare of available
//	result stores            = EXPORTD_RESULT_MAX_BYTES, or resultShare of available
//
// Counted from what NATS already holds as well as what is free, the
// limits stay about the same from one start to the next, and a restart on
// a full disk starts (with the result storage short: submits refused,
// /readyz saying so) instead of failing for want of room.
const (
	storeShare  = 0.9
	resultShare = 0.5
	// maxResultShare bounds an explicit result limit: the rest of
	// JetStream keeps at least a fifth of its store.
	maxResultShare = 0.8
)

// embeddedLimits returns the JetStream max store and the result limit of
// the embedded server of c, and logs them.
func embeddedLimits(c Config, logger *slog.Logger) (maxStore, results int64, err error) {
	dir := filepath.Join(c.DataDir, "nats")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	if maxStore, results, err = storeLimits(dir, c.Events.ResultMaxBytes, logger); err != nil {
		return 0, 0, err
	}
	logger.Info("storage limits", "jetstream_max_store_bytes", maxStore, "result_max_bytes", results)
	return maxStore, results, nil
}

// storeLimits returns the JetStream max_file_store and the result stores'
// limit for an embedded server storing in dir; explicit is
// EXPORTD_RESULT_MAX_BYTES (0: the default share).
func storeLimits(dir string, explicit int64, logger *slog.Logger) (maxStore, results int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	held, err := dirSize(dir)
	if err != nil {
		return 0, 0, err
	}
	available := free + held
	// Never below what NATS holds: JetStream would refuse every write,
	// the cancelling that frees room among them.
	maxStore = max(int64(storeShare*float64(available)), held)
	results = int64(resultShare * float64(available))
	if explicit > 0 {
		results = explicit
		if limit := int64(maxResultShare * float64(maxStore)); results > limit {
			logger.Warn("EXPORTD_RESULT_MAX_BYTES is more than the disk leaves; using less", "asked", explicit,
				"using", limit, "jetstream_max_store", maxStore)
			results = limit
		}
	}
	return maxStore, results, nil
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if info, err := d.Info(); err == nil {
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dir, err)
	}
	return n, nil
}
