package compat_test

import (
	"context"
	"encoding/json"
	"math/rand"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// Plenario's fixture network (tests/test_sensor_network/fixtures.py): two
// nodes at one place on Chicago's Nichols Bridgeway, three sensors, the
// features temperature and vector, and a second network with nothing in it.
const (
	testNetwork = "test_network"
	otherNet    = "test_network_other"
	nodeLon     = -87.623177 // the fixtures' WKB point 0101000020E6100000A4A7C821E2E755C07C48F8DEDFF04440
	nodeLat     = 41.881832
	address     = "Nichols Bridgeway, Chicago, IL 60601, USA"
)

func fixtureNetworks() []*schema.Network {
	n := &schema.Network{Name: testNetwork, Info: map[string]any{},
		Nodes: []schema.Node{
			{ID: "test_node", Network: testNetwork, Lon: nodeLon, Lat: nodeLat, Address: address,
				Sensors: []string{"sensor_01", "sensor_02", "sensor_03"}},
			{ID: "node_2", Network: testNetwork, Lon: nodeLon, Lat: nodeLat, Sensors: []string{"sensor_01", "sensor_02"}},
		},
		Sensors: []schema.Sensor{
			{Name: "sensor_01", Properties: []string{"temperature.temperature"}},
			{Name: "sensor_02", Properties: []string{"vector.x", "vector.y"}},
			{Name: "sensor_03", Properties: []string{"temperature.temperature"}},
		},
		// As the fixtures stored them: a type, no unit, no common name.
		Features: []schema.Feature{
			{Name: "temperature", Properties: []schema.Property{{Name: "temperature", Type: "float"}}},
			{Name: "vector", Properties: []schema.Property{{Name: "x", Type: "float"}, {Name: "y", Type: "float"}}},
		},
	}
	return []*schema.Network{n, {Name: otherNet, Info: map[string]any{}}}
}

// The fixtures' observations: for i in 0..299, day 1 + i/100 of October
// 2016 at a random time, one vector reading of test_node by sensor_02 and
// one temperature reading each of (test_node, sensor_03), (test_node,
// sensor_01) and (node_2, sensor_01). The times here are distinct within a
// day, so that no two readings of one node, sensor and feature merge.
//
// liveReadings more are temperature readings of node_2 by sensor_01 in the
// hour before the test starts, for the explorer's calls, which ask for
// the last hour or week; and one 30 days before it, which only /query's
// default window (90 days at T) reaches.
const liveReadings = 3

type plenario struct {
	svc   *testenv.Service
	api   string // .../v1/api
	net   string // .../v1/api/sensor-networks/test_network
	start time.Time
}

func startPlenario(t *testing.T) *plenario {
	t.Helper()
	return startPlenarioWith(t, testenv.ServiceOptions{})
}

// startPlenarioWith is startPlenario on a service started with o.
func startPlenarioWith(t *testing.T, o testenv.ServiceOptions) *plenario {
	t.Helper()
	svc := testenv.StartService(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, n := range fixtureNetworks() {
		if err := svc.Store.SaveNetwork(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	ch, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()},
		Auth: clickhouse.Auth{Database: svc.Store.Database()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	b, err := ch.PrepareBatch(ctx, "INSERT INTO observations (network, node_id, ts, sensor, feature, property, value)")
	if err != nil {
		t.Fatal(err)
	}
	add := func(node string, ts time.Time, sensor, feature, prop string, v float64) {
		if err := b.Append(testNetwork, node, ts, sensor, feature, prop, v); err != nil {
			t.Fatal(err)
		}
	}
	rnd := rand.New(rand.NewSource(1))
	for day := 1; day <= 3; day++ {
		for _, sec := range rnd.Perm(86400)[:100] {
			ts := time.Date(2016, 10, day, 0, 0, sec, 0, time.UTC)
			add("test_node", ts, "sensor_02", "vector", "x", rnd.Float64())
			add("test_node", ts, "sensor_02", "vector", "y", rnd.Float64())
			add("test_node", ts, "sensor_03", "temperature", "temperature", rnd.Float64())
			add("test_node", ts, "sensor_01", "temperature", "temperature", rnd.Float64())
			add("node_2", ts, "sensor_01", "temperature", "temperature", rnd.Float64())
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i := 1; i <= liveReadings; i++ {
		add("node_2", now.Add(-time.Duration(i)*10*time.Minute), "sensor_01", "temperature", "temperature", float64(20+i))
	}
	add("node_2", now.Add(-30*24*time.Hour), "sensor_01", "temperature", "temperature", 19)
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	api := svc.URL + "/v1/api"
	return &plenario{svc: svc, api: api, net: api + "/sensor-networks/" + testNetwork, start: now}
}

// answer is one response as a Plenario client sees it.
type answer struct {
	code int
	hdr  http.Header
	body []byte
	doc  map[string]any // the body as JSON, nil if it is not an object
}

func get(t *testing.T, u string, hdr ...string) answer {
	t.Helper()
	resp, body := testenv.Do(t, http.MethodGet, u, hdr...)
	return answerOf(resp, body)
}

// answerOf is a response with its body read.
func answerOf(resp *http.Response, body []byte) answer {
	a := answer{code: resp.StatusCode, hdr: resp.Header, body: body}
	_ = json.Unmarshal(body, &a.doc)
	return a
}

// getJSON fetches u and fails unless the answer is want with a JSON object.
func getJSON(t *testing.T, u string, want int) answer {
	t.Helper()
	a := get(t, u)
	if a.code != want || a.doc == nil {
		t.Fatalf("GET %.300s: got %d %.600s, want %d with a JSON object", u, a.code, a.body, want)
	}
	return a
}

// total is meta.total of a Plenario envelope.
func (a answer) total(t *testing.T) int {
	t.Helper()
	meta, _ := a.doc["meta"].(map[string]any)
	n, ok := meta["total"].(float64)
	if !ok {
		t.Fatalf("no meta.total in %.600s", a.body)
	}
	return int(n)
}

// data is the envelope's data list.
func (a answer) data(t *testing.T) []any {
	t.Helper()
	d, ok := a.doc["data"].([]any)
	if !ok {
		t.Fatalf("no data list in %.600s", a.body)
	}
	return d
}

// path walks a JSON document by object keys and list indexes ("0").
func path(v any, keys ...string) any {
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// wantError checks Plenario's 400: {"meta":{"query":{…}},"error":…}, and
// that field's messages (a list, or T's and H's plain strings) hold msg.
func wantError(t *testing.T, u, field, msg string) {
	t.Helper()
	a := get(t, u)
	if a.code != http.StatusBadRequest || a.doc == nil {
		t.Fatalf("GET %.300s: got %d %.500s, want 400", u, a.code, a.body)
	}
	if _, ok := path(a.doc, "meta", "query").(map[string]any); !ok {
		t.Errorf("GET %.300s: no meta.query in %.500s", u, a.body)
	}
	var got any = a.doc["error"]
	if field != "" {
		got = path(a.doc, "error", field)
	}
	switch g := got.(type) {
	case string:
		if g == msg {
			return
		}
	case []any:
		for _, m := range g {
			if m == msg {
				return
			}
		}
	}
	t.Errorf("GET %.300s: error %s is %v, want %q in it (body %.500s)", u, field, got, msg, a.body)
}

// q builds a query string from name, value pairs, encoded as a browser would.
func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}
