package gateway_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// aggValue is one property of one bucket as a client reads it.
type aggValue struct {
	Value *float64
	Count int
}

// aggBucket is one element of /aggregate's data.
type aggBucket struct {
	Time  string
	Props map[string]aggValue
}

// getAggregate fetches /aggregate with q, checks the envelope and decodes
// the buckets, each holding exactly the function fn and count per property.
func (f *fixture) getAggregate(t *testing.T, q url.Values, fn string) (map[string]any, []aggBucket) {
	t.Helper()
	var r struct {
		Meta struct {
			Query   map[string]any `json:"query"`
			Total   *int           `json:"total"`
			Message []string       `json:"message"`
		} `json:"meta"`
		Data []map[string]json.RawMessage `json:"data"`
	}
	getJSON(t, f.url+"/aggregate?"+q.Encode(), &r)
	if r.Meta.Total == nil || *r.Meta.Total != len(r.Data) || r.Meta.Message == nil || r.Meta.Query == nil {
		t.Fatalf("meta %+v for %d buckets, want the total, an empty message list and the query", r.Meta, len(r.Data))
	}
	out := []aggBucket{}
	for _, raw := range r.Data {
		b := aggBucket{Props: map[string]aggValue{}}
		for k, v := range raw {
			if k == "time_bucket" {
				if err := json.Unmarshal(v, &b.Time); err != nil {
					t.Fatalf("time_bucket %s: %v", v, err)
				}
				continue
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v, &m); err != nil || len(m) != 2 || m[fn] == nil || m["count"] == nil {
				t.Fatalf("%s is %s, want {%q: value, \"count\": n}", k, v, fn)
			}
			var av aggValue
			if err := json.Unmarshal(m[fn], &av.Value); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(m["count"], &av.Count); err != nil {
				t.Fatal(err)
			}
			b.Props[k] = av
		}
		out = append(out, b)
	}
	return r.Meta.Query, out
}

// handBucket truncates t to its bucket the long way, independently of the
// gateway's code: weeks start on Monday.
func handBucket(t time.Time, agg string) time.Time {
	y, m, d := t.Date()
	switch agg {
	case "minute":
		return time.Date(y, m, d, t.Hour(), t.Minute(), 0, 0, time.UTC)
	case "hour":
		return time.Date(y, m, d, t.Hour(), 0, 0, 0, time.UTC)
	case "day":
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	case "week":
		back := (int(t.Weekday()) + 6) % 7
		return time.Date(y, m, d-back, 0, 0, 0, 0, time.UTC)
	case "month":
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
}

// handStat is Plenario's (Postgres') function fn of vs.
func handStat(fn string, vs []float64) *float64 {
	n := float64(len(vs))
	mean := 0.0
	for _, v := range vs {
		mean += v / n
	}
	ss := 0.0
	for _, v := range vs {
		ss += (v - mean) * (v - mean)
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	var r float64
	switch fn {
	case "avg":
		r = mean
	case "var", "std":
		if len(vs) < 2 {
			return nil
		}
		if r = ss / (n - 1); fn == "std" {
			r = math.Sqrt(r)
		}
	case "min":
		r = s[0]
	case "max":
		r = s[len(s)-1]
	case "med":
		r = (s[(len(s)-1)/2] + s[len(s)/2]) / 2
	}
	return &r
}

// wantAggregate checks /aggregate's answer to q against the values read by
// hand: every bucket from start's to the one before end, each property's
// statistic and count, null and 0 where there were none.
func (f *fixture) wantAggregate(t *testing.T, q url.Values, cond string, start, end time.Time, agg, fn string, props []string) []aggBucket {
	t.Helper()
	_, got := f.getAggregate(t, q, fn)
	rows := f.chRows(t, sqlWindow(start, end)+" AND "+cond)
	values := map[string]map[string][]float64{}
	for _, r := range rows {
		ts, _ := time.Parse("2006-01-02T15:04:05", r.Datetime)
		k := handBucket(ts, agg).Format("2006-01-02T15:04:05")
		if values[k] == nil {
			values[k] = map[string][]float64{}
		}
		values[k][r.Property] = append(values[k][r.Property], r.Value)
	}
	var want []string
	for b := handBucket(start, agg); b.Before(end); {
		want = append(want, b.Format("2006-01-02T15:04:05"))
		next := b
		for handBucket(next, agg).Equal(b) {
			next = next.Add(time.Minute)
		}
		b = handBucket(next, agg)
	}
	if len(rows) == 0 {
		want = nil
	}
	if len(got) != len(want) {
		t.Fatalf("%v: got %d buckets, want %d", q, len(got), len(want))
	}
	total := 0
	for i, b := range got {
		if b.Time != want[i] {
			t.Fatalf("%v: bucket %d is %s, want %s", q, i, b.Time, want[i])
		}
		if !reflect.DeepEqual(keys(b.Props), props) {
			t.Fatalf("%v: bucket %s has %v, want %v", q, b.Time, keys(b.Props), props)
		}
		for _, p := range props {
			vs := values[b.Time][p]
			g := b.Props[p]
			total += g.Count
			if g.Count != len(vs) {
				t.Fatalf("%v: %s %s count %d, want %d", q, b.Time, p, g.Count, len(vs))
			}
			var w *float64
			if len(vs) > 0 {
				w = handStat(fn, vs)
			}
			if (w == nil) != (g.Value == nil) || (w != nil && math.Abs(*w-*g.Value) > 1e-9*math.Max(1, math.Abs(*w))) {
				t.Fatalf("%v: %s %s %s is %v, want %v (values %v)", q, b.Time, p, fn, fmtPtr(g.Value), fmtPtr(w), vs)
			}
		}
	}
	if total != len(rows) {
		t.Fatalf("%v: counts add up to %d, want %d rows", q, total, len(rows))
	}
	return got
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(*v)
}

// TestAggregate: each of Plenario's functions by each time unit equals the
// same statistic computed here from the rows ClickHouse holds, with every
// bucket of the window present and ascending.
func TestAggregate(t *testing.T) {
	f := startFixture(t)
	node := nodeIDs(7)[0]
	start, end := seedEnd.Add(-30*time.Hour), seedEnd.Add(-6*time.Hour) // inside the data
	dayStart := seedEnd.Add(-70 * 24 * time.Hour)                       // long before it
	cases := []struct {
		agg, fn    string
		start, end time.Time
		feature    string
		cond       string
		props      []string
		sensors    string
	}{
		{"hour", "avg", start, end, "temperature", "feature = 'temperature'", []string{"temperature"}, ""},
		{"hour", "std", start, end, "temperature", "feature = 'temperature'", []string{"temperature"}, ""},
		{"hour", "var", start, end, "temperature", "feature = 'temperature'", []string{"temperature"}, ""},
		{"day", "min", dayStart, seedEnd, "magnetic_field", "feature = 'magnetic_field'", []string{"x", "y", "z"}, ""},
		{"day", "max", dayStart, seedEnd, "magnetic_field", "feature = 'magnetic_field'", []string{"x", "y", "z"}, ""},
		{"week", "med", dayStart, seedEnd, "temperature", "feature = 'temperature'", []string{"temperature"}, ""},
		{"month", "avg", dayStart, seedEnd, "magnetic_field.y", "feature = 'magnetic_field' AND property = 'y'", []string{"y"}, ""},
		{"year", "med", dayStart, seedEnd, "relative_humidity", "feature = 'relative_humidity'", []string{"humidity"}, ""},
		{"minute", "avg", start, start.Add(3 * time.Hour), "temperature", "feature = 'temperature'", []string{"temperature"}, ""},
		{"hour", "avg", start, end, "temperature", "feature = 'temperature' AND sensor IN ('tmp112','bmp180')", []string{"temperature"}, "tmp112,BMP180"},
	}
	for _, c := range cases {
		q := url.Values{"node": {strings.ToUpper(node)}, "feature": {c.feature}, "function": {c.fn}, "agg": {c.agg},
			"start_datetime": {c.start.Format(time.RFC3339)}, "end_datetime": {c.end.Format(time.RFC3339)}}
		if c.sensors != "" {
			q.Set("sensors", c.sensors)
		}
		t.Run(c.agg+"_"+c.fn+"_"+c.feature, func(t *testing.T) {
			got := f.wantAggregate(t, q, "node_id = '"+node+"' AND "+c.cond, c.start, c.end, c.agg, c.fn, c.props)
			if c.agg == "minute" {
				empty := 0
				for _, b := range got {
					if b.Props["temperature"].Count == 0 && b.Props["temperature"].Value == nil {
						empty++
					}
				}
				if empty == 0 {
					t.Fatalf("no empty minute among %d buckets of readings 36 minutes apart", len(got))
				}
			}
		})
	}
}

// TestAggregateDefaultsAndEmpty: avg by hour over the day before now is the
// default, echoed in meta.query; a window without readings has no buckets.
func TestAggregateDefaultsAndEmpty(t *testing.T) {
	f := startFixture(t)
	before := time.Now().UTC().Truncate(time.Second)
	query, data := f.getAggregate(t, url.Values{"node": nodeIDs(3), "feature": {"temperature"}}, "avg")
	if len(data) != 0 {
		t.Fatalf("got %d buckets for a day without readings, want none", len(data))
	}
	if query["function"] != "avg" || query["agg"] != "hour" || query["node"] != nodeIDs(3)[0] || query["feature"] != "temperature" {
		t.Fatalf("meta.query %v, want function avg, agg hour, the node and the feature", query)
	}
	s, _ := time.Parse("2006-01-02T15:04:05", fmt.Sprint(query["start_datetime"]))
	e, _ := time.Parse("2006-01-02T15:04:05", fmt.Sprint(query["end_datetime"]))
	if e.Sub(s) != 24*time.Hour || e.Before(before) || e.After(time.Now().Add(time.Minute)) {
		t.Fatalf("window %v to %v, want the day before now (%v)", s, e, before)
	}
}

// TestAggregateErrors: bad requests are 400s in Plenario's shape with its
// messages, every problem at once.
func TestAggregateErrors(t *testing.T) {
	f := startFixture(t)
	node := nodeIDs(0)[0]
	for _, c := range []struct {
		query string
		want  map[string]string
	}{
		{"", map[string]string{"node": "Missing data for required field.", "feature": "Missing data for required field."}},
		{"node=" + node + "&feature=temperature&function=mode&agg=fortnight",
			map[string]string{"function": "Invalid value.", "agg": "Invalid value."}},
		{"node=nope&feature=bogus&sensors=tmp112,x", map[string]string{"node": "Invalid node ID: nope",
			"feature": "Invalid feature of interest name: bogus", "sensors": "Invalid sensor name: x"}},
		{"node=" + node + "&feature=magnetic_field.w", map[string]string{"feature": "Invalid feature of interest name: magnetic_field.w"}},
		{"node=" + node + "&feature=temperature&nodes=" + node, map[string]string{"nodes": "Not a valid filter"}},
		{"node=" + node + "&feature=temperature&start_datetime=yesterday", map[string]string{"start_datetime": "Not a valid datetime."}},
		{"node=" + node + "&feature=temperature&agg=minute&start_datetime=2016-01-01&end_datetime=2026-01-01",
			map[string]string{"agg": "Too many time buckets: 5260320 minutes"}},
	} {
		wantError(t, f.url+"/aggregate?"+c.query, http.StatusBadRequest, c.want)
	}
	wantError(t, f.svc.URL+"/v1/api/sensor-networks/nowhere/aggregate?node="+node+"&feature=temperature",
		http.StatusBadRequest, map[string]string{"network": "Invalid network name: nowhere"})

	// Parameters each fine that select nothing together: Plenario's sentence.
	status, body := get(t, f.url+"/aggregate?node="+node+"&feature=light_intensity&sensors=tmp112")
	var e struct {
		Meta  struct{ Query map[string]string } `json:"meta"`
		Error string                            `json:"error"`
	}
	if err := json.Unmarshal(body, &e); status != http.StatusBadRequest || err != nil ||
		!strings.HasPrefix(e.Error, "Your query returns no results. You have specified filters which are likely contradictory") ||
		e.Meta.Query["sensors"] != "tmp112" {
		t.Fatalf("got %d %s, want 400 with Plenario's contradictory-filters message and the query", status, body)
	}
}
