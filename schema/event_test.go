package schema_test

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

var allKinds = []schema.EventKind{
	schema.EventQueued, schema.EventStarted, schema.EventProgress, schema.EventPartDone,
	schema.EventSucceeded, schema.EventFailed, schema.EventCancelled, schema.EventExpired,
}

func TestEventSubjectRoundTrip(t *testing.T) {
	for _, k := range allKinds {
		subj := schema.EventSubject(ticket, k)
		if want := "exports.events." + ticket + "." + string(k); subj != want {
			t.Errorf("got %v, want %v", subj, want)
		}
		gotTicket, gotKind, ok := schema.SplitEventSubject(subj)
		if !ok || gotTicket != ticket || gotKind != k {
			t.Errorf("got %v %v %v, want %v %v true", gotTicket, gotKind, ok, ticket, k)
		}
	}
}

func TestSplitEventSubject(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		wantTicket string
		wantKind   schema.EventKind
		wantOK     bool
	}{
		{name: "an event", input: "exports.events." + ticket + ".part_done", wantTicket: ticket, wantKind: schema.EventPartDone, wantOK: true},
		{name: "another stream", input: "exports.parts." + ticket, wantOK: false},
		{name: "no kind", input: "exports.events." + ticket, wantOK: false},
		{name: "the wildcard", input: schema.EventSubjectAll, wantOK: false},
		{name: "a short ticket", input: "exports.events.12a6.queued", wantOK: false},
		{name: "an upper-case ticket", input: "exports.events.12A639F8F73ACDAB7D48835C9B404664.queued", wantOK: false},
		{name: "empty", input: "", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotTicket, gotKind, gotOK := schema.SplitEventSubject(tt.input)
			if gotOK != tt.wantOK || (tt.wantOK && (gotTicket != tt.wantTicket || gotKind != tt.wantKind)) {
				t.Errorf("got %q %q %v, want %q %q %v", gotTicket, gotKind, gotOK, tt.wantTicket, tt.wantKind, tt.wantOK)
			}
		})
	}
}

func TestSubjects(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{name: "one ticket's events", input: schema.TicketEvents(ticket), want: "exports.events." + ticket + ".>"},
		{name: "one ticket's parts", input: schema.PartSubject(ticket), want: "exports.parts." + ticket},
		{name: "one ticket's express parts", input: schema.ExpressPartSubject(ticket), want: "exports.parts." + ticket + ".express"},
	}
	for _, tt := range tests {
		if tt.input != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.input, tt.want)
		}
	}
}

func TestIsTicket(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  bool
	}{
		{name: "Plenario's example", input: "12a639f8f73acdab7d48835c9b404664", want: true},
		{name: "all zeros", input: "00000000000000000000000000000000", want: true},
		{name: "upper case", input: "12A639F8F73ACDAB7D48835C9B404664", want: false},
		{name: "31 digits", input: "12a639f8f73acdab7d48835c9b40466", want: false},
		{name: "33 digits", input: "12a639f8f73acdab7d48835c9b4046640", want: false},
		{name: "a g", input: "12a639f8f73acdab7d48835c9b40466g", want: false},
		{name: "a dot", input: "12a639f8f73acdab7d48835c9b40466.", want: false},
		{name: "a wildcard", input: "12a639f8f73acdab7d48835c9b40466*", want: false},
		{name: "empty", input: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schema.IsTicket(tt.input); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEventKindTerminal(t *testing.T) {
	want := map[schema.EventKind]bool{schema.EventSucceeded: true, schema.EventFailed: true, schema.EventCancelled: true, schema.EventExpired: true}
	for _, k := range allKinds {
		if got := k.Terminal(); got != want[k] {
			t.Errorf("%s: got %v, want %v", k, got, want[k])
		}
	}
}

func TestPartObject(t *testing.T) {
	tests := []struct {
		name  string
		input int
		want  string
	}{
		{name: "first", input: 1, want: ticket + "/000001"},
		{name: "tenth", input: 10, want: ticket + "/000010"},
		{name: "largest padded", input: 999_999, want: ticket + "/999999"},
		{name: "a million keeps its digits", input: 1_000_000, want: ticket + "/1000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schema.PartObject(ticket, tt.input); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// Object stores list names in lexicographic order; parts must come back in
// the order they were planned.
func TestPartObjectOrder(t *testing.T) {
	var parts []int
	for p := 1; p <= 1200; p++ {
		parts = append(parts, p)
	}
	parts = append(parts, 9_999, 10_000, 99_999, 100_000, 123_456, 999_999)
	names := make([]string, len(parts))
	seen := map[string]int{}
	for i, p := range parts {
		names[i] = schema.PartObject(ticket, p)
		if q, dup := seen[names[i]]; dup {
			t.Fatalf("got %v for parts %d and %d, want distinct names", names[i], q, p)
		}
		seen[names[i]] = p
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	if !reflect.DeepEqual(sorted, names) {
		for i := range names {
			if sorted[i] != names[i] {
				t.Fatalf("got %v at position %d, want %v", sorted[i], i, names[i])
			}
		}
	}
	if _, err := strconv.Atoi(names[0][len(ticket)+1:]); err != nil {
		t.Errorf("got %v, want a number after the slash", names[0])
	}
}

func TestEventJSONRoundTrip(t *testing.T) {
	req := MustRequest(t)
	tests := []struct {
		name  string
		input schema.Event
	}{
		{name: "queued", input: schema.Event{Version: schema.EventVersion, Kind: schema.EventQueued, Ticket: ticket, Time: queueTime, Request: req}},
		{name: "started", input: schema.Event{Version: schema.EventVersion, Kind: schema.EventStarted, Ticket: ticket, Time: queueTime, Parts: 2, Worker: "w",
			Estimate: 9, Plan: []schema.PartSpec{{Part: 1, From: fixedNow.Add(-time.Hour), To: fixedNow, Estimate: 9}}}},
		{name: "succeeded", input: schema.Event{Version: schema.EventVersion, Kind: schema.EventSucceeded, Ticket: ticket, Time: queueTime, Seq: 7, URL: "u", Rows: 3, Bytes: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.input)
			if err != nil {
				t.Fatal(err)
			}
			var got schema.Event
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.input) {
				t.Errorf("got %+v, want %+v", got, tt.input)
			}
		})
	}
}
