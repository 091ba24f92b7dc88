package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// profileJob, with BENCH_PROFILE_DIR set, takes CPU profiles of the
// gateway, the exporter and the NATS server for BENCH_LOAD_SECONDS from
// the submit of a job of w on, as job-<data type>-<process>.pprof (the
// last run's stays); the returned func waits for them. Each jobs-phase job
// is profiled, so a run with profiles is slower by what a job lasts less
// than BENCH_LOAD_SECONDS.
func (s *system) profileJob(ctx context.Context, w window) (wait func()) {
	var wg sync.WaitGroup
	if s.cfg.ProfileDir != "" {
		name := "job-" + w.DataType
		if w.DataType == "" {
			name = "job-csv"
		}
		wg.Go(func() { s.profileAll(ctx, s.cfg, name) })
	}
	return wg.Wait
}

// profileAll takes CPU profiles of the gateway, the exporter and the NATS
// server for BENCH_LOAD_SECONDS, written to <name>-<process>.pprof.
func (s *system) profileAll(ctx context.Context, cfg config, name string) {
	var wg sync.WaitGroup
	for role, addr := range map[string]string{"gateway": s.gatewayOps, "exporter": s.exporterOps, "nats": s.natsOps} {
		wg.Go(func() {
			path := filepath.Join(cfg.ProfileDir, name+"-"+role+".pprof")
			if err := fetchProfile(ctx, addr, cfg.LoadSeconds, path); err != nil {
				logf("  profile of the %s: %v", role, err)
			}
		})
	}
	wg.Wait()
}

// fetchProfile saves a CPU profile of seconds from the pprof listener at
// addr to path.
func fetchProfile(ctx context.Context, addr string, seconds int, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://"+addr+"/debug/pprof/profile?seconds="+strconv.Itoa(seconds), nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
