package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// baselineRun is one run of the baseline: clickhouse-client dumping the
// export's own SELECT as CSVWithNames into a file.
type baselineRun struct {
	Rows    int64   `json:"rows"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	// CPU seconds spent meanwhile by clickhouse-server and by the client.
	ClickHouseCPU float64 `json:"clickhouse_cpu_s"`
	ClientCPU     float64 `json:"client_cpu_s"`
}

// baseline runs clickhouse-client with the export's SELECT into a file.
func baseline(ctx context.Context, args []string, path string, chPID int) (baselineRun, error) {
	f, err := os.Create(path)
	if err != nil {
		return baselineRun{}, err
	}
	defer os.Remove(path)
	cmd := exec.CommandContext(ctx, "clickhouse-client", args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = f, &stderr
	cpu0 := cpuSeconds(chPID)
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	chCPU := cpuSeconds(chPID) - cpu0
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return baselineRun{}, fmt.Errorf("clickhouse-client: %w: %s", err, stderr.String())
	}
	rf, err := os.Open(path)
	if err != nil {
		return baselineRun{}, err
	}
	defer rf.Close()
	lines, size, err := countLines(rf)
	if err != nil {
		return baselineRun{}, err
	}
	return baselineRun{Rows: lines - 1, Bytes: size, Seconds: took.Seconds(), ClickHouseCPU: chCPU,
		ClientCPU: (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()}, nil
}

// countLines counts newlines and bytes of r.
func countLines(r io.Reader) (lines, size int64, err error) {
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		size += int64(n)
		lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		if err == io.EOF {
			return lines, size, nil
		}
		if err != nil {
			return lines, size, err
		}
	}
}
