package schema

import (
	"strconv"
	"strings"
	"time"
)

// EventVersion is the version of the event schema below. A change that a
// subscriber could trip over bumps it.
const EventVersion = 1

// EventKind names what happened to a job.
type EventKind string

// The event kinds, in the order a job meets them.
const (
	EventQueued    EventKind = "queued"    // accepted; carries the request
	EventStarted   EventKind = "started"   // planned; carries the parts
	EventProgress  EventKind = "progress"  // a part's rows so far
	EventPartDone  EventKind = "part_done" // a part is stored
	EventSucceeded EventKind = "succeeded" // every part is stored; carries the url
	EventFailed    EventKind = "failed"    // gave up; carries the reason
	EventCancelled EventKind = "cancelled" // a client cancelled it
	EventExpired   EventKind = "expired"   // its result was removed after retention
)

// Terminal reports whether no event follows this kind for a job.
func (k EventKind) Terminal() bool {
	return k == EventSucceeded || k == EventFailed || k == EventCancelled || k == EventExpired
}

// Removes reports whether this kind ends a job with its stored parts
// removed: cancelled, failed or expired.
func (k EventKind) Removes() bool {
	return k == EventCancelled || k == EventFailed || k == EventExpired
}

// Subjects. One subject per ticket and kind lets a subscriber watch one job
// (exports.events.<ticket>.>) or everything (exports.events.>).
const (
	EventSubjectPrefix = "exports.events."
	EventSubjectAll    = "exports.events.>"
	RequestSubject     = "exports.requests"
	PartSubjectPrefix  = "exports.parts."
	PartSubjectAll     = "exports.parts.>"
)

// EventSubject is the subject of ticket's events of kind k.
func EventSubject(ticket string, k EventKind) string {
	return EventSubjectPrefix + ticket + "." + string(k)
}

// TicketEvents is the filter subject of all of one ticket's events.
func TicketEvents(ticket string) string { return EventSubjectPrefix + ticket + ".>" }

// PartSubject is the subject of one job's partition work items in the
// bulk lane, where parts wait first in, first out.
func PartSubject(ticket string) string { return PartSubjectPrefix + ticket }

// ExpressPartSubject is the subject of one job's partition work items in
// the express lane: a job's first parts, which exporters take before the
// bulk lane's every other time, so that a small job is not queued behind
// the parts of big ones.
func ExpressPartSubject(ticket string) string { return PartSubjectPrefix + ticket + ".express" }

// SplitEventSubject returns the ticket and kind of an event subject.
func SplitEventSubject(subj string) (ticket string, kind EventKind, ok bool) {
	rest, ok := strings.CutPrefix(subj, EventSubjectPrefix)
	if !ok {
		return "", "", false
	}
	t, k, ok := strings.Cut(rest, ".")
	return t, EventKind(k), ok && IsTicket(t)
}

// Event is one thing that happened to a job. Seq is the event stream's
// sequence number: filled in when read, usable as an SSE id.
type Event struct {
	Version  int            `json:"v"`
	Kind     EventKind      `json:"kind"`
	Ticket   string         `json:"ticket"`
	Time     time.Time      `json:"time"`
	Seq      uint64         `json:"seq,omitempty"`
	Request  *ExportRequest `json:"request,omitempty"`  // queued
	Plan     []PartSpec     `json:"plan,omitempty"`     // started
	Worker   string         `json:"worker,omitempty"`   // started, progress, part_done
	Parts    int            `json:"parts"`              // started, progress, part_done, succeeded: how many parts the job has
	Part     int            `json:"part,omitempty"`     // progress, part_done: which, from 1
	Rows     int64          `json:"rows,omitempty"`     // progress: so far in the part; part_done: in it; succeeded: in all
	Bytes    int64          `json:"bytes,omitempty"`    // part_done: in it; succeeded: in all
	Estimate int64          `json:"estimate,omitempty"` // started: rows expected
	MetaIDs  MetaIDs        `json:"meta_ids,omitempty"` // started: the meta_id of each node of the query
	URL      string         `json:"url,omitempty"`      // succeeded
	Error    string         `json:"error,omitempty"`    // failed
}

// ExportRequest is what the gateway accepted: the unit of work for a planner.
type ExportRequest struct {
	Ticket      string    `json:"ticket"`
	Query       Query     `json:"query"`
	Client      string    `json:"client,omitempty"`
	URLRoot     string    `json:"datadump_urlroot"`
	SubmittedAt time.Time `json:"submitted_at"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"` // when results and document may be gone
	// Digest of the normalised request, kept when it came with an
	// Idempotency-Key, so that a repeat of the key with another request
	// is told so (gateway's requestDigest).
	Digest string `json:"request_digest,omitempty"`
}

// PartSpec is one partition of a job: a time slice of its query. A job
// with a limit or an offset exports an exact range of rows of each slice:
// Skip rows of the slice's order first, then Take at most (0: all).
type PartSpec struct {
	Part     int       `json:"part"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Estimate int64     `json:"estimate"`
	Skip     int64     `json:"skip,omitempty"`
	Take     int64     `json:"take,omitempty"`
}

// PartTask is the work item for one partition, any exporter may take it.
type PartTask struct {
	Ticket string   `json:"ticket"`
	Parts  int      `json:"parts"`
	Spec   PartSpec `json:"spec"`
	Query  Query    `json:"query"`
	// MetaIDs are the job's, from its started event: every part of a job
	// renders a node with the same meta_id.
	MetaIDs MetaIDs `json:"meta_ids,omitempty"`
}

// PartObject is the object store name of a job's part: deterministic, so a
// redone part replaces itself instead of adding rows. Padded to six digits,
// names list in part order below a million parts; past it they stay distinct.
func PartObject(ticket string, part int) string {
	return ticket + "/" + pad6(part)
}

func pad6(n int) string {
	s := strconv.Itoa(n)
	if len(s) < 6 {
		s = "000000"[len(s):] + s
	}
	return s
}

// IsTicket reports whether s has a ticket's shape: 32 lowercase hex digits.
func IsTicket(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
