package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// networkName is the fixture network's name.
const networkName = "array_of_things_chicago"

// fixedNow is the clock of every ParseQuery call unless a case says otherwise.
var fixedNow = time.Date(2017, 6, 1, 12, 0, 0, 0, time.UTC)

// metres per degree of latitude, as the geom code assumes; the fixtures
// keep well away from the 100 m edge, so the approximation does not matter.
const mPerDegLat = 111_320.0

func northOf(lat, m float64) float64 { return lat + m/mPerDegLat }

func eastOf(lon, lat, m float64) float64 {
	return lon + m/(mPerDegLat*math.Cos(lat*math.Pi/180))
}

// The fixture nodes: three in the Loop (testdata/loop_polygon.geojson), one
// of them in the hole of testdata/loop_polygon_hole.geojson, one on the west
// side, one 300 m east of it, one on the south side.
var (
	lonA, latA = -87.70, 41.90
	lonB       = eastOf(lonA, latA, 300)
)

// MustNetwork returns the fixture network, a fresh copy each call.
func MustNetwork(tb testing.TB) *schema.Network {
	tb.Helper()
	return &schema.Network{
		Name: networkName,
		Info: map[string]any{"city": "Chicago"},
		Nodes: []schema.Node{
			{ID: "000", Network: networkName, Lon: -87.630, Lat: 41.880, Address: "State St & Madison St", Sensors: []string{"tmp112", "htu21d"}},
			{ID: "001", Network: networkName, Lon: -87.625, Lat: 41.885, Address: "Michigan Ave & Randolph St", Sensors: []string{"tmp112", "hmc5883l"}},
			{ID: "002", Network: networkName, Lon: -87.635, Lat: 41.875, Address: "Clark St & Jackson Blvd", Sensors: []string{"htu21d"}},
			{ID: "00A", Network: networkName, Lon: lonA, Lat: latA, Address: "Pulaski Rd & Chicago Ave", Sensors: []string{"tmp112"}},
			{ID: "00B", Network: networkName, Lon: lonB, Lat: latA, Address: "300 m east of 00A", Sensors: []string{"tmp112"}},
			{ID: "00C", Network: networkName, Lon: -87.600, Lat: 41.800, Address: "Hyde Park", Sensors: []string{"hmc5883l"}},
		},
		Sensors: []schema.Sensor{
			{Name: "hmc5883l", Properties: []string{"magnetic_field.x", "magnetic_field.y", "magnetic_field.z"}},
			{Name: "htu21d", Properties: []string{"temperature.temperature", "relative_humidity.humidity"}},
			{Name: "tmp112", Properties: []string{"temperature.temperature"}},
		},
		Features: []schema.Feature{
			{Name: "magnetic_field", Properties: []schema.Property{
				{Name: "x", Type: "float", Unit: "gauss"},
				{Name: "y", Type: "float", Unit: "gauss"},
				{Name: "z", Type: "float", Unit: "gauss"},
			}},
			{Name: "relative_humidity", Properties: []schema.Property{{Name: "humidity", Type: "float", Unit: "percent"}}},
			{Name: "temperature", Properties: []schema.Property{{Name: "temperature", Type: "float", Unit: "celsius"}}},
		},
	}
}

var (
	allNodes    = []string{"000", "001", "002", "00A", "00B", "00C"}
	allSensors  = []string{"hmc5883l", "htu21d", "tmp112"}
	allFeatures = []schema.FeatureSel{{Feature: "magnetic_field"}, {Feature: "relative_humidity"}, {Feature: "temperature"}}
)

// readFixture returns the text of testdata/name.
func readFixture(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// invalidFields asserts that err is an Invalid *schema.Error and returns its
// field-keyed messages.
func invalidFields(tb testing.TB, err error) map[string][]string {
	tb.Helper()
	var e *schema.Error
	if !errors.As(err, &e) {
		tb.Fatalf("got error %v (%T), want *schema.Error", err, err)
	}
	if e.Code != schema.Invalid {
		tb.Fatalf("got code %v, want %v", e.Code, schema.Invalid)
	}
	return e.Fields
}

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestParseQueryDownload(t *testing.T) {
	week := schema.DefaultWindow
	tests := []struct {
		name  string
		input url.Values
		now   time.Time // fixedNow when zero
		want  schema.Query
	}{
		{
			name:  "defaults",
			input: vals(),
			want: schema.Query{Network: networkName, Features: allFeatures, Nodes: allNodes, Sensors: allSensors,
				Start: fixedNow.Add(-week), End: fixedNow, AllFeatures: true, AllNodes: true, AllSensors: true},
		},
		{
			name:  "a fractional now rounds the window up to whole seconds",
			input: vals(),
			now:   fixedNow.Add(-500 * time.Millisecond),
			want: schema.Query{Network: networkName, Features: allFeatures, Nodes: allNodes, Sensors: allSensors,
				Start: fixedNow.Add(-week), End: fixedNow, AllFeatures: true, AllNodes: true, AllSensors: true},
		},
		{
			name:  "a now in another zone is read as UTC",
			input: vals(),
			now:   fixedNow.In(time.FixedZone("CDT", -5*3600)),
			want: schema.Query{Network: networkName, Features: allFeatures, Nodes: allNodes, Sensors: allSensors,
				Start: fixedNow.Add(-week), End: fixedNow, AllFeatures: true, AllNodes: true, AllSensors: true},
		},
		{
			name:  "names are case-insensitive and resolve to the metadata's spelling",
			input: vals("features", "TEMPERATURE,Magnetic_Field.X", "nodes", "00a,00B", "sensors", "TMP112,Hmc5883L"),
			want: schema.Query{Network: networkName,
				Features: []schema.FeatureSel{{Feature: "temperature"}, {Feature: "magnetic_field", Property: "x"}},
				Nodes:    []string{"00A", "00B"}, Sensors: []string{"tmp112", "hmc5883l"},
				Start: fixedNow.Add(-week), End: fixedNow},
		},
		{
			name:  "feature.property selects properties",
			input: vals("features", "magnetic_field.x,magnetic_field.z,relative_humidity.humidity"),
			want: schema.Query{Network: networkName,
				Features: []schema.FeatureSel{{Feature: "magnetic_field", Property: "x"}, {Feature: "magnetic_field", Property: "z"}, {Feature: "relative_humidity", Property: "humidity"}},
				Nodes:    allNodes, Sensors: allSensors, Start: fixedNow.Add(-week), End: fixedNow, AllNodes: true, AllSensors: true},
		},
		{
			name:  "a property then its feature collapse to the feature",
			input: vals("features", "temperature.temperature,temperature"),
			want: schema.Query{Network: networkName, Features: []schema.FeatureSel{{Feature: "temperature"}},
				Nodes: allNodes, Sensors: allSensors, Start: fixedNow.Add(-week), End: fixedNow, AllNodes: true, AllSensors: true},
		},
		{
			name:  "a feature then its property collapse to the feature",
			input: vals("features", "temperature,temperature.temperature"),
			want: schema.Query{Network: networkName, Features: []schema.FeatureSel{{Feature: "temperature"}},
				Nodes: allNodes, Sensors: allSensors, Start: fixedNow.Add(-week), End: fixedNow, AllNodes: true, AllSensors: true},
		},
		{
			name:  "a feature replaces its properties wherever they stand and keeps the others' order",
			input: vals("features", "magnetic_field.x,relative_humidity,magnetic_field.y,temperature,MAGNETIC_FIELD,magnetic_field.z"),
			want: schema.Query{Network: networkName,
				Features: []schema.FeatureSel{{Feature: "magnetic_field"}, {Feature: "relative_humidity"}, {Feature: "temperature"}},
				Nodes:    allNodes, Sensors: allSensors, Start: fixedNow.Add(-week), End: fixedNow, AllNodes: true, AllSensors: true},
		},
		{
			name:  "duplicates in any spelling collapse",
			input: vals("features", "temperature,Temperature,TEMPERATURE.temperature", "nodes", "000,000,00a,00A", "sensors", "tmp112,TMP112"),
			want: schema.Query{Network: networkName, Features: []schema.FeatureSel{{Feature: "temperature"}},
				Nodes: []string{"000", "00A"}, Sensors: []string{"tmp112"}, Start: fixedNow.Add(-week), End: fixedNow},
		},
		{
			name:  "blanks around and between items are ignored",
			input: vals("features", " temperature , ,relative_humidity,", "nodes", "000 , 001"),
			want: schema.Query{Network: networkName, Features: []schema.FeatureSel{{Feature: "temperature"}, {Feature: "relative_humidity"}},
				Nodes: []string{"000", "001"}, Sensors: allSensors, Start: fixedNow.Add(-week), End: fixedNow, AllSensors: true},
		},
		{
			name:  "a repeated parameter is one list",
			input: vals("features", "temperature", "features", "magnetic_field.y"),
			want: schema.Query{Network: networkName, Features: []schema.FeatureSel{{Feature: "temperature"}, {Feature: "magnetic_field", Property: "y"}},
				Nodes: allNodes, Sensors: allSensors, Start: fixedNow.Add(-week), End: fixedNow, AllNodes: true, AllSensors: true},
		},
		{
			name:  "start and end",
			input: vals("start_datetime", "2017-1-1", "end_datetime", "2017-01-02T06:30:00"),
			want: schema.Query{Network: networkName, Features: allFeatures, Nodes: allNodes, Sensors: allSensors,
				Start: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2017, 1, 2, 6, 30, 0, 0, time.UTC),
				AllFeatures: true, AllNodes: true, AllSensors: true},
		},
		{
			name:  "only an end: the window is the week before it",
			input: vals("end_datetime", "2017-01-08"),
			want: schema.Query{Network: networkName, Features: allFeatures, Nodes: allNodes, Sensors: allSensors,
				Start: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2017, 1, 8, 0, 0, 0, 0, time.UTC),
				AllFeatures: true, AllNodes: true, AllSensors: true},
		},
		{
			name:  "an end in 1970's first week: the window starts at the epoch",
			input: vals("end_datetime", "1970-01-03"),
			want: schema.Query{Network: networkName, Features: allFeatures, Nodes: allNodes, Sensors: allSensors,
				Start: time.Unix(0, 0).UTC(), End: time.Date(1970, 1, 3, 0, 0, 0, 0, time.UTC),
				AllFeatures: true, AllNodes: true, AllSensors: true},
		},
		{
			name:  "only a start: the window ends now",
			input: vals("start_datetime", "2016-12-1T00:00:00.000"),
			want: schema.Query{Network: networkName, Features: allFeatures, Nodes: allNodes, Sensors: allSensors,
				Start: time.Date(2016, 12, 1, 0, 0, 0, 0, time.UTC), End: fixedNow,
				AllFeatures: true, AllNodes: true, AllSensors: true},
		},
		{
			name:  "offsets convert to UTC and fractional seconds round up",
			input: vals("start_datetime", "2017-01-01T10:00:00.000001+02:00", "end_datetime", "2017-01-01 10:00:00.5Z"),
			want: schema.Query{Network: networkName, Features: allFeatures, Nodes: allNodes, Sensors: allSensors,
				Start: time.Date(2017, 1, 1, 8, 0, 1, 0, time.UTC), End: time.Date(2017, 1, 1, 10, 0, 1, 0, time.UTC),
				AllFeatures: true, AllNodes: true, AllSensors: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = fixedNow
			}
			got, err := schema.ParseQuery(schema.Download, tt.input, MustNetwork(t), now)
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseQueryRaw(t *testing.T) {
	window := 90 * 24 * time.Hour // the ticket era's get_observations looked back 90 days
	base := func(f schema.FeatureSel, limit, offset int) schema.Query {
		return schema.Query{Network: networkName, Features: []schema.FeatureSel{f}, Nodes: allNodes, Sensors: allSensors,
			Start: fixedNow.Add(-window), End: fixedNow, Limit: limit, Offset: offset, AllNodes: true, AllSensors: true}
	}
	tests := []struct {
		name  string
		input url.Values
		want  schema.Query
	}{
		{name: "one feature, default limit and offset", input: vals("feature", "temperature"), want: base(schema.FeatureSel{Feature: "temperature"}, schema.DefaultLimit, 0)},
		{name: "case-insensitive feature.property", input: vals("feature", "Magnetic_Field.Y"), want: base(schema.FeatureSel{Feature: "magnetic_field", Property: "y"}, 1000, 0)},
		{name: "limit at its maximum", input: vals("feature", "temperature", "limit", "10000"), want: base(schema.FeatureSel{Feature: "temperature"}, schema.MaxLimit, 0)},
		{name: "limit at its minimum, blanks trimmed", input: vals("feature", "temperature", "limit", " 1 "), want: base(schema.FeatureSel{Feature: "temperature"}, 1, 0)},
		{name: "offset", input: vals("feature", "temperature", "limit", "50", "offset", "200"), want: base(schema.FeatureSel{Feature: "temperature"}, 50, 200)},
		{name: "offset at its maximum", input: vals("feature", "temperature", "offset", "100000"), want: base(schema.FeatureSel{Feature: "temperature"}, 1000, schema.MaxOffset)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schema.ParseQuery(schema.Raw, tt.input, MustNetwork(t), fixedNow)
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	const (
		notFilter   = "Not a valid filter"
		badDatetime = "Not a valid datetime."
		badInteger  = "Not a valid integer."
		startOrder  = "start_datetime must be before end_datetime."
		missing     = "Missing data for required field: exactly one feature of interest."
		onlyOne     = "Only one feature of interest may be queried at a time; use /download for several."
		tooMany     = "Too many values: at most 2000."
	)
	tests := []struct {
		name    string
		ep      schema.Endpoint
		input   url.Values
		wantErr map[string][]string
	}{
		{name: "unknown feature", ep: schema.Download, input: vals("features", "x"),
			wantErr: map[string][]string{"features": {"Invalid feature of interest name: x"}}},
		{name: "unknown property of a known feature", ep: schema.Download, input: vals("features", "temperature.humidity"),
			wantErr: map[string][]string{"features": {"Invalid feature of interest name: temperature.humidity"}}},
		{name: "a dot and no property", ep: schema.Download, input: vals("features", "temperature."),
			wantErr: map[string][]string{"features": {"Invalid feature of interest name: temperature."}}},
		{name: "unknown node", ep: schema.Download, input: vals("nodes", "000,0ff"),
			wantErr: map[string][]string{"nodes": {"Invalid node ID: 0ff"}}},
		{name: "unknown sensor", ep: schema.Download, input: vals("sensors", "bmp180"),
			wantErr: map[string][]string{"sensors": {"Invalid sensor name: bmp180"}}},
		{name: "an empty list names nothing", ep: schema.Download, input: vals("features", "", "nodes", " , ", "sensors", ","),
			wantErr: map[string][]string{
				"features": {"Invalid feature of interest name: "},
				"nodes":    {"Invalid node ID: "},
				"sensors":  {"Invalid sensor name: "},
			}},
		{name: "unknown parameter", ep: schema.Download, input: vals("features_of_interest", "temperature"),
			wantErr: map[string][]string{"features_of_interest": {notFilter}}},
		{name: "limit and offset of a download are integers", ep: schema.Download, input: vals("limit", "ten", "offset", "1.5"),
			wantErr: map[string][]string{"limit": {schema.MsgBadInteger}, "offset": {schema.MsgBadInteger}}},
		{name: "limit and offset of a download are at least 0", ep: schema.Download, input: vals("limit", "-1", "offset", "-5"),
			wantErr: map[string][]string{"limit": {schema.MsgAtLeastZero}, "offset": {schema.MsgAtLeastZero}}},
		{name: "a singular alias is reported under its plural", ep: schema.Download, input: vals("node", "nope"),
			wantErr: map[string][]string{"nodes": {"Invalid node ID: nope"}}},
		{
			name: "every problem at once, keyed by parameter",
			ep:   schema.Download,
			input: vals("features", "x,temperature,temperature.bogus", "nodes", "nope,000", "sensors", "nah",
				"start_datetime", "yesterday", "end_datetime", "2017-13-1", "bogus", "1", "Features", "temperature"),
			wantErr: map[string][]string{
				"Features":       {notFilter},
				"bogus":          {notFilter},
				"features":       {"Invalid feature of interest name: x", "Invalid feature of interest name: temperature.bogus"},
				"nodes":          {"Invalid node ID: nope"},
				"sensors":        {"Invalid sensor name: nah"},
				"start_datetime": {badDatetime},
				"end_datetime":   {badDatetime},
			},
		},
		{name: "start after end", ep: schema.Download, input: vals("start_datetime", "2017-01-02", "end_datetime", "2017-01-01"),
			wantErr: map[string][]string{"start_datetime": {startOrder}}},
		{name: "start equal to end", ep: schema.Download, input: vals("start_datetime", "2017-01-01T00:00:00", "end_datetime", "2017-1-1"),
			wantErr: map[string][]string{"start_datetime": {startOrder}}},
		{name: "start after the default end", ep: schema.Download, input: vals("start_datetime", "2017-06-02"),
			wantErr: map[string][]string{"start_datetime": {startOrder}}},
		{name: "month 13", ep: schema.Download, input: vals("start_datetime", "2017-13-1"),
			wantErr: map[string][]string{"start_datetime": {badDatetime}}},
		{name: "February 30", ep: schema.Download, input: vals("end_datetime", "2017-2-30"),
			wantErr: map[string][]string{"end_datetime": {badDatetime}}},
		{name: "yesterday", ep: schema.Download, input: vals("start_datetime", "yesterday"),
			wantErr: map[string][]string{"start_datetime": {badDatetime}}},
		{name: "empty datetime", ep: schema.Download, input: vals("end_datetime", ""),
			wantErr: map[string][]string{"end_datetime": {badDatetime}}},
		{name: "too many features", ep: schema.Download, input: vals("features", strings.Repeat("temperature,", schema.MaxListItems+1)),
			wantErr: map[string][]string{"features": {tooMany}}},
		{name: "too many nodes", ep: schema.Download, input: vals("nodes", strings.Repeat("000,", schema.MaxListItems+1)),
			wantErr: map[string][]string{"nodes": {tooMany}}},
		{name: "too many sensors", ep: schema.Download, input: vals("sensors", strings.Repeat("tmp112,", schema.MaxListItems+1)),
			wantErr: map[string][]string{"sensors": {tooMany}}},

		{name: "query: feature is required", ep: schema.Raw, input: vals(),
			wantErr: map[string][]string{"feature": {missing}}},
		{name: "query: an empty feature is missing", ep: schema.Raw, input: vals("feature", " , "),
			wantErr: map[string][]string{"feature": {missing}}},
		{name: "query: exactly one feature", ep: schema.Raw, input: vals("feature", "temperature,magnetic_field"),
			wantErr: map[string][]string{"feature": {onlyOne}}},
		{name: "query: two spellings of one feature are two items", ep: schema.Raw, input: vals("feature", "temperature,temperature.temperature"),
			wantErr: map[string][]string{"feature": {onlyOne}}},
		{name: "query: features is not its filter", ep: schema.Raw, input: vals("features", "temperature"),
			wantErr: map[string][]string{"features": {notFilter}, "feature": {missing}}},
		{name: "query: unknown feature", ep: schema.Raw, input: vals("feature", "x"),
			wantErr: map[string][]string{"feature": {"Invalid feature of interest name: x"}}},
		{name: "query: limit abc", ep: schema.Raw, input: vals("feature", "temperature", "limit", "abc"),
			wantErr: map[string][]string{"limit": {badInteger}}},
		{name: "query: empty limit", ep: schema.Raw, input: vals("feature", "temperature", "limit", ""),
			wantErr: map[string][]string{"limit": {badInteger}}},
		{name: "query: limit past the maximum", ep: schema.Raw, input: vals("feature", "temperature", "limit", "10001"),
			wantErr: map[string][]string{"limit": {"Must be between 1 and 10000."}}},
		{name: "query: limit zero", ep: schema.Raw, input: vals("feature", "temperature", "limit", "0"),
			wantErr: map[string][]string{"limit": {"Must be between 1 and 10000."}}},
		{name: "query: limit overflowing int", ep: schema.Raw, input: vals("feature", "temperature", "limit", "99999999999999999999999"),
			wantErr: map[string][]string{"limit": {badInteger}}},
		{name: "query: negative offset", ep: schema.Raw, input: vals("feature", "temperature", "offset", "-1"),
			wantErr: map[string][]string{"offset": {"Must be at least 0."}}}, // marshmallow's, as Plenario said it
		{name: "query: offset past the maximum", ep: schema.Raw, input: vals("feature", "temperature", "offset", "100001"),
			wantErr: map[string][]string{"offset": {"Must be between 0 and 100000."}}},
		{name: "query: offset 1.5", ep: schema.Raw, input: vals("feature", "temperature", "offset", "1.5"),
			wantErr: map[string][]string{"offset": {badInteger}}},
		{
			name:  "query: every problem at once",
			ep:    schema.Raw,
			input: vals("feature", "temperature,x", "limit", "many", "offset", "-5", "nodes", "zzz", "end_datetime", "2017-2-29"),
			wantErr: map[string][]string{
				"feature":      {onlyOne},
				"limit":        {badInteger},
				"offset":       {"Must be at least 0."},
				"nodes":        {"Invalid node ID: zzz"},
				"end_datetime": {badDatetime},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schema.ParseQuery(tt.ep, tt.input, MustNetwork(t), fixedNow)
			if err == nil {
				t.Fatalf("got nil error, want %v", tt.wantErr)
			}
			if got := invalidFields(t, err); !reflect.DeepEqual(got, tt.wantErr) {
				t.Errorf("got %v, want %v", got, tt.wantErr)
			}
			if got := schema.ErrorCode(err); got != schema.Invalid {
				t.Errorf("got code %v, want %v", got, schema.Invalid)
			}
		})
	}
}

func TestParseDatetime(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		name    string
		input   string
		want    time.Time
		wantErr bool
	}{
		{name: "single-digit month and day", input: "2017-1-1", want: utc(2017, 1, 1, 0, 0, 0, 0)},
		{name: "milliseconds, single-digit day", input: "2016-12-1T00:00:00.000", want: utc(2016, 12, 1, 0, 0, 0, 0)},
		{name: "space and no seconds", input: "2016-12-01 10:00", want: utc(2016, 12, 1, 10, 0, 0, 0)},
		{name: "lower-case t as Plenario echoed it", input: "2016-07-15t17:51:47.978722", want: utc(2016, 7, 15, 17, 51, 47, 978722000)},
		{name: "Z", input: "2017-01-01T10:00:00Z", want: utc(2017, 1, 1, 10, 0, 0, 0)},
		{name: "positive offset", input: "2017-01-01T10:00:00+02:00", want: utc(2017, 1, 1, 8, 0, 0, 0)},
		{name: "negative offset without colon", input: "2017-01-01T10:00:00-0530", want: utc(2017, 1, 1, 15, 30, 0, 0)},
		{name: "offset crossing midnight", input: "2017-01-01T01:00+03:00", want: utc(2016, 12, 31, 22, 0, 0, 0)},
		{name: "nanoseconds", input: "2017-01-01T00:00:00.123456789", want: utc(2017, 1, 1, 0, 0, 0, 123456789)},
		{name: "surrounding blanks", input: "  2017-01-01  ", want: utc(2017, 1, 1, 0, 0, 0, 0)},
		{name: "leap day", input: "2016-2-29", want: utc(2016, 2, 29, 0, 0, 0, 0)},
		{name: "month 13", input: "2017-13-1", wantErr: true},
		{name: "month 0", input: "2017-0-1", wantErr: true},
		{name: "February 30", input: "2017-2-30", wantErr: true},
		{name: "February 29 of a common year", input: "2017-2-29", wantErr: true},
		{name: "April 31", input: "2017-04-31", wantErr: true},
		{name: "hour 24", input: "2017-01-01T24:00", wantErr: true},
		{name: "minute 60", input: "2017-01-01T10:60", wantErr: true},
		{name: "yesterday", input: "yesterday", wantErr: true},
		{name: "empty", input: "", wantErr: true},
		{name: "only an hour", input: "2017-01-01T10", wantErr: true},
		{name: "before 1970", input: "1969-12-31", wantErr: true},
		{name: "an offset taking it before 1970", input: "1970-01-01T00:00:00+01:00", wantErr: true},
		{name: "after 2105", input: "2106-01-01", wantErr: true},
		{name: "offset minutes past 59", input: "2017-01-01T00:00:00+02:99", wantErr: true},
		{name: "offset hours past 23", input: "2017-01-01T00:00:00+24:00", wantErr: true},
		{name: "unix seconds", input: "1483228800", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schema.ParseDatetime(tt.input)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %v, nil error, want an error", got)
				}
				var e *schema.Error
				if !errors.As(err, &e) || e.Code != schema.Invalid || e.Message != schema.MsgBadDatetime {
					t.Errorf("got error %#v, want Invalid %q", err, schema.MsgBadDatetime)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// pointJSON and lineJSON build GeoJSON near node 00A.
func pointJSON(lon, lat float64) string {
	return fmt.Sprintf(`{"type":"Point","coordinates":[%v,%v]}`, lon, lat)
}

func lineJSON(pts ...[2]float64) string {
	b, _ := json.Marshal(map[string]any{"type": "LineString", "coordinates": pts})
	return string(b)
}

func TestParseQueryGeom(t *testing.T) {
	tests := []struct {
		name  string
		input url.Values
		want  []string // nodes selected
	}{
		{name: "polygon selects the nodes inside", input: vals("geom", readFixture(t, "loop_polygon.geojson")), want: []string{"000", "001", "002"}},
		{name: "a hole excludes its node", input: vals("geom", readFixture(t, "loop_polygon_hole.geojson")), want: []string{"000", "001"}},
		{name: "multipolygon", input: vals("geom", readFixture(t, "west_and_south_multipolygon.geojson")), want: []string{"00A", "00C"}},
		{name: "a Feature's geometry", input: vals("geom", readFixture(t, "loop_feature.geojson")), want: []string{"000", "001", "002"}},
		{name: "a FeatureCollection's first feature", input: vals("geom", readFixture(t, "feature_collection.geojson")), want: []string{"00A", "00C"}},
		{name: "geom narrows the nodes given", input: vals("nodes", "00C,001,000", "geom", readFixture(t, "loop_polygon.geojson")), want: []string{"001", "000"}},
		{name: "a point selects a node 90 m away, not one 310 m away", input: vals("geom", pointJSON(lonA, northOf(latA, 90))), want: []string{"00A"}},
		{name: "a point on a node", input: vals("geom", pointJSON(lonB, latA)), want: []string{"00B"}},
		{
			name:  "a line selects a node 90 m from it, not one 310 m from its end",
			input: vals("geom", lineJSON([2]float64{lonA - 0.02, northOf(latA, 90)}, [2]float64{lonA, northOf(latA, 90)})),
			want:  []string{"00A"},
		},
		{
			name:  "a line passing both nodes at 90 m",
			input: vals("geom", lineJSON([2]float64{lonA - 0.02, northOf(latA, -90)}, [2]float64{lonB + 0.02, northOf(latA, -90)})),
			want:  []string{"00A", "00B"},
		},
		{
			name:  "multipoint",
			input: vals("geom", fmt.Sprintf(`{"type":"MultiPoint","coordinates":[[%v,%v],[-87.6,41.8005]]}`, lonA, northOf(latA, -50))),
			want:  []string{"00A", "00C"},
		},
	}
	for _, tt := range tests {
		for _, ep := range []schema.Endpoint{schema.Download, schema.Raw} {
			t.Run(fmt.Sprintf("%s/%d", tt.name, ep), func(t *testing.T) {
				in := url.Values{}
				for k, v := range tt.input {
					in[k] = v
				}
				if ep == schema.Raw {
					in.Set("feature", "temperature")
				}
				got, err := schema.ParseQuery(ep, in, MustNetwork(t), fixedNow)
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				if !reflect.DeepEqual(got.Nodes, tt.want) {
					t.Errorf("got nodes %v, want %v", got.Nodes, tt.want)
				}
				if got.AllNodes {
					t.Errorf("got AllNodes %v, want false", got.AllNodes)
				}
				if !json.Valid(got.Geom) || !strings.Contains(string(got.Geom), `"coordinates"`) {
					t.Errorf("got geom echo %s, want the geometry as GeoJSON", got.Geom)
				}
			})
		}
	}
}

func TestParseQueryGeomErrors(t *testing.T) {
	noNode := "No node of network " + networkName + " lies within the geometry."
	tests := []struct {
		name       string
		input      url.Values
		wantErr    map[string][]string // exact, when set
		wantPrefix string              // of the reason after Plenario's "Invalid geom: <raw>", when wantErr is nil
	}{
		{name: "a polygon over the lake", input: vals("geom", readFixture(t, "lake_polygon.geojson")),
			wantErr: map[string][]string{"geom": {noNode}}},
		{name: "a point 300 m from the nearest node", input: vals("geom", pointJSON(eastOf(lonA, latA, -300), latA)),
			wantErr: map[string][]string{"geom": {noNode}}},
		{name: "a line 300 m from the nearest node", input: vals("geom", lineJSON([2]float64{lonA - 0.02, northOf(latA, 300)}, [2]float64{lonB, northOf(latA, 300)})),
			wantErr: map[string][]string{"geom": {noNode}}},
		{name: "a polygon that misses the nodes given", input: vals("nodes", "00A", "geom", readFixture(t, "loop_polygon.geojson")),
			wantErr: map[string][]string{"geom": {noNode}}},
		{name: "unknown nodes are the one problem, not the geometry", input: vals("nodes", "zzz", "geom", readFixture(t, "loop_polygon.geojson")),
			wantErr: map[string][]string{"nodes": {"Invalid node ID: zzz"}}},
		{name: "not JSON", input: vals("geom", "{"), wantPrefix: "Could not parse geojson: "},
		{name: "a JSON string", input: vals("geom", `"Polygon"`), wantPrefix: "Could not parse geojson: "},
		{name: "no type", input: vals("geom", `{"coordinates":[1,2]}`), wantPrefix: "Could not parse geojson: "},
		{name: "unsupported type", input: vals("geom", `{"type":"Circle","coordinates":[1,2]}`), wantPrefix: "Could not parse geojson: "},
		{name: "a geometry collection", input: vals("geom", `{"type":"GeometryCollection","geometries":[]}`), wantPrefix: "Could not parse geojson: "},
		{name: "a ring too short", input: vals("geom", `{"type":"Polygon","coordinates":[[[0,0],[1,1],[0,0]]]}`), wantPrefix: "Could not parse geojson: "},
		{name: "an open ring", input: vals("geom", `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}`), wantPrefix: "Could not parse geojson: "},
		{name: "no rings", input: vals("geom", `{"type":"Polygon","coordinates":[]}`), wantPrefix: "Could not parse geojson: "},
		{name: "latitude out of range", input: vals("geom", `{"type":"Point","coordinates":[-87.6,91]}`), wantPrefix: "Could not parse geojson: "},
		{name: "a feature without geometry", input: vals("geom", `{"type":"Feature","properties":{},"geometry":null}`), wantPrefix: "Could not parse geojson: "},
		{name: "an empty feature collection", input: vals("geom", `{"type":"FeatureCollection","features":[]}`), wantPrefix: "Could not parse geojson: "},
		{name: "a one-point line", input: vals("geom", `{"type":"LineString","coordinates":[[-87.7,41.9]]}`), wantPrefix: "Could not parse geojson: "},
		{name: "too large", input: vals("geom", `{"type":"Point","coordinates":[-87.7,41.9],"pad":"`+strings.Repeat("x", schema.MaxGeomBytes)+`"}`), wantPrefix: "Could not parse geojson: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schema.ParseQuery(schema.Download, tt.input, MustNetwork(t), fixedNow)
			if err == nil {
				t.Fatal("got nil error, want one")
			}
			got := invalidFields(t, err)
			if tt.wantErr != nil {
				if !reflect.DeepEqual(got, tt.wantErr) {
					t.Errorf("got %v, want %v", got, tt.wantErr)
				}
				return
			}
			raw := tt.input.Get("geom")
			if len(got) != 1 || len(got["geom"]) != 2 || got["geom"][0] != "Invalid geom: "+raw || !strings.HasPrefix(got["geom"][1], tt.wantPrefix) {
				t.Errorf("got %.300v, want Plenario's \"Invalid geom: <raw>\" and a reason starting %q", got, tt.wantPrefix)
			}
		})
	}
}

func TestParseQueryNodeList(t *testing.T) {
	got, err := schema.ParseQuery(schema.NodeList, vals("geom", readFixture(t, "loop_polygon_hole.geojson")), MustNetwork(t), fixedNow)
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if want := []string{"000", "001"}; !reflect.DeepEqual(got.Nodes, want) {
		t.Errorf("got %v, want %v", got.Nodes, want)
	}
	// An area holding no node is no error here: each metadata list words it.
	far := `{"type":"Point","coordinates":[10,10]}`
	if got, err := schema.ParseQuery(schema.NodeList, vals("geom", far), MustNetwork(t), fixedNow); err != nil || len(got.Nodes) != 0 || len(got.Geom) == 0 {
		t.Errorf("an empty area: got nodes %v, geom %s, error %v; want no node, the geom and no error", got.Nodes, got.Geom, err)
	}
	_, err = schema.ParseQuery(schema.NodeList, vals("nodes", "000"), MustNetwork(t), fixedNow)
	if got, want := invalidFields(t, err), map[string][]string{"nodes": {"Not a valid filter"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestQueryJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		ep    schema.Endpoint
		input url.Values
	}{
		{name: "defaults", ep: schema.Download, input: vals()},
		{name: "properties, nodes, sensors, window", ep: schema.Download,
			input: vals("features", "magnetic_field.x,temperature", "nodes", "00a,000", "sensors", "tmp112", "start_datetime", "2016-12-1T00:00:00.000", "end_datetime", "2017-01-01T10:00:00.5+01:00")},
		{name: "geom", ep: schema.Download, input: vals("geom", readFixture(t, "loop_polygon_hole.geojson"))},
		{name: "raw with limit and offset", ep: schema.Raw, input: vals("feature", "relative_humidity.humidity", "limit", "10", "offset", "30")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := schema.ParseQuery(tt.ep, tt.input, MustNetwork(t), fixedNow)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(q)
			if err != nil {
				t.Fatal(err)
			}
			var got schema.Query
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, q) {
				t.Errorf("got %+v, want %+v", got, q)
			}
		})
	}
}

func TestQueryMarshalJSON(t *testing.T) {
	q, err := schema.ParseQuery(schema.Download, vals("features", "magnetic_field.x,temperature"), MustNetwork(t), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"network":        networkName,
		"features":       []any{"magnetic_field.x", "temperature"},
		"nodes":          []any{"000", "001", "002", "00A", "00B", "00C"},
		"sensors":        []any{"hmc5883l", "htu21d", "tmp112"},
		"start_datetime": "2017-05-25T12:00:00",
		"end_datetime":   "2017-06-01T12:00:00",
		"all_nodes":      true,
		"all_sensors":    true, // no data_type: none was asked for
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	// Even an empty query echoes lists, never null.
	b, err = json.Marshal(schema.Query{Network: networkName})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"features":[]`, `"nodes":[]`, `"sensors":[]`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("got %s, want it to contain %s", b, k)
		}
	}
}

func TestQueryUnmarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{name: "not JSON", input: `{`},
		{name: "bad start", input: `{"start_datetime":"yesterday","end_datetime":"2017-01-01T00:00:00"}`},
		{name: "bad end", input: `{"start_datetime":"2017-01-01T00:00:00","end_datetime":""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q schema.Query
			if err := json.Unmarshal([]byte(tt.input), &q); err == nil {
				t.Errorf("got nil error, want one")
			}
		})
	}
}

// queryOracle is the query as encoding/json writes it by reflection: what
// the hand-written Query.MarshalJSON must equal byte for byte.
type queryOracle struct {
	Network     string          `json:"network"`
	Features    *[]string       `json:"features,omitempty"`
	Nodes       *[]string       `json:"nodes,omitempty"`
	Sensors     *[]string       `json:"sensors,omitempty"`
	Geom        json.RawMessage `json:"geom,omitempty"`
	Start       string          `json:"start_datetime"`
	End         string          `json:"end_datetime"`
	DataType    string          `json:"data_type,omitempty"`
	Limit       int             `json:"limit,omitempty"`
	Offset      int             `json:"offset,omitempty"`
	AllFeatures bool            `json:"all_features,omitempty"`
	AllNodes    bool            `json:"all_nodes,omitempty"`
	AllSensors  bool            `json:"all_sensors,omitempty"`
}

func oracleOf(q schema.Query) queryOracle {
	list := func(s []string, all bool) *[]string {
		if s == nil && all {
			return nil
		}
		if s == nil {
			s = []string{}
		}
		return &s
	}
	o := queryOracle{Network: q.Network, Geom: q.Geom, Start: q.Start.UTC().Format(schema.DatetimeLayout),
		End: q.End.UTC().Format(schema.DatetimeLayout), DataType: q.DataType, Limit: q.Limit, Offset: q.Offset,
		AllFeatures: q.AllFeatures, AllNodes: q.AllNodes, AllSensors: q.AllSensors,
		Nodes: list(q.Nodes, q.AllNodes), Sensors: list(q.Sensors, q.AllSensors)}
	if q.Features != nil || !q.AllFeatures {
		fs := []string{}
		for _, f := range q.Features {
			fs = append(fs, f.String())
		}
		o.Features = &fs
	}
	return o
}

// checkQueryJSON asserts that q encodes as encoding/json would and decodes
// back to itself.
func checkQueryJSON(t *testing.T, q schema.Query) {
	t.Helper()
	got, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(oracleOf(q))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Query.MarshalJSON:\n got %s\nwant %s", got, want)
	}
	var back schema.Query
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if again, _ := json.Marshal(back); !bytes.Equal(again, got) {
		t.Fatalf("round trip:\n got %s\nwant %s", again, got)
	}
}

func TestQueryMarshalJSONAsEncodingJSON(t *testing.T) {
	n := MustNetwork(t)
	inputs := []url.Values{
		vals(),
		vals("features", "magnetic_field.x,temperature", "nodes", "00a,000", "sensors", "tmp112"),
		vals("geom", readFixture(t, "loop_polygon_hole.geojson"), "data_type", "ndjson"),
	}
	for _, in := range inputs {
		q, err := schema.ParseQuery(schema.Download, in, n, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		checkQueryJSON(t, q)
		checkQueryJSON(t, q.Compact())
	}
	q, err := schema.ParseQuery(schema.Raw, vals("feature", "relative_humidity.humidity", "limit", "10", "offset", "30"), n, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	checkQueryJSON(t, q)
	// Names that are not plain ASCII take encoding/json's escapes.
	odd := schema.Query{Network: `a"b\c<d>&é` + "\x01\u2028", Nodes: []string{"x</script>", ""},
		Features: []schema.FeatureSel{{Feature: "f&", Property: "p\n"}}, Start: fixedNow, End: fixedNow, AllSensors: true}
	checkQueryJSON(t, odd)
	checkQueryJSON(t, schema.Query{})
	// Invalid UTF-8 is replaced as encoding/json replaces it (and so does
	// not come back byte for byte).
	bad := schema.Query{Network: "n\xff", Nodes: []string{"\xc3"}}
	got, _ := json.Marshal(bad)
	if want, _ := json.Marshal(oracleOf(bad)); !bytes.Equal(got, want) {
		t.Fatalf("invalid UTF-8:\n got %s\nwant %s", got, want)
	}
}

// checkQueuedJSON asserts that the document of a job queued with q is
// written by AppendQueuedJSON as by json.Marshal.
func checkQueuedJSON(t *testing.T, q schema.Query, expires time.Time) {
	t.Helper()
	req := schema.ExportRequest{Ticket: "12a639f8f73acdab7d48835c9b404664", Query: q, SubmittedAt: fixedNow, ExpiresAt: expires}
	var rec schema.JobRecord
	rec.Apply(schema.Event{Kind: schema.EventQueued, Ticket: req.Ticket, Time: fixedNow, Request: &req})
	got, ok := rec.Job.AppendQueuedJSON(nil)
	want, err := json.Marshal(rec.Job)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || !bytes.Equal(got, want) {
		t.Fatalf("AppendQueuedJSON (%v):\n got %s\nwant %s", ok, got, want)
	}
}

func TestAppendQueuedJSON(t *testing.T) {
	n := MustNetwork(t)
	for _, in := range []url.Values{vals(), vals("features", "magnetic_field.x", "nodes", "00a"),
		vals("geom", readFixture(t, "loop_polygon_hole.geojson"), "data_type", "json")} {
		q, err := schema.ParseQuery(schema.Download, in, n, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		checkQueuedJSON(t, q, time.Time{})
		checkQueuedJSON(t, q.Compact(), fixedNow.Add(time.Hour))
	}
	// The answer to a request: its compact query with the network's lists
	// is the document of the query in full, byte for byte.
	empty := &schema.Network{Name: "empty"}
	for _, net := range []*schema.Network{n, empty} {
		lists := net.ListsJSON()
		for _, in := range []url.Values{vals(), vals("sensors", "tmp112"), vals("features", "magnetic_field.x", "nodes", "00a"),
			vals("geom", readFixture(t, "loop_polygon_hole.geojson"), "data_type", "json")} {
			q, err := schema.ParseQuery(schema.Download, in, net, fixedNow)
			if err != nil {
				if net == n {
					t.Fatalf("%v: %v", in, err)
				}
				continue // the empty network has none of these
			}
			full := schema.JobRecord{}
			full.Apply(schema.Event{Kind: schema.EventQueued, Ticket: "t", Time: fixedNow,
				Request: &schema.ExportRequest{Ticket: "t", Query: q, SubmittedAt: fixedNow}})
			compact := schema.JobRecord{}
			compact.Apply(schema.Event{Kind: schema.EventQueued, Ticket: "t", Time: fixedNow,
				Request: &schema.ExportRequest{Ticket: "t", Query: q.Compact(), SubmittedAt: fixedNow}})
			got, ok := compact.Job.AppendQueuedJSONWith(nil, lists)
			want, err := json.Marshal(full.Job)
			if err != nil {
				t.Fatal(err)
			}
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("%s, %v: AppendQueuedJSONWith (%v):\n got %s\nwant %s", net.Name, in, ok, got, want)
			}
		}
	}
	// Any other document is left to json.Marshal.
	var rec schema.JobRecord
	req := schema.ExportRequest{Ticket: "12a639f8f73acdab7d48835c9b404664", SubmittedAt: fixedNow}
	rec.Apply(schema.Event{Kind: schema.EventQueued, Ticket: req.Ticket, Time: fixedNow, Request: &req})
	rec.Apply(schema.Event{Kind: schema.EventStarted, Ticket: req.Ticket, Time: fixedNow, Parts: 1})
	if b, ok := rec.Job.AppendQueuedJSON(nil); ok || len(b) != 0 {
		t.Fatalf("a processing job: got %q, %v; want nothing, false", b, ok)
	}
}
