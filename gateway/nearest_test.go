package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

// getNearest fetches /nearest with the raw query q and returns its one
// item of data, raw.
func (f *fixture) getNearest(t *testing.T, base, q string) json.RawMessage {
	t.Helper()
	var r struct {
		Meta struct {
			Query   map[string]any `json:"query"`
			Total   int            `json:"total"`
			Message []string       `json:"message"`
		} `json:"meta"`
		Data []json.RawMessage `json:"data"`
	}
	getJSON(t, base+"/nearest?"+q, &r)
	if len(r.Data) != 1 || r.Meta.Total != 1 || r.Meta.Message == nil || r.Meta.Query == nil {
		t.Fatalf("%s: meta %+v, %d items; want one item, total 1, the query", q, r.Meta, len(r.Data))
	}
	return r.Data[0]
}

// wantReading checks that item is the reading the hand query finds: node's
// feature readings within 12 hours of at, closest first, the earlier of
// two as close, the first sensor of that second.
func (f *fixture) wantReading(t *testing.T, item json.RawMessage, network, node, feature string, at time.Time) {
	t.Helper()
	var got schema.Observation
	if err := json.Unmarshal(item, &got); err != nil {
		t.Fatalf("%s: %v", item, err)
	}
	var ts time.Time
	err := f.ch.QueryRow(context.Background(), fmt.Sprintf("SELECT ts FROM observations WHERE network = '%s' AND node_id = '%s' AND feature = '%s'"+
		" AND abs(toInt64(ts) - %d) <= 43200 ORDER BY abs(toInt64(ts) - %d), ts LIMIT 1", network, node, feature, at.Unix(), at.Unix())).Scan(&ts)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.ch.Query(context.Background(), fmt.Sprintf("SELECT sensor, groupArray(property), groupArray(value) FROM observations"+
		" WHERE network = '%s' AND node_id = '%s' AND feature = '%s' AND ts = toDateTime(%d) GROUP BY sensor ORDER BY sensor LIMIT 1",
		network, node, feature, ts.Unix()))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := schema.Observation{Node: node, MetaID: f.metaIDIn(t, network, node), Datetime: ts.UTC().Format(schema.DatetimeLayout), Feature: feature,
		Results: map[string]float64{}}
	for rows.Next() {
		var props []string
		var vals []float64
		if err := rows.Scan(&want.Sensor, &props, &vals); err != nil {
			t.Fatal(err)
		}
		for i, p := range props {
			want.Results[p] = vals[i]
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// TestNearest: the reading closest in time of the nearest node that has
// one, within 12 hours; Plenario's sentences when there is none.
func TestNearest(t *testing.T) {
	f := startFixture(t)
	demo := chstore.DemoNetwork(network)
	n0 := demo.Nodes[0]
	tick := seedEnd.Add(-36 * time.Minute * 100) // a reading of every node
	for _, c := range []struct {
		name string
		at   time.Time
	}{
		{"on a reading", tick},
		{"after one, nearer it", tick.Add(10 * time.Minute)},
		{"before the next, nearer it", tick.Add(26 * time.Minute)},
		{"half way: the earlier", tick.Add(18 * time.Minute)},
		{"11 hours after the last", seedEnd.Add(11 * time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := fmt.Sprintf("lat=%v&lng=%v&feature=temperature&datetime=%s", n0.Lat+0.001, n0.Lon-0.001, c.at.Format(time.RFC3339))
			f.wantReading(t, f.getNearest(t, f.url, q), network, n0.ID, "temperature", c.at)
		})
	}
	t.Run("one property", func(t *testing.T) {
		item := f.getNearest(t, f.url, fmt.Sprintf("lat=%v&lng=%v&feature=magnetic_field.y&datetime=%s", n0.Lat, n0.Lon, tick.Format(time.RFC3339)))
		var o schema.Observation
		if err := json.Unmarshal(item, &o); err != nil || o.Node != n0.ID || len(o.Results) != 1 || o.Feature != "magnetic_field" {
			t.Fatalf("got %s, want node %s's magnetic_field with y only", item, n0.ID)
		}
	})
	t.Run("nothing within 12 hours", func(t *testing.T) {
		item := f.getNearest(t, f.url, fmt.Sprintf("lat=%v&lng=%v&feature=temperature&datetime=%s", n0.Lat, n0.Lon, seedEnd.Add(13*time.Hour).Format(time.RFC3339)))
		if string(item) != `"`+schema.MsgNoNearbyReport+`"` {
			t.Fatalf("got %s, want %q", item, schema.MsgNoNearbyReport)
		}
	})

	// A network whose nearest node has no readings and whose farthest
	// carries no temperature sensor.
	tiny := &schema.Network{Name: "tiny", Sensors: demo.Sensors, Features: demo.Features, Nodes: []schema.Node{
		{ID: "a", Network: "tiny", Lat: 41.0, Lon: -87.0, Sensors: []string{"tmp112"}},
		{ID: "b", Network: "tiny", Lat: 41.1, Lon: -87.0, Sensors: []string{"htu21d"}},
		{ID: "c", Network: "tiny", Lat: 40.0, Lon: -87.0, Sensors: []string{"hmc5883l"}},
	}}
	if err := f.svc.Store.SaveNetwork(context.Background(), tiny); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	f.insert(t, "tiny", "b", at.Add(-time.Hour), "htu21d", "temperature", "temperature", 21.5)
	f.insert(t, "tiny", "b", at.Add(-time.Hour), "htu21d", "relative_humidity", "humidity", 40)
	f.insert(t, "tiny", "c", at, "hmc5883l", "magnetic_field", "x", 0.5)
	base := f.svc.URL + "/v1/api/sensor-networks/tiny"
	f.wantReading(t, f.getNearest(t, base, "lat=41&lng=-87&feature=temperature&datetime=2026-10-01T12:00:00"), "tiny", "b", "temperature", at)
	if item := f.getNearest(t, base, "lat=41&lng=-87&feature=light_intensity"); string(item) != `"`+schema.MsgNoNearbyNodes+`"` {
		t.Fatalf("got %s, want %q", item, schema.MsgNoNearbyNodes)
	}
}

// insert writes one observed value by hand.
func (f *fixture) insert(t *testing.T, network, node string, ts time.Time, sensor, feature, prop string, v float64) {
	t.Helper()
	b, err := f.ch.PrepareBatch(context.Background(), "INSERT INTO observations (network, node_id, ts, sensor, feature, property, value)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(network, node, ts, sensor, feature, prop, v); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

func TestNearestErrors(t *testing.T) {
	f := startFixture(t)
	for _, c := range []struct {
		query string
		want  map[string]string
	}{
		{"", map[string]string{"lat": "Missing data for required field.", "lng": "Missing data for required field.",
			"feature": "Missing data for required field."}},
		{"lat=north&lng=NaN&feature=temperature", map[string]string{"lat": "Not a valid number.", "lng": "Not a valid number."}},
		{"lat=91&lng=-87&feature=temperature", map[string]string{"lat": "Must be between -90 and 90."}},
		{"lat=41&lon=-87&feature=bogus&datetime=noon", map[string]string{"lng": "Missing data for required field.",
			"lon": "Not a valid filter", "feature": "Invalid feature of interest name: bogus", "datetime": "Not a valid datetime."}},
	} {
		wantError(t, f.url+"/nearest?"+c.query, http.StatusBadRequest, c.want)
	}
	wantError(t, f.svc.URL+"/v1/api/sensor-networks/nowhere/nearest?lat=41&lng=-87&feature=temperature",
		http.StatusBadRequest, map[string]string{"network": "Invalid network name: nowhere"})
}
