package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// The load phase: the gateway's throughput on GET /jobs/{ticket} and on
// ticket creation, each beside a bare fasthttp handler in this process
// answering the same bytes, so the ratio shows what the gateway costs.

// loadTests measures GET /jobs/{ticket} and ticket creation on the
// gateway and on a bare fasthttp handler.
func (s *system) loadTests(ctx context.Context, cfg config, res *results) error {
	d := time.Duration(cfg.LoadSeconds) * time.Second
	jobPath := "/v1/api/jobs/" + res.ticket
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+jobPath, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	bareAddr, err := freePort()
	if err != nil {
		return err
	}
	bare, err := bareServer(bareAddr, body)
	if err != nil {
		return err
	}
	defer bare.Shutdown()

	// Each measure BENCH_RUNS times, alternating with the bare handler;
	// the run of the median rate is the one reported, with all the rates.
	s.gateway.resetPeak()
	var gets, bareGets, creates, bareCreates []loadResult
	var drains []createDrain
	for i := range cfg.Runs {
		logf("load run %d/%d: GET %s, %d connections for %s", i+1, cfg.Runs, jobPath, cfg.LoadConns, d)
		gets = append(gets, s.underLoad(ctx, cfg, "job_get", func() loadResult {
			return load(s.httpAddr, jobPath, http.StatusOK, cfg.LoadConns, d, false)
		}))
		bareGets = append(bareGets, load(bareAddr, jobPath, http.StatusOK, cfg.LoadConns, d, false))
		logf("  gateway %.0f req/s p99 %.1f ms; bare %.0f req/s p99 %.1f ms", gets[i].OKPerSec, gets[i].P99ms,
			bareGets[i].OKPerSec, bareGets[i].P99ms)
		c, drain, err := s.createBurst(ctx, cfg, d, i)
		if err != nil {
			return err
		}
		creates, drains = append(creates, c), append(drains, drain)
		bareCreates = append(bareCreates, load(bareAddr, createPath(cfg), http.StatusOK, cfg.LoadConns, d, true))
		logf("  gateway %.0f req/s (%d other statuses) p99 %.1f ms; bare %.0f req/s", c.OKPerSec, c.Other,
			c.P99ms, bareCreates[i].OKPerSec)
	}
	g, c := medianRun(gets), medianRun(creates)
	res.JobGet, res.JobGetBare = gets[g], bareGets[g]
	res.Create, res.CreateBare = creates[c], bareCreates[c]
	res.CreateDrainSeconds, res.CreateCPUPerTicket = drains[c].seconds, drains[c].cpuPerTicket
	for i := range gets {
		res.JobGetRuns = append(res.JobGetRuns, gets[i].OKPerSec)
		res.CreateRuns = append(res.CreateRuns, creates[i].OKPerSec)
	}
	res.GatewayLoadPeak = s.gateway.peak()
	return nil
}

// createDrain is what a burst of tickets cost after it: the time until
// every job it made succeeded, and the CPU of all processes per ticket
// over burst and drain.
type createDrain struct{ seconds, cpuPerTicket float64 }

// createBurst creates tickets for d, then waits until every job the burst
// made has succeeded.
func (s *system) createBurst(ctx context.Context, cfg config, d time.Duration, run int) (loadResult, createDrain, error) {
	var drain createDrain
	succeeded0, err := s.succeeded(ctx)
	if err != nil {
		return loadResult{}, drain, err
	}
	logf("load run %d/%d: GET %s, %d connections for %s", run+1, cfg.Runs, createPath(cfg), cfg.LoadConns, d)
	pids := []int{s.gateway.pid(), s.exporter.pid(), s.nats.pid(), s.chPID}
	cpu0 := cpuOf(pids)
	c := s.underLoad(ctx, cfg, "create", func() loadResult {
		return load(s.httpAddr, createPath(cfg), http.StatusOK, cfg.LoadConns, d, true)
	})
	// Accepting is half of a ticket's cost: the planner and the projector
	// take every one of them to success after the burst. The drain time
	// and the CPU of the whole (burst and drain) tell what a ticket costs.
	drainStart := time.Now()
	deadline := drainStart.Add(10 * time.Minute)
	var drainProfiles sync.WaitGroup
	defer drainProfiles.Wait()
	if cfg.ProfileDir != "" {
		drainProfiles.Go(func() { s.profileAll(ctx, cfg, "drain") })
	}
	for {
		n, err := s.succeeded(ctx)
		if err != nil {
			return c, drain, err
		}
		if n-succeeded0 >= float64(c.OK) {
			break
		}
		if time.Now().After(deadline) {
			return c, drain, fmt.Errorf("after the creation load, %.0f of %d jobs succeeded in 10 minutes", n-succeeded0, c.OK)
		}
		select {
		case <-ctx.Done():
			return c, drain, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	drain.seconds = time.Since(drainStart).Seconds()
	var total float64
	cpu := cpuOf(pids)
	for i := range cpu {
		cpu[i] -= cpu0[i]
		total += cpu[i]
	}
	drain.cpuPerTicket = total / float64(c.OK) * 1e6
	logf("  all %d jobs succeeded %.1fs after the burst; CPU s over burst and drain: gateway %.1f, exporter %.1f, nats %.1f, clickhouse %.1f: %.0f µs per ticket",
		c.OK, drain.seconds, cpu[0], cpu[1], cpu[2], cpu[3], drain.cpuPerTicket)
	return c, drain, nil
}

// createPath asks for a window with no rows, so each job succeeds with no
// part and the load is the gateway's (and JetStream's), not ClickHouse's.
func createPath(cfg config) string {
	empty := url.Values{"start_datetime": {"2001-01-01T00:00:00"}, "end_datetime": {"2001-01-01T00:00:01"}}
	return "/v1/api/sensor-networks/" + cfg.Network + "/download?" + empty.Encode()
}

// medianRun is the index of the run of median rate (the lower middle one
// of an even number).
func medianRun(runs []loadResult) int {
	idx := make([]int, len(runs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(runs[a].OKPerSec, runs[b].OKPerSec) })
	return idx[(len(idx)-1)/2]
}
