package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
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

// FuzzJSONWriter feeds arbitrary bytes, in two chunks, to a JSONWriter: it
// must not panic, must agree with one whole write, and what it writes
// without an error must be JSON.
func FuzzJSONWriter(f *testing.F) {
	f.Add([]byte(readFixture(f, "rows.csv")), uint16(17), false)
	f.Add([]byte(readFixture(f, "rows.csv")), uint16(64), true)
	f.Add([]byte(""), uint16(0), false)
	f.Add([]byte("\n\n"), uint16(1), true)
	f.Add([]byte("0,t,s,f,p,1\n0,t,s,f,q,-2.5e3\n1,t,s,f,p,"), uint16(12), false)
	f.Add([]byte("\"a,\"\"b\",t,s,f,p,1\n"), uint16(3), false)
	f.Add([]byte("0,t,s,f,p,1,2\n"), uint16(5), false)
	f.Add([]byte("0,t,s,f,p,NaN\n"), uint16(5), true)
	f.Add([]byte("\"0\"x,t,s,f,p,1\n"), uint16(2), false)
	f.Add([]byte("0,\x01\xff\"\\,s,f,p,0\r\n"), uint16(9), false)
	f.Fuzz(func(t *testing.T, data []byte, split uint16, ndjson bool) {
		k := int(split) % (len(data) + 1)
		var whole, chunked bytes.Buffer
		errWhole := writeAll(&whole, ndjson, data)
		errChunked := writeAll(&chunked, ndjson, data[:k], data[k:])
		if (errWhole == nil) != (errChunked == nil) {
			t.Fatalf("got errors %v whole and %v split at %d, want the same", errWhole, errChunked, k)
		}
		if errWhole != nil {
			if !errors.Is(errWhole, schema.ErrBadRow) {
				t.Fatalf("got %v, want %v", errWhole, schema.ErrBadRow)
			}
			return
		}
		if !bytes.Equal(whole.Bytes(), chunked.Bytes()) {
			t.Fatalf("got %q split at %d, want %q as whole", chunked.Bytes(), k, whole.Bytes())
		}
		out := whole.Bytes()
		if !ndjson {
			if !json.Valid(out) {
				t.Fatalf("got %q, want valid JSON", out)
			}
			var obs []observationShape
			if err := json.Unmarshal(out, &obs); err != nil {
				t.Fatalf("got %v decoding %q, want observations", err, out)
			}
			return
		}
		if len(out) > 0 && out[len(out)-1] != '\n' {
			t.Fatalf("got %q, want one object a line", out)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
			if len(out) == 0 {
				break
			}
			var o observationShape
			if err := json.Unmarshal([]byte(line), &o); err != nil {
				t.Fatalf("got %v decoding line %q, want an observation", err, line)
			}
		}
	})
}

// observationShape is an Observation whose values may be any JSON number,
// even one past float64, or null: the writer copies stored values verbatim.
type observationShape struct {
	Node     string                  `json:"node"`
	Datetime string                  `json:"datetime"`
	Sensor   string                  `json:"sensor"`
	Feature  string                  `json:"feature"`
	Results  map[string]*json.Number `json:"results"`
}

func writeAll(out *bytes.Buffer, ndjson bool, chunks ...[]byte) error {
	w := schema.NewJSONWriter(out, ndjson)
	for _, c := range chunks {
		if _, err := w.Write(c); err != nil {
			return err
		}
	}
	return w.Close()
}
