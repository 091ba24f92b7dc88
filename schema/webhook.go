package schema

import (
	"slices"
	"strings"
	"time"
)

// Webhook is a registered endpoint: exportd POSTs the events of the kinds
// it wants, of its client's jobs, to URL, signed with Secret. Client is
// the caller that registered it (KeyClient with API keys; empty without,
// when every endpoint is called for every job, as every caller sees every
// job then).
type Webhook struct {
	ID     string      `json:"id"`
	URL    string      `json:"url"`
	Events []EventKind `json:"events"`
	Client string      `json:"client,omitempty"`
	// Ticket, for a job's callback (/download's callback=), is the one job
	// it is called for; empty for an endpoint called for every job.
	Ticket    string    `json:"ticket,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Secret signs the deliveries. It is kept with the endpoint, since
	// every delivering process needs it, and shown to the client once.
	Secret string `json:"secret,omitempty"`
}

// WebhookState is what the delivering processes last saw of an endpoint.
type WebhookState struct {
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	Delivered   int64      `json:"delivered"`
	Failures    int64      `json:"failures"` // attempts that did not get a 2xx
	GivenUp     int64      `json:"given_up"` // events dropped after the maximum age
}

// CallbackEventKinds are what a job's callback is called for: its end.
var CallbackEventKinds = []EventKind{EventSucceeded, EventFailed, EventCancelled}

// AllEventKinds is every kind, in the order a job meets them.
var AllEventKinds = []EventKind{EventQueued, EventStarted, EventProgress, EventPartDone,
	EventSucceeded, EventFailed, EventCancelled, EventExpired}

// ParseEventKinds reads a webhook's list of kinds: comma-separated names,
// or "*" for all. Each kind once, in the order of AllEventKinds.
func ParseEventKinds(list []string) ([]EventKind, bool) {
	want := map[EventKind]bool{}
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			s = strings.TrimSpace(s)
			switch {
			case s == "":
			case s == "*":
				for _, k := range AllEventKinds {
					want[k] = true
				}
			case slices.Contains(AllEventKinds, EventKind(s)):
				want[EventKind(s)] = true
			default:
				return nil, false
			}
		}
	}
	var out []EventKind
	for _, k := range AllEventKinds {
		if want[k] {
			out = append(out, k)
		}
	}
	return out, len(out) > 0
}
