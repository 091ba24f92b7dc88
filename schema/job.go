package schema

import (
	"encoding/json"
	"math"
	"time"
)

// Job statuses as Plenario's clients read them from status.status.
const (
	StatusQueued     = "queued"
	StatusProcessing = "processing"
	StatusSuccess    = "success"
	StatusError      = "error"
	StatusCancelled  = "cancelled"
	StatusExpired    = "expired"
)

// MetaTimeLayout is how Plenario wrote status times: "2016-10-13 17:51:47.980835".
const MetaTimeLayout = "2006-01-02 15:04:05.000000"

// Job is the job document clients poll: Plenario's ticket shape.
type Job struct {
	Ticket  string     `json:"ticket"`
	Request JobRequest `json:"request"`
	Status  JobStatus  `json:"status"`
	Result  any        `json:"result"`        // "" until terminal, then JobResult
	URL     string     `json:"url,omitempty"` // the answer to /download only: the job's own link, as Plenario gave it
}

// AppendQueuedJSON appends the document of a job just queued as json.Marshal
// writes it, and reports false, appending nothing, for any other (the
// caller marshals that one). It is the answer to every accepted request,
// which json.Marshal would spend a fifth of the gateway's time on: it
// validates and re-escapes the query's hand-written JSON, node list and all.
func (j *Job) AppendQueuedJSON(b []byte) ([]byte, bool) { return j.AppendQueuedJSONWith(b, nil) }

// AppendQueuedJSONWith is AppendQueuedJSON of the job with its query
// expanded (Query.Expand), the lists Compact left out written from lists,
// its network's ListsJSON.
func (j *Job) AppendQueuedJSONWith(b []byte, lists *ListsJSON) ([]byte, bool) {
	st, m := &j.Status, &j.Status.Meta
	if st.Status != StatusQueued || st.Progress != nil || m.StartTime != "" || m.EndTime != "" || m.Workers != nil ||
		j.Result != "" {
		return b, false
	}
	start := len(b)
	b = append(b, `{"ticket":`...)
	b = AppendJSONText(b, j.Ticket)
	b = append(b, `,"request":{"endpoint":`...)
	b = AppendJSONText(b, j.Request.Endpoint)
	b = append(b, `,"query":`...)
	b, err := j.Request.Query.appendJSON(b, lists)
	if err != nil {
		return b[:start], false
	}
	b = append(b, `},"status":{"status":"queued","meta":{"queueTime":`...)
	b = AppendJSONText(b, m.QueueTime)
	if m.ExpiresAt != "" {
		b = append(b, `,"expiresAt":`...)
		b = AppendJSONText(b, m.ExpiresAt)
	}
	b = append(b, `}},"result":""`...)
	if j.URL != "" {
		b = AppendJSONText(append(b, `,"url":`...), j.URL)
	}
	return append(b, '}'), true
}

// JobRequest echoes what was asked, as resolved.
type JobRequest struct {
	Endpoint string `json:"endpoint"`
	Query    Query  `json:"query"`
}

// JobStatus is the status block.
type JobStatus struct {
	Status   string    `json:"status"`
	Meta     JobMeta   `json:"meta"`
	Progress *Progress `json:"progress,omitempty"`
}

// JobMeta holds the times of a job's life and who worked on it.
type JobMeta struct {
	QueueTime string   `json:"queueTime"`
	StartTime string   `json:"startTime,omitempty"`
	EndTime   string   `json:"endTime,omitempty"`
	Workers   []string `json:"workers,omitempty"`
	ExpiresAt string   `json:"expiresAt,omitempty"`
}

// Progress says how far a job is: parts done of total, rows so far of the
// planner's estimate, and the rows per second since it started, measured
// between the times of its events (absent until the first measurable one).
type Progress struct {
	Done     int     `json:"done"`
	Total    int     `json:"total"`
	Rows     int64   `json:"rows"`
	Estimate int64   `json:"estimate"`
	Rate     float64 `json:"rate,omitempty"`
}

// JobResult is the result of a finished job.
type JobResult struct {
	URL   string `json:"url,omitempty"`
	Error string `json:"error,omitempty"`
	Rows  int64  `json:"rows,omitempty"`
	Bytes int64  `json:"bytes,omitempty"`
	Parts int    `json:"parts,omitempty"`
}

// JobRecord is what the projector keeps per ticket: the document plus the
// state needed to fold further events into it. It is a pure function of the
// ticket's events.
type JobRecord struct {
	Job       Job             `json:"job"`
	Seq       uint64          `json:"seq"`    // last event folded
	Client    string          `json:"client"` // who asked, for limits and keys
	URLRoot   string          `json:"urlroot"`
	Created   time.Time       `json:"created"`
	Started   time.Time       `json:"started,omitzero"`
	Finished  time.Time       `json:"finished,omitzero"`
	Plan      []PartSpec      `json:"plan,omitempty"`
	MetaIDs   MetaIDs         `json:"meta_ids,omitempty"`   // of the started event
	PartsDone []uint64        `json:"parts_done,omitempty"` // bitset by part-1
	Running   map[int]int64   `json:"running,omitempty"`    // part → rows so far
	DoneRows  int64           `json:"done_rows"`
	DoneBytes int64           `json:"done_bytes"`
	Extra     json.RawMessage `json:"extra,omitempty"`
}

// Terminal reports whether the job has finished, one way or another.
func (r *JobRecord) Terminal() bool { return TerminalStatus(r.Job.Status.Status) }

// TerminalStatus reports whether status is one a job ends in.
func TerminalStatus(status string) bool {
	switch status {
	case StatusSuccess, StatusError, StatusCancelled, StatusExpired:
		return true
	}
	return false
}

// Complete reports whether every part is stored but success is not yet
// recorded: the moment to publish the succeeded event.
func (r *JobRecord) Complete() bool {
	p := r.Job.Status.Progress
	return r.Job.Status.Status == StatusProcessing && p != nil && p.Done == p.Total
}

func (r *JobRecord) partDone(n int) bool {
	i := n - 1
	return i >= 0 && i/64 < len(r.PartsDone) && r.PartsDone[i/64]&(1<<(i%64)) != 0
}

func (r *JobRecord) markDone(n int) {
	i := n - 1
	for len(r.PartsDone) <= i/64 {
		r.PartsDone = append(r.PartsDone, 0)
	}
	r.PartsDone[i/64] |= 1 << (i % 64)
}

// Apply folds e into the record and reports whether anything changed. It is
// idempotent: an event seen twice (a redelivery, a redone part) changes
// nothing the second time, and nothing moves a finished job.
func (r *JobRecord) Apply(e Event) bool {
	if e.Seq != 0 && e.Seq <= r.Seq {
		return false
	}
	if e.Seq != 0 {
		r.Seq = e.Seq
	}
	// Nothing moves a finished job, but expiry, and a cancel of a success
	// (which removes its result).
	if r.Terminal() && e.Kind != EventExpired && !(e.Kind == EventCancelled && r.Job.Status.Status == StatusSuccess) {
		return false
	}
	st := &r.Job.Status
	switch e.Kind {
	case EventQueued:
		if e.Request == nil || r.Job.Ticket != "" {
			return false
		}
		r.Job = Job{Ticket: e.Ticket, Request: JobRequest{Endpoint: "observation_datadump", Query: e.Request.Query},
			Status: JobStatus{Status: StatusQueued, Meta: JobMeta{QueueTime: e.Time.UTC().Format(MetaTimeLayout)}}, Result: ""}
		r.Client, r.URLRoot, r.Created = e.Request.Client, e.Request.URLRoot, e.Time
		if !e.Request.ExpiresAt.IsZero() {
			r.Job.Status.Meta.ExpiresAt = e.Request.ExpiresAt.UTC().Format(MetaTimeLayout)
		}
	case EventStarted:
		if st.Status != StatusQueued {
			return false
		}
		st.Status = StatusProcessing
		st.Meta.StartTime = e.Time.UTC().Format(MetaTimeLayout)
		r.Plan, r.MetaIDs = e.Plan, e.MetaIDs
		st.Progress = &Progress{Total: e.Parts, Estimate: e.Estimate}
		r.Started = e.Time
		r.addWorker(e.Worker)
	case EventProgress:
		if st.Status != StatusProcessing || e.Part < 1 || e.Part > st.Progress.Total || r.partDone(e.Part) {
			return false
		}
		if r.Running == nil {
			r.Running = map[int]int64{}
		}
		if r.Running[e.Part] >= e.Rows {
			return false
		}
		r.Running[e.Part] = e.Rows
		r.addWorker(e.Worker)
		r.sumRows()
		r.rate(e.Time)
	case EventPartDone:
		if st.Status != StatusProcessing || e.Part < 1 || e.Part > st.Progress.Total || r.partDone(e.Part) {
			return false
		}
		r.markDone(e.Part)
		delete(r.Running, e.Part)
		r.DoneRows += e.Rows
		r.DoneBytes += e.Bytes
		st.Progress.Done++
		r.addWorker(e.Worker)
		r.sumRows()
		r.rate(e.Time)
	case EventSucceeded:
		if st.Status != StatusProcessing {
			return false
		}
		st.Status = StatusSuccess
		r.Running = nil
		r.sumRows()
		r.rate(e.Time)
		r.finish(e.Time, JobResult{URL: e.URL, Rows: r.DoneRows, Bytes: r.DoneBytes, Parts: st.Progress.Total})
	case EventFailed:
		st.Status = StatusError
		r.finish(e.Time, JobResult{Error: e.Error})
	case EventCancelled:
		st.Status = StatusCancelled
		r.finish(e.Time, JobResult{Error: "cancelled"})
	case EventExpired:
		if st.Status == StatusExpired {
			return false
		}
		st.Status = StatusExpired
		r.Job.Result = JobResult{Error: "expired"}
	default:
		return false
	}
	return true
}

func (r *JobRecord) finish(t time.Time, res JobResult) {
	r.Finished = t
	r.Job.Status.Meta.EndTime = t.UTC().Format(MetaTimeLayout)
	r.Job.Result = res
}

func (r *JobRecord) sumRows() {
	if p := r.Job.Status.Progress; p != nil {
		p.Rows = r.DoneRows
		for _, n := range r.Running {
			p.Rows += n
		}
	}
}

// rate sets the throughput from the start to t: a function of event times
// only, so a replay of the events reproduces it.
func (r *JobRecord) rate(t time.Time) {
	p := r.Job.Status.Progress
	if p == nil || r.Started.IsZero() {
		return
	}
	if d := t.Sub(r.Started).Seconds(); d > 0 {
		p.Rate = math.Round(float64(p.Rows)/d*10) / 10
	}
}

func (r *JobRecord) addWorker(w string) {
	if w == "" {
		return
	}
	for _, x := range r.Job.Status.Meta.Workers {
		if x == w {
			return
		}
	}
	r.Job.Status.Meta.Workers = append(r.Job.Status.Meta.Workers, w)
}
