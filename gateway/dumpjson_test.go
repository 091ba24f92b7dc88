package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// ddEnvelope is Plenario's datadump around a job's JSON observations:
// {"data":[ before them, and after them ],"startTime":…,"endTime":…,
// "workers":[…]}.
type ddEnvelope struct {
	head, tail string
	ids        schema.MetaIDs // of the network's nodes, read from ClickHouse
}

func (f *ddFixture) envelope(t *testing.T) ddEnvelope {
	t.Helper()
	job := f.svc.Job(t, f.ticket)
	m := job.Status.Meta
	start, _ := json.Marshal(m.StartTime)
	end, _ := json.Marshal(m.EndTime)
	workers, _ := json.Marshal(m.Workers)
	n, err := f.svc.Store.Network(context.Background(), job.Request.Query.Network)
	if err != nil {
		t.Fatal(err)
	}
	return ddEnvelope{head: `{"data":[`, tail: `],"startTime":` + string(start) + `,"endTime":` + string(end) + `,"workers":` + string(workers) + "}\n",
		ids: n.MetaIDs(nil)}
}

// jsonOfCSV is what one renderer makes of a whole CSV download, with each
// node's meta_id: NDJSON, or JSON in Plenario's envelope (the fragment's
// first byte, the comma before the first observation, left out).
func (f *ddFixture) jsonOfCSV(t *testing.T, csv []byte, ndjson bool) []byte {
	t.Helper()
	env := f.envelope(t)
	format := schema.FormatJSON
	if ndjson {
		format = schema.FormatNDJSON
	}
	var frag bytes.Buffer
	jw := result.NewFragmentWriter(&frag, format, env.ids)
	if _, err := jw.Write(csv[len(schema.CSVHeader):]); err != nil {
		t.Fatal(err)
	}
	if err := jw.Close(); err != nil {
		t.Fatal(err)
	}
	if ndjson {
		return frag.Bytes()
	}
	obs := frag.Bytes()
	if len(obs) > 0 {
		obs = obs[1:]
	}
	return append(append([]byte(env.head), obs...), env.tail...)
}

// keysInOrder returns the keys of the JSON object data, in their order.
func keysInOrder(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("got %v (%v), want an object: %.100s", tok, err, data)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// A Plenario client asks for a dump without data_type, polls, then opens
// the result link: it gets JSON in Plenario's envelope, with the job's
// times and workers, every value, and each node's meta_id in every
// observation, whose keys come in Plenario's order.
func TestDatadumpPlenarioEnvelope(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{PartRows: 2000})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), ddRows, ddSeedEnd); err != nil {
		t.Fatal(err)
	}
	window := "start_datetime=" + ddSeedEnd.Add(-7*24*time.Hour).Format(schema.DatetimeLayout) + "&end_datetime=" + ddSeedEnd.Format(schema.DatetimeLayout)
	code, body := testenv.Get(t, svc.URL+"/v1/api/sensor-networks/array_of_things/download?"+window)
	if code != http.StatusOK || bytes.Contains(body, []byte("data_type")) {
		t.Fatalf("got %d %.300s, want 200 echoing no data_type", code, body)
	}
	var job schema.Job
	if err := json.Unmarshal(body, &job); err != nil {
		t.Fatal(err)
	}
	job = svc.Wait(t, job.Ticket, time.Minute)
	res, _ := job.Result.(map[string]any)
	link, _ := res["url"].(string)
	if job.Status.Status != schema.StatusSuccess || link != svc.URL+"/v1/api/datadump/"+job.Ticket {
		t.Fatalf("got %s with result %v, want success and the plain datadump link", job.Status.Status, job.Result)
	}

	resp, dump := testenv.Do(t, "GET", link)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" ||
		resp.Header.Get("Content-Disposition") != "attachment; filename=array_of_things.datadump.json" || resp.ContentLength != int64(len(dump)) {
		t.Fatalf("got %d %v (%d bytes), want 200, JSON, a .json attachment and an exact length", resp.StatusCode, resp.Header, len(dump))
	}
	// Plenario's keys; the observations first, so that they stream.
	if got := keysInOrder(t, dump); strings.Join(got, ",") != "data,startTime,endTime,workers" {
		t.Fatalf("got keys %v, want Plenario's data, startTime, endTime, workers", got)
	}
	var env struct {
		StartTime string            `json:"startTime"`
		EndTime   string            `json:"endTime"`
		Workers   []string          `json:"workers"`
		Data      []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(dump, &env); err != nil {
		t.Fatal(err)
	}
	m := job.Status.Meta
	if env.StartTime != m.StartTime || env.EndTime != m.EndTime || strings.Join(env.Workers, ",") != strings.Join(m.Workers, ",") || len(env.Workers) == 0 {
		t.Errorf("got %s %s %v, want the job's %s %s %v", env.StartTime, env.EndTime, env.Workers, m.StartTime, m.EndTime, m.Workers)
	}
	if n, err := testenv.ResultValues(dump); err != nil || n != ddRows {
		t.Errorf("got %d values (%v), want the %d ClickHouse holds", n, err, ddRows)
	}
	// meta_id: one number per node, the same in every observation of it
	// and in /query, and another for another node.
	byNode := map[string]uint32{}
	for i, raw := range env.Data {
		if i < 3 {
			if got := keysInOrder(t, raw); strings.Join(got, ",") != "node,meta_id,datetime,sensor,feature,results" {
				t.Fatalf("got keys %v, want Plenario's node, meta_id, datetime, sensor, feature, results", got)
			}
		}
		var o schema.Observation
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		if id, ok := byNode[o.Node]; o.MetaID == 0 || ok && id != o.MetaID {
			t.Fatalf("node %s: got meta_id %d, want one number, not 0, for all its rows (first %d)", o.Node, o.MetaID, id)
		}
		byNode[o.Node] = o.MetaID
	}
	distinct := map[uint32]bool{}
	for _, id := range byNode {
		distinct[id] = true
	}
	if len(byNode) != chstore.DemoNodes || len(distinct) != len(byNode) {
		t.Errorf("got %d meta_ids for %d nodes, want one each of %d", len(distinct), len(byNode), chstore.DemoNodes)
	}
	var q struct{ Data []schema.Observation }
	ddGetJSON(t, svc.URL+"/v1/api/sensor-networks/array_of_things/query?feature=temperature&limit=200&"+window, &q)
	if len(q.Data) == 0 {
		t.Fatal("/query: no observations")
	}
	for _, o := range q.Data {
		if o.MetaID != byNode[o.Node] {
			t.Fatalf("/query: node %s has meta_id %d, the download %d", o.Node, o.MetaID, byNode[o.Node])
		}
	}
	// NDJSON: one observation a line, with its meta_id.
	_, nd := testenv.Do(t, "GET", link+"?data_type=ndjson")
	lines := bytes.Split(bytes.TrimSuffix(nd, []byte("\n")), []byte("\n"))
	var first schema.Observation
	if len(lines) != len(env.Data) || json.Unmarshal(lines[0], &first) != nil || first.MetaID != byNode[first.Node] {
		t.Errorf("NDJSON: got %d lines, first %s; want %d, with the node's meta_id", len(lines), lines[0], len(env.Data))
	}
}

// A format chosen at submit is named in the echoed query and in the
// result link, and is what the link serves.
func TestDatadumpFormatOfSubmit(t *testing.T) {
	f := ddFinishedJob(t) // asks for data_type=csv
	job := f.svc.Job(t, f.ticket)
	res, _ := job.Result.(map[string]any)
	if job.Request.Query.DataType != schema.FormatCSV || res["url"] != f.dump+"?data_type=csv" {
		t.Fatalf("got data_type %q, url %v; want csv in both", job.Request.Query.DataType, res["url"])
	}
	resp, body := testenv.Do(t, "GET", f.dump)
	if resp.Header.Get("Content-Disposition") != "attachment; filename=array_of_things.datadump.csv" || !bytes.HasPrefix(body, []byte(schema.CSVHeader)) {
		t.Errorf("got %v %.80q, want the CSV", resp.Header, body)
	}
}

// The datadump of a job without a result answers as Plenario's did: 200
// with the job document, Retry-After while it may still get one.
func TestDatadumpNotReady(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), 900, ddSeedEnd); err != nil {
		t.Fatal(err)
	}
	ticket := svc.Submit(t, "array_of_things", "")
	check := func(status string, retry bool) {
		t.Helper()
		for _, q := range []string{"", "?data_type=json", "?data_type=csv"} {
			resp, body := testenv.Do(t, "GET", svc.URL+"/v1/api/datadump/"+ticket+q)
			var doc schema.Job
			if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &doc) != nil || doc.Ticket != ticket || doc.Status.Status != status ||
				(resp.Header.Get("Retry-After") != "") != retry || resp.Header.Get("Content-Disposition") != "" {
				t.Fatalf("%s: got %d %.300s (Retry-After %q), want 200 with the %s job's document", q, resp.StatusCode, body,
					resp.Header.Get("Retry-After"), status)
			}
		}
	}
	check(schema.StatusQueued, true)
	if resp, _ := testenv.Do(t, "DELETE", svc.URL+"/v1/api/jobs/"+ticket); resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: got %d", resp.StatusCode)
	}
	testenv.Eventually(t, 10*time.Second, "the job is cancelled", func() bool {
		return svc.Job(t, ticket).Status.Status == schema.StatusCancelled
	})
	check(schema.StatusCancelled, false)
}

// metaID is node's meta_id (of the fixture's network) worked out from its
// metadata as ClickHouse holds it: what /query and the downloads must say.
func (f *fixture) metaID(t *testing.T, node string) uint32 { return f.metaIDIn(t, network, node) }

// metaIDIn is metaID of a node of network net.
func (f *fixture) metaIDIn(t *testing.T, net, node string) uint32 {
	t.Helper()
	metaIDsMu.Lock()
	defer metaIDsMu.Unlock()
	ids, ok := metaIDs[f.db+"/"+net]
	if !ok {
		n, err := f.svc.Store.Network(context.Background(), net)
		if err != nil {
			t.Fatal(err)
		}
		ids = n.MetaIDs(nil)
		metaIDs[f.db+"/"+net] = ids
	}
	return ids[node]
}

// metaIDs are the meta_ids of each fixture's networks, by database and network.
var (
	metaIDsMu sync.Mutex
	metaIDs   = map[string]schema.MetaIDs{}
)
