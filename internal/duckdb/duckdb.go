// Package duckdb runs SQL in DuckDB, through its Node.js package, so that
// tests read exportd's result files with a reader nobody here wrote.
// `make test` installs the package (make duckdb); a bare `go test` without
// it skips those checks, unless EXPORTD_REQUIRE_DUCKDB is set, as make test
// sets it, and then they fail.
package duckdb

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// dir is this package's folder: the Node.js package lives beside the code.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Available reports whether DuckDB is installed, skipping tb when it is not
// and not required.
func Available(tb testing.TB) {
	tb.Helper()
	_, err := os.Stat(filepath.Join(dir(), "node_modules", "@duckdb", "node-api"))
	if err == nil {
		if _, err = exec.LookPath("node"); err == nil {
			return
		}
	}
	if os.Getenv("EXPORTD_REQUIRE_DUCKDB") != "" {
		tb.Fatalf("DuckDB is required but not installed (run `make duckdb`): %v", err)
	}
	tb.Skipf("DuckDB not installed (`make duckdb` installs it): %v", err)
}

// Query runs sql in an in-memory DuckDB and returns its rows, each column
// as DuckDB renders it in JSON (BIGINT and timestamps as strings).
func Query(tb testing.TB, sql string) []map[string]any {
	tb.Helper()
	Available(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir(), "query.mjs"), sql)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("duckdb %q: %v: %s", sql, err, stderr.String())
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		tb.Fatalf("duckdb output %q: %v", out, err)
	}
	return rows
}
