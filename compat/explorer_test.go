package compat_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
)

// The explorer's origin: plenario-explorer ran on another host than the API.
const explorerOrigin = "http://explorer.plenar.io"

// fromExplorer GETs u as the explorer's ajax service did: cross-origin,
// so that the browser hands the answer to the script only with
// Access-Control-Allow-Origin.
func fromExplorer(t *testing.T, u string) answer {
	t.Helper()
	a := get(t, u, "Origin", explorerOrigin)
	if got := a.hdr.Get("Access-Control-Allow-Origin"); got != "*" && got != explorerOrigin {
		t.Errorf("GET %.200s from %s: Access-Control-Allow-Origin %q: the browser hides the answer", u, explorerOrigin, got)
	}
	return a
}

// moment().utc().format(): the explorer's datetimes.
func momentFormat(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// TestPlenarioExplorer: the calls of plenario-explorer's app/services
// (query.js, plenario-api.js) and what its controllers read of the answers.
func TestPlenarioExplorer(t *testing.T) {
	p := startPlenario(t)

	t.Run("query.allNodeMetadata", func(t *testing.T) {
		a := fromExplorer(t, p.net+"/nodes")
		if a.code != 200 {
			t.Fatalf("got %d %.300s", a.code, a.body)
		}
		for _, n := range a.data(t) { // controllers/sensors.js, models/node.js
			if id, _ := path(n, "properties", "id").(string); id == "" {
				t.Errorf("node %v: no properties.id", n)
			}
			if _, ok := path(n, "properties", "sensors").([]any); !ok {
				t.Errorf("node %v: no properties.sensors list", n)
			}
			if _, ok := path(n, "properties", "info").(map[string]any); !ok {
				t.Errorf("node %v: no properties.info object", n)
			}
			if c, _ := path(n, "geometry", "coordinates").([]any); len(c) != 2 {
				t.Errorf("node %v: no geometry.coordinates", n)
			}
		}
	})
	t.Run("query.getSensorObservations", func(t *testing.T) {
		u := p.net + "/query" + q("feature", "temperature", "nodes", "node_2",
			"start_datetime", momentFormat(p.start.Add(-time.Hour)), "end_datetime", momentFormat(time.Now().Add(time.Second)), "sensors", "sensor_01")
		a := fromExplorer(t, u)
		if a.code != 200 || len(a.data(t)) != liveReadings {
			t.Fatalf("got %d %.500s, want the %d readings of the last hour", a.code, a.body, liveReadings)
		}
		for _, o := range a.data(t) {
			for _, k := range []string{"feature", "node", "sensor", "datetime", "results"} {
				if path(o, k) == nil {
					t.Errorf("observation %v: no %s", o, k)
				}
			}
			if _, ok := path(o, "results", "temperature").(float64); !ok {
				t.Errorf("observation %v: no results.temperature", o)
			}
		}
	})
	t.Run("query.getHistoryFor", func(t *testing.T) {
		u := p.net + "/aggregate" + q("sensors", "sensor_01", "node", "node_2", "feature", "temperature",
			"function", "avg", "start_datetime", momentFormat(time.Now().Add(-7*24*time.Hour)))
		a := fromExplorer(t, u)
		if a.code != 200 {
			t.Fatalf("got %d %.500s", a.code, a.body)
		}
		d := a.data(t)
		if len(d) < 7*24 || len(d) > 7*24+1 {
			t.Errorf("%d buckets, want the week's hours", len(d))
		}
		seen := 0
		for _, b := range d {
			if _, ok := path(b, "time_bucket").(string); !ok {
				t.Fatalf("bucket %v: no time_bucket", b)
			}
			if _, ok := path(b, "temperature", "avg").(float64); ok {
				seen++
			}
		}
		if n := sumCounts(t, d, "temperature"); n != liveReadings || seen == 0 {
			t.Errorf("%d readings in buckets with an avg, %d counted; want %d", seen, n, liveReadings)
		}
	})
	// components/node-chart.js:createTimelines calls getHistoryFor once a
	// sensor and feature with the types' full names, and query.js sends
	// type.toString(): feature=vector.x,vector.y (an array's toString), or
	// temperature.temperature; addToHash reads bucket[prop].avg of each.
	// (An end_datetime is added to reach the fixture's 2016 readings.)
	t.Run("query.getHistoryFor_types", func(t *testing.T) {
		for _, c := range []struct{ sensor, types string }{{"sensor_02", "vector.x,vector.y"}, {"sensor_01", "temperature.temperature"}} {
			u := p.net + "/aggregate" + q("sensors", c.sensor, "node", "test_node", "feature", c.types, "function", "avg",
				"start_datetime", "2016-10-01T00:00:00Z", "end_datetime", "2016-10-03T00:00:00Z")
			a := fromExplorer(t, u)
			if a.code != 200 {
				t.Errorf("feature=%s: got %d %.500s", c.types, a.code, a.body)
				continue
			}
			d := a.data(t)
			for _, typ := range strings.Split(c.types, ",") {
				prop := strings.SplitN(typ, ".", 2)[1]
				if n := sumCounts(t, d, prop); n != 200 {
					t.Errorf("feature=%s: %d %s values, want the 200 of two days", c.types, n, prop)
				}
			}
			if len(d) > 0 {
				wantKeys(t, "bucket of "+c.types, d[0], append([]string{"time_bucket"}, propsOf(c.types)...)...)
			}
		}
	})
	t.Run("plenario-api.networks.metadata.features", func(t *testing.T) {
		a := fromExplorer(t, p.net+"/features")
		for _, f := range a.data(t) {
			props, _ := path(f, "properties").([]any)
			kept := 0
			for _, pr := range props { // _.filter(feat.properties, 'common_name')
				if cn, _ := path(pr, "common_name").(string); cn != "" {
					kept++
				}
			}
			if len(props) == 0 || kept != len(props) {
				t.Errorf("feature %v: %d of %d properties have a common_name; the explorer hides the rest", f, kept, len(props))
			}
		}
		// r.payload.error.match(/^No features found within /) ? [] : r.payload.error
		a = fromExplorer(t, p.net+"/features"+geom(lakeForFeatures))
		if e, _ := a.doc["error"].(string); a.code != 400 || !regexp.MustCompile(`^No features found within `).MatchString(e) {
			t.Errorf("empty area: got %d %.300s, want the error the explorer takes for none", a.code, a.body)
		}
	})
	t.Run("controllers.datadump.download", func(t *testing.T) {
		// query.sensorDownload: nodes, features joined by commas, start and end.
		ticket, _ := p.submit(t, q("nodes", "test_node", "features", "temperature,vector",
			"start_datetime", "2016-10-01T00:00:00Z", "end_datetime", "2016-10-04T00:00:00Z")[1:])
		var job answer
		testenv.Eventually(t, time.Minute, "job done", func() bool {
			job = fromExplorer(t, p.api+"/jobs/"+ticket)
			if job.code != 200 {
				t.Fatalf("poll: got %d %.300s", job.code, job.body)
			}
			st := path(job.doc, "status", "status")
			if _, err := time.Parse("2006-01-02 15:04:05.999999", path(job.doc, "status", "meta", "queueTime").(string)); err != nil {
				t.Fatalf("moment.utc(job.status.meta.queueTime): %v", err)
			}
			if st == "processing" || st == "success" {
				w, _ := path(job.doc, "status", "meta", "workers").([]any)
				if len(w) == 0 {
					t.Fatalf("%s without meta.workers: %.300s", st, job.body)
				}
			}
			if pr := path(job.doc, "status", "progress"); pr != nil {
				_, okd := path(pr, "done").(float64)
				_, okt := path(pr, "total").(float64)
				if !okd || !okt {
					t.Fatalf("progress %v: done and total must be numbers", pr)
				}
			}
			return st == "success" || st == "error"
		})
		if path(job.doc, "status", "status") != "success" || path(job.doc, "status", "progress") == nil {
			t.Fatalf("job: %.500s, want success with progress (the explorer waits for progress to finish)", job.body)
		}
		if _, err := time.Parse("2006-01-02 15:04:05.999999", path(job.doc, "status", "meta", "endTime").(string)); err != nil {
			t.Errorf("moment.utc(job.status.meta.endTime): %v", err)
		}
		// query.getDataDump: window.open(/datadump/{ticket}), no data_type.
		a := fromExplorer(t, p.api+"/datadump/"+ticket)
		if n := dumpData(t, a); n != 900 {
			t.Errorf("datadump: %d observations, want 600 temperature (two sensors) and 300 vector readings", n)
		}
		if !strings.Contains(a.hdr.Get("Access-Control-Expose-Headers"), "Content-Disposition") {
			t.Errorf("Access-Control-Expose-Headers %q: a script cannot read the file name", a.hdr.Get("Access-Control-Expose-Headers"))
		}
	})
	t.Run("controllers.datadump.download_not_found", func(t *testing.T) {
		// reason.errors[0].status === '404' → the not-found route.
		if a := fromExplorer(t, p.api+"/jobs/"+strings.Repeat("0", 32)); a.code != http.StatusNotFound {
			t.Errorf("got %d, want 404", a.code)
		}
	})
	// Plenario answered OPTIONS with 405, which fails a browser's preflight
	// (PLENARIO.md §1); we answer it, with the methods and Max-Age it sent.
	t.Run("crossdomain_preflight", func(t *testing.T) {
		resp, _ := testenv.Do(t, http.MethodOptions, p.api+"/jobs/"+strings.Repeat("0", 32), "Origin", explorerOrigin,
			"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
		h := resp.Header
		if resp.StatusCode/100 != 2 || h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Max-Age") != "21600" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") || !strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Errorf("preflight: %d %v", resp.StatusCode, h)
		}
	})
	t.Run("crossdomain_headers", func(t *testing.T) {
		for _, u := range []string{p.api + "/sensor-networks", p.net + "/sensors", p.net + "/query?feature=vector", p.net + "/check?nodes=test_node", p.net + "/map", p.net + "/nodes/bogus"} {
			a := fromExplorer(t, u)
			if m := a.hdr.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "GET") || !strings.Contains(m, "HEAD") {
				t.Errorf("%s: Access-Control-Allow-Methods %q, want GET, HEAD", u, m)
			}
			if a.hdr.Get("Access-Control-Max-Age") != "21600" {
				t.Errorf("%s: Access-Control-Max-Age %q, want 21600", u, a.hdr.Get("Access-Control-Max-Age"))
			}
		}
	})
}

// propsOf is the property names of a comma list of feature.property.
func propsOf(types string) []string {
	var out []string
	for _, typ := range strings.Split(types, ",") {
		out = append(out, strings.SplitN(typ, ".", 2)[1])
	}
	return out
}
