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

// clickhousePID finds the local clickhouse-server from the pid file
// scripts/clickhouse.sh writes, for its CPU time; 0 if there is none.
func clickhousePID(root string) int {
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
