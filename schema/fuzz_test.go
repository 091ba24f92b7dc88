package schema_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// FuzzParseQuery feeds raw query strings to both endpoints: ParseQuery must
// not panic, must fail only with an Invalid *schema.Error, and what it
// accepts must be a query a reader can run as is.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"",
		"features=temperature",
		"features=temperature.temperature,TEMPERATURE,magnetic_field.x",
		"feature=Magnetic_Field.Y&limit=10000&offset=0",
		"feature=temperature&limit=abc&offset=-1",
		"feature=temperature,humidity",
		"nodes=00a,000&sensors=TMP112",
		"nodes=&sensors=,&features=%20",
		"start_datetime=2017-1-1&end_datetime=2016-12-1T00:00:00.000",
		"start_datetime=2016-12-01+10:00&end_datetime=2017-01-01T10:00:00.5%2B02:00",
		"start_datetime=1970-01-01T00:00:00%2B14:00",
		"end_datetime=1970-01-03",
		"end_datetime=2105-12-31T23:59:59.999999999",
		"start_datetime=2017-2-30&end_datetime=yesterday",
		"bogus=1&Features=x",
		"geom=" + url.QueryEscape(`{"type":"Polygon","coordinates":[[[-87.64,41.87],[-87.62,41.87],[-87.62,41.89],[-87.64,41.89],[-87.64,41.87]]]}`),
		"geom=" + url.QueryEscape(`{"type":"Point","coordinates":[-87.7,41.9]}`) + "&nodes=00A,00C",
		"geom=" + url.QueryEscape(`{"type":"LineString","coordinates":[[-87.72,41.9008],[-87.7,41.9008]]}`),
		"geom=" + url.QueryEscape(`{"type":"Feature","geometry":{"type":"MultiPoint","coordinates":[]}}`),
		"geom=" + url.QueryEscape(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null}]}`),
		"geom=" + url.QueryEscape(`{"type":"MultiPolygon","coordinates":[[]]}`),
		"geom=" + url.QueryEscape(`{"type":"Point"}`),
		"geom=" + url.QueryEscape(`{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[0,0]}]}`),
		"geom=null&geom=1",
		"limit=1&offset=1",
	} {
		f.Add(s)
	}
	n := MustNetwork(f)
	f.Fuzz(func(t *testing.T, raw string) {
		args, err := url.ParseQuery(raw)
		if err != nil {
			t.Skip()
		}
		for _, ep := range []schema.Endpoint{schema.Download, schema.Raw} {
			q, err := schema.ParseQuery(ep, args, n, fixedNow)
			if err != nil {
				var e *schema.Error
				if !errors.As(err, &e) || e.Code != schema.Invalid || len(e.Fields) == 0 {
					t.Fatalf("endpoint %d: got error %#v, want an Invalid *schema.Error with fields", ep, err)
				}
				continue
			}
			checkQuery(t, ep, n, q)
			checkQueryJSON(t, q)
			checkQueryJSON(t, q.Compact())
			if ep == schema.Download {
				checkQueuedJSON(t, q, time.Time{})
			}
		}
	})
}

// checkQuery asserts what every accepted query promises.
func checkQuery(t *testing.T, ep schema.Endpoint, n *schema.Network, q schema.Query) {
	t.Helper()
	if len(q.Features) == 0 || len(q.Nodes) == 0 || len(q.Sensors) == 0 {
		t.Fatalf("endpoint %d: got %+v, want non-empty features, nodes and sensors", ep, q)
	}
	for _, sel := range q.Features {
		f, ok := n.Feature(sel.Feature)
		if !ok || f.Name != sel.Feature {
			t.Fatalf("got feature %q, want one of the network's", sel.Feature)
		}
		if sel.Property != "" {
			if p, ok := f.Property(sel.Property); !ok || p.Name != sel.Property {
				t.Fatalf("got property %q, want one of %s's", sel.Property, f.Name)
			}
		}
	}
	for _, id := range q.Nodes {
		if x, ok := n.Node(id); !ok || x.ID != id {
			t.Fatalf("got node %q, want one of the network's", id)
		}
	}
	for _, s := range q.Sensors {
		if x, ok := n.Sensor(s); !ok || x.Name != s {
			t.Fatalf("got sensor %q, want one of the network's", s)
		}
	}
	if !q.Start.Before(q.End) || q.Start.Location() != time.UTC || q.End.Location() != time.UTC ||
		q.Start.Nanosecond() != 0 || q.End.Nanosecond() != 0 {
		t.Fatalf("got window [%v, %v), want a non-empty UTC window of whole seconds", q.Start, q.End)
	}
	if q.Start.Year() < 1970 || q.End.Year() > 2106 {
		t.Fatalf("got window [%v, %v), want it within ClickHouse DateTime", q.Start, q.End)
	}
	if ep == schema.Raw && (len(q.Features) != 1 || q.Limit < 1 || q.Limit > schema.MaxLimit || q.Offset < 0 || q.Offset > schema.MaxOffset) {
		t.Fatalf("got %+v, want one feature, limit in [1, %d], offset in [0, %d]", q, schema.MaxLimit, schema.MaxOffset)
	}
	if len(q.Geom) > 0 && !json.Valid(q.Geom) {
		t.Fatalf("got geom echo %q, want JSON", q.Geom)
	}
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatalf("got error %v marshalling %+v, want nil", err, q)
	}
	var back schema.Query
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("got error %v unmarshalling %s, want nil", err, b)
	}
	if !reflect.DeepEqual(back, q) {
		t.Fatalf("got %+v back from %s, want %+v", back, b, q)
	}
}
