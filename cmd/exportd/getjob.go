package main

// The job half of `exportd get`: the submit, the job document and the wait
// for its end.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// jobDoc is the job document as the client reads it.
type jobDoc struct {
	Ticket  string `json:"ticket"`
	Request struct {
		Query struct {
			Network string `json:"network"`
		} `json:"query"`
	} `json:"request"`
	Status struct {
		Status   string           `json:"status"`
		Progress *schema.Progress `json:"progress"`
	} `json:"status"`
	Result json.RawMessage `json:"result"`
	result struct {
		URL      string `json:"url"`
		Error    string `json:"error"`
		Rows     int64  `json:"rows"`
		Bytes    int64  `json:"bytes"`
		Parts    int    `json:"parts"`
		Manifest string `json:"manifest"`
	}
}

func (j *jobDoc) decode(b []byte) error {
	if err := json.Unmarshal(b, j); err != nil {
		return err
	}
	if len(j.Result) > 0 && j.Result[0] == '{' {
		return json.Unmarshal(j.Result, &j.result)
	}
	return nil
}

func (j *jobDoc) terminal() bool {
	switch j.Status.Status {
	case schema.StatusSuccess, schema.StatusError, schema.StatusCancelled, schema.StatusExpired:
		return true
	}
	return false
}

// apiGet GETs an API URL with a bounded wait and returns status and body.
func (g *getter) apiGet(ctx context.Context, u string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := g.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, body, err
}

func (g *getter) submit(ctx context.Context, network string, q url.Values) (*jobDoc, error) {
	u := g.server + "/v1/api/sensor-networks/" + url.PathEscape(network) + "/download"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	status, body, err := g.apiGet(ctx, u)
	if err != nil {
		return nil, exitf(exitOther, "submit: %v", err)
	}
	switch {
	case status == http.StatusOK:
	case status == http.StatusBadRequest || status == http.StatusNotFound || status == http.StatusUnprocessableEntity ||
		status == http.StatusUnauthorized || status == http.StatusForbidden:
		return nil, exitf(exitBadRequest, "the server refused the export (%d):\n%s", status, errorMessages(body))
	default:
		return nil, exitf(exitOther, "submit: status %d: %s", status, errorMessages(body))
	}
	var job jobDoc
	if err := job.decode(body); err != nil || !schema.IsTicket(job.Ticket) {
		return nil, exitf(exitOther, "submit: not a job document: %.200s", body)
	}
	return &job, nil
}

// errorMessages renders a Plenario error body, {"error": {"field":
// ["message", ...]}} or {"error": "message"}, one problem a line.
func errorMessages(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) == 0 {
		return strings.TrimSpace(string(body))
	}
	var s string
	if json.Unmarshal(e.Error, &s) == nil {
		return "  " + s
	}
	var fields map[string][]string
	if json.Unmarshal(e.Error, &fields) != nil {
		return strings.TrimSpace(string(body))
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, msg := range fields[k] {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "  %s: %s", k, msg)
		}
	}
	return b.String()
}

// wait follows a job to its end: woken by its server-sent events when the
// server has them, else polling, reading the job document each time.
func (g *getter) wait(ctx context.Context, ticket string) (*jobDoc, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kick := make(chan struct{}, 1)
	sseDone := make(chan struct{})
	go func() {
		defer close(sseDone)
		g.watchEvents(ctx, ticket, kick)
	}()
	sse := true
	var prog progressMeter
	failures := 0
	for polls := 0; ; polls++ {
		status, body, err := g.apiGet(ctx, g.server+"/v1/api/jobs/"+ticket)
		var job jobDoc
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err == nil && status == http.StatusOK && job.decode(body) == nil:
			failures = 0
			g.showJob(&job, &prog)
			if job.terminal() {
				g.endLine()
				if job.Status.Status != schema.StatusSuccess {
					reason := job.result.Error
					if reason == "" {
						reason = job.Status.Status
					}
					return nil, exitf(exitJobFailed, "job %s %s: %s", ticket, job.Status.Status, reason)
				}
				return &job, nil
			}
		case status == http.StatusNotFound:
			code := exitJobFailed // it was there, and is gone
			if polls == 0 {
				code = exitBadRequest // there is no such job
			}
			return nil, exitf(code, "job %s not found: %s", ticket, errorMessages(body))
		default:
			if failures++; failures > 20 {
				return nil, exitf(exitOther, "job %s: status %d: %v %s", ticket, status, err, errorMessages(body))
			}
		}
		wait := pollInterval
		if sse {
			wait = sseSafetyPoll
		}
		t := time.NewTimer(wait)
		select {
		case <-kick:
		case <-t.C:
		case <-sseDone:
			sse, sseDone = false, nil
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// watchEvents reads the job's event stream and signals kick at each event;
// it returns when the stream ends or the server has none.
func (g *getter) watchEvents(ctx context.Context, ticket string, kick chan<- struct{}) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.server+"/v1/api/jobs/"+ticket+"/events", nil)
	if err != nil {
		return
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := g.http.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	data := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "data:"):
			data = true
		case line == "" && data:
			data = false
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}
}
