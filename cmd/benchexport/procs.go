package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/plenario-next/exportd/internal/natsauth"
)

// child is a process the benchmark started, with its peak memory watched.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu      sync.Mutex
	sampled int64 // highest VmRSS seen since the last resetPeak, bytes
	reset   bool  // the kernel's VmHWM was reset too
	stop    chan struct{}
}

func startChild(name, logPath string, env []string, path string, args ...string) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), stop: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	go c.sample()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// sample reads VmRSS every 20 ms: a fallback for kernels that do not let
// the peak be reset, and a check on VmHWM.
func (c *child) sample() {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.done:
			return
		case <-t.C:
		}
		if rss, ok := procStatus(c.pid(), "VmRSS"); ok {
			c.mu.Lock()
			c.sampled = max(c.sampled, rss)
			c.mu.Unlock()
		}
	}
}

// resetPeak starts a new measuring phase.
func (c *child) resetPeak() {
	// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+).
	err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", c.pid()), []byte("5"), 0)
	rss, _ := procStatus(c.pid(), "VmRSS")
	c.mu.Lock()
	c.reset = err == nil
	c.sampled = rss
	c.mu.Unlock()
}

// peak is the highest resident memory since resetPeak, in bytes.
func (c *child) peak() int64 {
	c.mu.Lock()
	p, reset := c.sampled, c.reset
	c.mu.Unlock()
	if hwm, ok := procStatus(c.pid(), "VmHWM"); ok && reset {
		p = max(p, hwm)
	}
	return p
}

func (c *child) rss() int64 {
	v, _ := procStatus(c.pid(), "VmRSS")
	return v
}

func (c *child) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited: %v", c.name, c.err)
	default:
		return nil
	}
}

// terminate sends SIGTERM and waits up to 25 s, then kills.
func (c *child) terminate() {
	close(c.stop)
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(25 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// procStatus reads a "kB" field of /proc/<pid>/status, in bytes.
func procStatus(pid int, field string) (int64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return 0, false
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		return n << 10, true
	}
	return 0, false
}

// freePort returns a loopback address nobody listens on at the moment.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitTCP waits until addr accepts connections, or the deadline passes.
func waitTCP(ctx context.Context, addr string, within time.Duration, c *child) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if err := c.exited(); err != nil {
			return err
		}
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s: nothing listens on %s after %s", c.name, addr, within)
}

// natsServerMain is `benchexport nats-server ADDR DIR PROFPORT`: a NATS
// server with JetStream as its own process, shared by the gateway and
// exporter processes, so that neither's memory includes it, serving
// /debug/pprof/ on PROFPORT.
func natsServerMain(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: benchexport nats-server host:port store-dir prof-port")
	}
	profPort, err := strconv.Atoi(args[2])
	if err != nil {
		return err
	}
	host, portS, err := net.SplitHostPort(args[0])
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return err
	}
	// Authenticated as exportd serve's server is: the identities the
	// parent generated in store-dir/auth.
	auth, err := natsauth.Load(filepath.Join(args[1], "auth"), nil)
	if err != nil {
		return err
	}
	opts := &server.Options{ServerName: "bench", Host: host, Port: port, JetStream: true,
		StoreDir: args[1], NoSigs: true, NoLog: true, MaxPayload: 8 << 20, ProfPort: profPort}
	auth.Configure(opts)
	s, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		return errors.New("nats-server did not start")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}

// cpuSeconds is a process's user+system CPU time so far (0 when it cannot
// be read), assuming the usual 100 clock ticks per second.
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:])) // f[0] is field 3, state
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return float64(u+s) / 100
}

// clickhousePID finds the clickhouse-server that answers on addr, for its
// CPU time: the process that holds the socket listening on addr's port,
// else the one of the pid file scripts/clickhouse.sh writes in
// $EXPORTD_DATA_DIR (which is another server's, or none, when the one on
// the port was started from another data directory: its CPU showed 0.0).
// It says which it measures; 0 if none.
func clickhousePID(root, addr string) int {
	if pid, err := listenerPID(addr); err == nil && strings.Contains(procComm(pid), "clickhouse") {
		logf("ClickHouse CPU: pid %d (%s), listening on %s", pid, procComm(pid), addr)
		return pid
	} else if err == nil {
		logf("ClickHouse CPU: %s is held by pid %d (%s), not a clickhouse-server", addr, pid, procComm(pid))
	}
	pid := pidFilePID(root)
	if pid == 0 {
		logf("ClickHouse CPU: no clickhouse-server found on %s or in the pid file; shown as 0", addr)
		return 0
	}
	logf("ClickHouse CPU: pid %d, from the pid file (nothing of ours seen listening on %s)", pid, addr)
	return pid
}

// pidFilePID reads the pid file scripts/clickhouse.sh writes; 0 if there
// is none, or its process is gone.
func pidFilePID(root string) int {
	dir := os.Getenv("EXPORTD_DATA_DIR")
	if dir == "" {
		dir = ".data"
	}
	if !strings.HasPrefix(dir, "/") {
		dir = root + "/" + dir
	}
	data, err := os.ReadFile(dir + "/clickhouse/pid")
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || cpuSeconds(pid) == 0 {
		return 0
	}
	return pid
}

// listenerPID returns the process that holds the TCP socket listening on
// addr's port (on any address: ClickHouse listens on several): the
// socket's inode from /proc/net/tcp and tcp6, then the process whose
// /proc/<pid>/fd has it.
func listenerPID(addr string) (int, error) {
	_, portS, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	port, err := strconv.ParseUint(portS, 10, 16)
	if err != nil {
		return 0, err
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// sl local_address rem_address st ... uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && p == port && f[9] != "0" {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing listens on port %d", port)
	}
	procs, err := filepath.Glob("/proc/[0-9]*/fd")
	if err != nil {
		return 0, err
	}
	for _, fdDir := range procs {
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, fd := range fds {
			if link, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && inodes[link] {
				return strconv.Atoi(filepath.Base(filepath.Dir(fdDir)))
			}
		}
	}
	return 0, fmt.Errorf("no process of those readable holds the socket listening on port %d", port)
}

// procComm is a process's command name, "" if unknown.
func procComm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}
