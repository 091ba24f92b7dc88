package main

import (
	"context"
	"fmt"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// fairRun is the fair-share phase (issue 14): six whole-table jobs, then,
// fairDelay later, a one-node, one-hour job. The small job must succeed
// within 2 s of its submission (first in, first out it waited 35 s behind
// the big jobs' parts at 20 M rows), and the big ones must together take
// no longer than they did without it.
type fairRun struct {
	BigJobs      int     `json:"big_jobs"`
	BigRows      int64   `json:"big_rows_each"`
	SmallRows    int64   `json:"small_rows"`
	SmallSeconds float64 `json:"small_s"` // its submit to its success
	BigSeconds   float64 `json:"big_s"`   // the first big submit to the last big success
}

// fairDelay is how long after the big jobs the small one is submitted.
const fairDelay = 2 * time.Second

// fairShare runs the phase once.
func (s *system) fairShare(ctx context.Context, n *schema.Network, whole window) (fairRun, error) {
	r := fairRun{BigJobs: 6, BigRows: whole.Rows}
	start := time.Now()
	var big []string
	for range r.BigJobs {
		var doc jobDoc
		if _, err := s.getJSON(ctx, "/v1/api/sensor-networks/"+n.Name+"/download?"+whole.values().Encode(), &doc); err != nil {
			return r, err
		}
		big = append(big, doc.Ticket)
	}
	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(fairDelay - time.Since(start)):
	}
	// One node, one hour in the middle of the data.
	mid := whole.End.Add(-seedSpan / 2).Truncate(time.Hour)
	small := window{Start: mid, End: mid.Add(time.Hour)}
	v := small.values()
	v.Set("nodes", n.Nodes[0].ID)
	smallStart := time.Now()
	var doc jobDoc
	if _, err := s.getJSON(ctx, "/v1/api/sensor-networks/"+n.Name+"/download?"+v.Encode(), &doc); err != nil {
		return r, err
	}
	done, err := s.waitSuccess(ctx, doc.Ticket)
	if err != nil {
		return r, err
	}
	r.SmallSeconds = time.Since(smallStart).Seconds()
	if done.Status.Progress != nil {
		r.SmallRows = done.Status.Progress.Rows
	}
	for _, t := range big {
		if _, err := s.waitSuccess(ctx, t); err != nil {
			return r, err
		}
	}
	r.BigSeconds = time.Since(start).Seconds()
	return r, nil
}

// waitSuccess polls a job every 50 ms until it succeeds.
func (s *system) waitSuccess(ctx context.Context, ticket string) (jobDoc, error) {
	deadline := time.Now().Add(jobTimeout)
	for {
		var doc jobDoc
		if _, err := s.getJSON(ctx, "/v1/api/jobs/"+ticket, &doc); err != nil {
			return doc, err
		}
		switch doc.Status.Status {
		case schema.StatusSuccess:
			return doc, nil
		case schema.StatusError, schema.StatusCancelled, schema.StatusExpired:
			return doc, fmt.Errorf("job %s ended %s: %s", ticket, doc.Status.Status, doc.Result)
		}
		if time.Now().After(deadline) {
			return doc, fmt.Errorf("job %s not done after %s", ticket, jobTimeout)
		}
		if err := s.exporter.exited(); err != nil {
			return doc, err
		}
		select {
		case <-ctx.Done():
			return doc, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
