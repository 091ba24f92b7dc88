package schema_test

import (
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

func TestBucketCount(t *testing.T) {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	for _, c := range []struct {
		unit, start, end string
		want             int
	}{
		{"hour", "2016-10-01T00:00:00Z", "2016-10-02T00:00:00Z", 24},
		{"hour", "2016-10-01T00:30:00Z", "2016-10-01T02:00:01Z", 3},
		{"minute", "2016-10-01T00:00:00Z", "2016-10-08T00:00:00Z", 7 * 24 * 60},
		{"day", "2016-10-01T12:00:00Z", "2016-10-03T00:00:00Z", 2},
		{"week", "2016-10-02T00:00:00Z", "2016-10-04T00:00:00Z", 2}, // a Sunday, then Monday's week
		{"month", "2016-11-15T00:00:00Z", "2017-02-01T00:00:00Z", 3},
		{"year", "2016-11-15T00:00:00Z", "2018-01-01T00:00:01Z", 3},
	} {
		if got := schema.BucketCount(c.unit, at(c.start), at(c.end)); got != c.want {
			t.Errorf("%s %s…%s: got %d, want %d", c.unit, c.start, c.end, got, c.want)
		}
	}
	if got := schema.TruncateUnit(at("2016-10-02T13:00:00Z"), "week"); !got.Equal(at("2016-09-26T00:00:00Z")) {
		t.Errorf("week of Sunday 2016-10-02: got %v, want Monday 2016-09-26", got)
	}
}

// TestFillBuckets: every bucket of the window, the missing ones and a
// value with no meaning (NaN, Inf) null; no values at all, no buckets.
func TestFillBuckets(t *testing.T) {
	start := time.Date(2016, 10, 1, 0, 30, 0, 0, time.UTC)
	q := &schema.AggregateQuery{Unit: "hour", Function: "std", Properties: []string{"x", "y"}, Start: start, End: start.Add(3 * time.Hour)}
	if b, _ := json.Marshal(schema.FillBuckets(q, nil)); string(b) != "[]" {
		t.Fatalf("no values: got %s, want []", b)
	}
	vals := []schema.AggregateValue{
		{Bucket: start.Truncate(time.Hour), Property: "x", Value: 1.5, Count: 2},
		{Bucket: start.Truncate(time.Hour), Property: "y", Value: math.Inf(1), Count: 1},
		{Bucket: start.Truncate(time.Hour).Add(2 * time.Hour), Property: "y", Value: math.NaN(), Count: 1},
	}
	b, err := json.Marshal(schema.FillBuckets(q, vals))
	want := `[{"time_bucket":"2016-10-01T00:00:00","x":{"std":1.5,"count":2},"y":{"std":null,"count":1}},` +
		`{"time_bucket":"2016-10-01T01:00:00","x":{"std":null,"count":0},"y":{"std":null,"count":0}},` +
		`{"time_bucket":"2016-10-01T02:00:00","x":{"std":null,"count":0},"y":{"std":null,"count":1}},` +
		`{"time_bucket":"2016-10-01T03:00:00","x":{"std":null,"count":0},"y":{"std":null,"count":0}}]`
	if err != nil || string(b) != want {
		t.Fatalf("got %s, %v\nwant %s", b, err, want)
	}
}

// TestParseAggregateFeatureList: the explorer's chart asks for one
// feature's properties as a comma list (node-chart.js: feature=
// magnetic_field.x,magnetic_field.z); a list that names the whole feature
// is the feature, and one of two features is refused.
func TestParseAggregateFeatureList(t *testing.T) {
	n := MustNetwork(t)
	now := time.Date(2016, 10, 2, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		feature, wantErr string
		want             []string
		echo             string
	}{
		{feature: "magnetic_field.x,magnetic_field.z", want: []string{"x", "z"}, echo: `"feature":"magnetic_field.x,magnetic_field.z"`},
		{feature: "MAGNETIC_FIELD.Z,magnetic_field.x", want: []string{"x", "z"}, echo: `"feature":"magnetic_field.z,magnetic_field.x"`},
		{feature: "magnetic_field.y,magnetic_field", want: []string{"x", "y", "z"}, echo: `"feature":"magnetic_field"`},
		{feature: "magnetic_field.x,", want: []string{"x"}, echo: `"feature":"magnetic_field.x"`},
		{feature: "magnetic_field.x,temperature", wantErr: "Only one feature of interest may be aggregated at a time: magnetic_field and temperature."},
		{feature: "magnetic_field.x,magnetic_field.w", wantErr: "Invalid feature of interest name: magnetic_field.w"},
	} {
		q, err := schema.ParseAggregate(url.Values{"node": {"001"}, "feature": {c.feature}}, n, now)
		if c.wantErr != "" {
			var e *schema.Error
			if !errors.As(err, &e) || len(e.Fields["feature"]) != 1 || e.Fields["feature"][0] != c.wantErr {
				t.Errorf("%s: got %v, want feature: %s", c.feature, err, c.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(q.Properties, c.want) {
			t.Errorf("%s: properties %v, %v; want %v", c.feature, q.Properties, err, c.want)
		}
		if b, _ := json.Marshal(q); !strings.Contains(string(b), c.echo) {
			t.Errorf("%s: echoed %s, want %s in it", c.feature, b, c.echo)
		}
	}
}
