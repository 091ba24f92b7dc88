package main

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/plenario-next/exportd/internal/testenv"
)

// TestListenerPID: the process that listens on a port is found from the
// kernel's socket tables, on a listener of this process.
func TestListenerPID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if pid, err := listenerPID(ln.Addr().String()); err != nil || pid != os.Getpid() {
		t.Fatalf("listenerPID(%s): got %d, %v; want this process, %d", ln.Addr(), pid, err, os.Getpid())
	}
	addr := ln.Addr().String()
	ln.Close()
	if pid, err := listenerPID(addr); err == nil {
		t.Fatalf("listenerPID(%s) after the listener closed: got %d, want an error", addr, pid)
	}
}

// TestClickHousePIDFromPort: the bench measures the clickhouse-server that
// answers on the configured address even when $EXPORTD_DATA_DIR has no pid
// file of it (a server started from another data directory), where its
// CPU showed 0.0.
func TestClickHousePIDFromPort(t *testing.T) {
	addr := testenv.ClickHouseAddr()
	if conn, err := net.Dial("tcp", addr); err != nil {
		t.Fatalf("no ClickHouse on %s (scripts/clickhouse.sh start): %v", addr, err)
	} else {
		conn.Close()
	}
	t.Setenv("EXPORTD_DATA_DIR", t.TempDir())
	pid := clickhousePID(t.TempDir(), addr)
	if pid == 0 || !strings.Contains(procComm(pid), "clickhouse") || cpuSeconds(pid) == 0 {
		t.Fatalf("clickhousePID(%s) with no pid file: got %d (%q), want the clickhouse-server listening there", addr, pid, procComm(pid))
	}
}
