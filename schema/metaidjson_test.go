package schema_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/plenario-next/exportd/schema"
)

// metaIDsSeeds are what we write, and forms we do not, for the hand-written
// reader of MetaIDs.
var metaIDsSeeds = []string{
	`{}`, `null`, `{"001e0610b000":123}`, `{"a":1,"b":4294967295}`, `{"a":0}`,
	`{"a":4294967296}`, `{"a":-1}`, `{"a":01}`, `{"a":1.5}`, `{"a":1e3}`, `{"a":"1"}`,
	`{ "a": 1 }`, `{"a":1,}`, `{"a":1,"a":2}`, `{"\u00e9":1}`, `{"é":2}`, `{"a\"b":3}`, `{"<x>":4}`,
	`{"a":1}x`, `[1]`, `{"a":}`, `{"a"1}`, `{"":7}`, `{`, `}`, `{"a":1"b":2}`,
}

// MetaIDs read by hand must be what json.Unmarshal reads into a plain map,
// errors included, for what we write and for what we do not.
func TestMetaIDsUnmarshalJSON(t *testing.T) {
	for _, in := range metaIDsSeeds {
		t.Run(in, func(t *testing.T) { checkMetaIDs(t, []byte(in)) })
	}
}

// FuzzMetaIDsUnmarshalJSON holds the hand-written reader to json.Unmarshal
// beyond the seeds: any bytes, read both ways, give the same map or both
// an error.
func FuzzMetaIDsUnmarshalJSON(f *testing.F) {
	for _, in := range metaIDsSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(checkMetaIDs)
}

func checkMetaIDs(t *testing.T, in []byte) {
	var want map[string]uint32
	wantErr := json.Unmarshal(in, &want)
	var got schema.MetaIDs
	gotErr := json.Unmarshal(in, &got)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%q: got error %v, want %v", in, gotErr, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(map[string]uint32(got), want) {
		t.Errorf("%q: got %#v, want %#v", in, got, want)
	}
}

// Decoded into a record that already holds meta_ids, they are merged as
// json.Unmarshal merges into a map; a started event's round trip keeps them.
func TestMetaIDsMerge(t *testing.T) {
	got := schema.MetaIDs{"a": 1, "b": 2}
	if err := json.Unmarshal([]byte(`{"b":3,"c":4}`), &got); err != nil {
		t.Fatal(err)
	}
	if want := (schema.MetaIDs{"a": 1, "b": 3, "c": 4}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	ids := schema.MetaIDs{}
	for i := range 100 {
		ids[fmt.Sprintf("001e0610%04x", 0xb000+i)] = uint32(i * 7919)
	}
	b, err := json.Marshal(schema.Event{Kind: schema.EventStarted, Ticket: "t", MetaIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	var e schema.Event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(e.MetaIDs, ids) {
		t.Errorf("got %v, want %v", e.MetaIDs, ids)
	}
}

// BenchmarkMetaIDsDecode decodes a started event with a hundred nodes'
// meta_ids, as the projector does every job's.
//
//	go test ./schema -run '^$' -bench MetaIDsDecode -benchmem
func BenchmarkMetaIDsDecode(b *testing.B) {
	ids := schema.MetaIDs{}
	for i := range 100 {
		ids[fmt.Sprintf("001e0610%04x", 0xb000+i)] = uint32(i*7919 + 1)
	}
	data, err := json.Marshal(schema.Event{Kind: schema.EventStarted, Ticket: "0123456789abcdef0123456789abcdef", MetaIDs: ids})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("event", func(b *testing.B) {
		for b.Loop() {
			var e schema.Event
			if err := json.Unmarshal(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
