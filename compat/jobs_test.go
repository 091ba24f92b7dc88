package compat_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
)

var (
	ticketRe  = regexp.MustCompile(`^[0-9a-f]{32}$`)
	jobTimeRe = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$`) // str(datetime.datetime.now())
)

// submit asks for a download with the raw query string and returns the
// answer, failing unless it is 200 with a ticket.
func (p *plenario) submit(t *testing.T, query string) (string, answer) {
	t.Helper()
	a := getJSON(t, p.net+"/download?"+query, 200)
	ticket, _ := a.doc["ticket"].(string)
	if !ticketRe.MatchString(ticket) {
		t.Fatalf("download %s: ticket %q in %.500s, want 32 lowercase hex", query, ticket, a.body)
	}
	return ticket, a
}

// wait polls /jobs/{ticket} as Plenario's test did, until the status is
// error or success, and returns the last document.
func (p *plenario) wait(t *testing.T, ticket string) answer {
	t.Helper()
	var a answer
	testenv.Eventually(t, time.Minute, "job "+ticket+" done", func() bool {
		a = getJSON(t, p.api+"/jobs/"+ticket, 200)
		s := path(a.doc, "status", "status")
		return s == "error" || s == "success"
	})
	if s := path(a.doc, "status", "status"); s != "success" {
		t.Fatalf("job %s: %v, want success (%.500s)", ticket, s, a.body)
	}
	return a
}

// dump exports query and returns the GET of its result url with extra.
func (p *plenario) dump(t *testing.T, query, extra string) answer {
	t.Helper()
	ticket, _ := p.submit(t, query)
	u, _ := path(p.wait(t, ticket).doc, "result", "url").(string)
	if u == "" {
		t.Fatalf("job %s: no result.url", ticket)
	}
	if extra != "" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + extra
	}
	return get(t, u)
}

// dumpData is the number of observations in a JSON datadump: Plenario's
// envelope {"startTime","endTime","workers","data":[…]}.
func dumpData(t *testing.T, a answer) int {
	t.Helper()
	if a.code != 200 {
		t.Fatalf("datadump: got %d %.500s", a.code, a.body)
	}
	if err := testenv.StrictJSON(a.body); err != nil {
		t.Fatalf("datadump is not JSON: %v", err)
	}
	wantKeys(t, "datadump", a.doc, "startTime", "endTime", "workers", "data")
	d, _ := a.doc["data"].([]any)
	return len(d)
}

// csvRows is the number of rows of a CSV datadump, its header not counted.
func csvRows(t *testing.T, a answer) int {
	t.Helper()
	if a.code != 200 {
		t.Fatalf("datadump: got %d %.500s", a.code, a.body)
	}
	lines := strings.Split(strings.TrimSuffix(string(a.body), "\n"), "\n")
	if lines[0] != "node_id,datetime,sensor,feature,property,value" {
		t.Fatalf("csv header %q", lines[0])
	}
	return len(lines) - 1
}

// TestPlenarioJobs: the ticket era's download, /jobs and /datadump, from
// test_sensor_networks.py (T and H), tests/test_api/test_jobs.py and
// plenario/api/jobs.py, point.py.
func TestPlenarioJobs(t *testing.T) {
	p := startPlenario(t)

	t.Run("test_download_queues_job_returns_ticket", func(t *testing.T) {
		p.submit(t, "sensors=sensor_01&nodes=test_node&features=vector")
	})
	t.Run("make_job_response", func(t *testing.T) {
		ticket, a := p.submit(t, "sensors=sensor_01&nodes=test_node&features=temperature&start_datetime=2016-10-01")
		if path(a.doc, "request", "endpoint") != "observation_datadump" {
			t.Errorf("request.endpoint %v", path(a.doc, "request", "endpoint"))
		}
		if u, _ := a.doc["url"].(string); u != p.api+"/jobs/"+ticket {
			t.Errorf("url %q, want %s/jobs/%s", u, p.api, ticket)
		}
		if !strings.HasPrefix(path(a.doc, "request", "query", "start_datetime").(string), "2016-10-01") {
			t.Errorf("request.query.start_datetime %v", path(a.doc, "request", "query", "start_datetime"))
		}
		// PLENARIO.md §12: the answer keeps our status beside Plenario's keys.
		if s := path(a.doc, "status", "status"); s != "queued" && s != "processing" && s != "success" {
			t.Errorf("status.status %v", s)
		}
	})
	// Idempotency (PLENARIO.md §9): the same arguments again get the same ticket.
	t.Run("submit_job_same_args_same_ticket", func(t *testing.T) {
		a, _ := p.submit(t, "nodes=test_node&features=vector&start_datetime=2016-10-02&end_datetime=2016-10-03")
		b, _ := p.submit(t, "nodes=test_node&features=vector&start_datetime=2016-10-02&end_datetime=2016-10-03")
		if a != b {
			t.Errorf("tickets %s and %s, want one", a, b)
		}
	})
	t.Run("make_job_response_request_query", func(t *testing.T) {
		_, a := p.submit(t, "nodes=TEST_node&features=vector&sensors=sensor_02&start_datetime=2016-10-01&end_datetime=2016-10-02")
		rq := path(a.doc, "request", "query")
		if path(rq, "network") != testNetwork || strings.Join(strList(path(rq, "features")), ",") != "vector" ||
			strings.Join(strList(path(rq, "nodes")), ",") != "test_node" || strings.Join(strList(path(rq, "sensors")), ",") != "sensor_02" {
			t.Errorf("request.query %v, want the validated network, features, nodes, sensors", rq)
		}
		if e, _ := path(rq, "end_datetime").(string); !strings.HasPrefix(e, "2016-10-02") {
			t.Errorf("request.query.end_datetime %q", e)
		}
	})
	t.Run("test_download_queues_job_returns_correct_result_for_good_args", func(t *testing.T) {
		// JSON is served when no data_type was asked (PLENARIO.md §9).
		a := p.dump(t, "sensors=sensor_01&nodes=test_node&features=temperature&start_datetime=2000-01-01", "")
		if n := dumpData(t, a); n != 300 {
			t.Errorf("datadump data: %d observations, want 300", n)
		}
	})
	t.Run("test_job_submission_by_api", func(t *testing.T) {
		ticket, _ := p.submit(t, "nodes=test_node&features=vector&start_datetime=2016-10-01")
		a := getJSON(t, p.api+"/jobs/"+ticket, 200)
		wantKeys(t, "job", a.doc, "ticket", "request", "result", "status")
		if s := path(a.doc, "status", "status"); s != "queued" && s != "processing" && s != "success" {
			t.Errorf("status.status %v", s)
		}
		if qt, _ := path(a.doc, "status", "meta", "queueTime").(string); !jobTimeRe.MatchString(qt) {
			t.Errorf("meta.queueTime %q, want YYYY-MM-DD HH:MM:SS.ffffff", qt)
		}
		if a.doc["ticket"] != ticket {
			t.Errorf("ticket %v", a.doc["ticket"])
		}
		a = p.wait(t, ticket)
		for _, k := range []string{"startTime", "endTime"} {
			if v, _ := path(a.doc, "status", "meta", k).(string); !jobTimeRe.MatchString(v) {
				t.Errorf("meta.%s %q, want YYYY-MM-DD HH:MM:SS.ffffff", k, v)
			}
		}
		if w, _ := path(a.doc, "status", "meta", "workers").([]any); len(w) == 0 {
			t.Errorf("meta.workers %v, want the worker names", path(a.doc, "status", "meta", "workers"))
		}
		if u, _ := path(a.doc, "result", "url").(string); u != p.api+"/datadump/"+ticket {
			t.Errorf("result.url %q, want %s/datadump/%s", u, p.api, ticket)
		}
		done, _ := path(a.doc, "status", "progress", "done").(float64)
		total, _ := path(a.doc, "status", "progress", "total").(float64)
		if done < 1 || done != total {
			t.Errorf("progress %v, want done = total ≥ 1", path(a.doc, "status", "progress"))
		}
	})
	t.Run("test_bad_job_retrieval", func(t *testing.T) {
		ticket := "for_sure_this_isnt_a_job_because_jobs_are_in_hex"
		a := get(t, p.api+"/jobs/"+ticket+"?&123456")
		if a.code != http.StatusNotFound || a.doc["ticket"] != ticket || a.doc["error"] != "Job not found." {
			t.Errorf("got %d %.300s, want 404 {\"ticket\":%q,\"error\":\"Job not found.\"}", a.code, a.body, ticket)
		}
	})
	t.Run("get_datadump_unknown_ticket", func(t *testing.T) {
		ticket := strings.Repeat("ab", 16)
		a := get(t, p.api+"/datadump/"+ticket)
		if a.code != http.StatusNotFound || a.doc["ticket"] != ticket || a.doc["error"] != "Job not found." {
			t.Errorf("got %d %.300s, want get_job's 404", a.code, a.body)
		}
	})
	t.Run("get_datadump_json", func(t *testing.T) {
		a := p.dump(t, "nodes=test_node&features=vector&start_datetime=2016-10-01&end_datetime=2016-10-02", "data_type=json")
		if n := dumpData(t, a); n != 100 {
			t.Errorf("%d observations, want 100", n)
		}
		if ct := a.hdr.Get("Content-Type"); !strings.Contains(ct, "json") {
			t.Errorf("Content-Type %q", ct)
		}
		// Plenario wrote "attachement" (sic): we write it right (PLENARIO.md §12 intro).
		if cd := a.hdr.Get("Content-Disposition"); cd != "attachment; filename=test_network.datadump.json" {
			t.Errorf("Content-Disposition %q", cd)
		}
		wantKeys(t, "observation", path(a.doc, "data", "0"), "node", "meta_id", "datetime", "sensor", "feature", "results")
		if w, _ := a.doc["workers"].([]any); len(w) == 0 {
			t.Errorf("workers %v", a.doc["workers"])
		}
	})
	// The CSV stays long, one value per row (PLENARIO.md §12): 100 vector
	// readings are 200 rows.
	t.Run("get_datadump_csv", func(t *testing.T) {
		a := p.dump(t, "nodes=test_node&features=vector&start_datetime=2016-10-01&end_datetime=2016-10-02", "data_type=csv")
		if n := csvRows(t, a); n != 200 {
			t.Errorf("%d rows, want 200", n)
		}
		if cd := a.hdr.Get("Content-Disposition"); cd != "attachment; filename=test_network.datadump.csv" {
			t.Errorf("Content-Disposition %q", cd)
		}
	})

	// H's synchronous /download tests, asked of the ticket era's: the same
	// parameters, counted in the JSON datadump's observations and in the
	// long CSV's values (the wide per-feature CSV belonged to the
	// synchronous /download we do not speak: PLENARIO.md §12).
	from := "start_datetime=2016-10-01T00:00:00"
	t.Run("test_sensor_network_download_csv", func(t *testing.T) {
		want := p.direct(t, "count()", "node_id = 'test_node' AND ts >= '2016-10-01 00:00:00'")
		if n := csvRows(t, p.dump(t, from+"&node=test_node&data_type=csv", "")); n != want || n != 1200 {
			t.Errorf("%d rows, want ClickHouse's %d (600 vector values, 600 temperatures)", n, want)
		}
	})
	t.Run("test_sensor_network_download_with_node_and_feature_args", func(t *testing.T) {
		if n := dumpData(t, p.dump(t, "nodes=test_node&features=vector&start_datetime=2016-10-01&end_datetime=2016-10-02", "data_type=json")); n != 100 {
			t.Errorf("%d observations, want 100", n)
		}
	})
	t.Run("test_sensor_network_download_json", func(t *testing.T) {
		if n := dumpData(t, p.dump(t, from+"&data_type=json&nodes=test_node", "")); n != 900 {
			t.Errorf("%d observations, want 900", n)
		}
	})
	t.Run("test_sensor_network_download_csv_with_feature_filter", func(t *testing.T) {
		if n := csvRows(t, p.dump(t, from+"&feature=temperature&nodes=test_node&data_type=csv", "")); n != 600 {
			t.Errorf("%d rows, want 600", n)
		}
	})
	t.Run("test_sensor_network_download_json_with_feature_filter", func(t *testing.T) {
		if n := dumpData(t, p.dump(t, from+"&data_type=json&feature=vector&nodes=test_node", "")); n != 300 {
			t.Errorf("%d observations, want 300", n)
		}
	})
	t.Run("test_sensor_network_download_csv_with_feature_and_sensor_filter", func(t *testing.T) {
		if n := csvRows(t, p.dump(t, from+"&feature=temperature&sensor=sensor_01&node=test_node&data_type=csv", "")); n != 300 {
			t.Errorf("%d rows, want 300", n)
		}
	})
	// sn:get_observations_download: start_datetime defaults to 7 days
	// before now (PLENARIO.md §9): node_2's reading of 30 days ago is out.
	t.Run("get_observations_download_default_window", func(t *testing.T) {
		if n := csvRows(t, p.dump(t, "nodes=node_2&features=temperature&data_type=csv", "")); n != liveReadings {
			t.Errorf("%d rows, want the %d readings of the last 7 days", n, liveReadings)
		}
	})
	// T: no features are all the features of the sensors on the nodes
	// within geom (both nodes here), every one of their values exported.
	t.Run("get_observations_download_geom_all_features", func(t *testing.T) {
		want := p.direct(t, "count()", "ts >= '2016-10-01 00:00:00'")
		if n := csvRows(t, p.dump(t, "start_datetime=2016-10-01&data_type=csv&"+geom(chicago)[1:], "")); n != want {
			t.Errorf("%d rows, want ClickHouse's %d", n, want)
		}
	})
	t.Run("download_limit_and_offset", func(t *testing.T) {
		ticket, a := p.submit(t, "nodes=test_node&features=temperature&start_datetime=2016-10-01&limit=50&offset=10&data_type=csv")
		if path(a.doc, "request", "query", "limit") != 50.0 || path(a.doc, "request", "query", "offset") != 10.0 {
			t.Errorf("request.query %v, want limit and offset echoed", path(a.doc, "request", "query"))
		}
		u, _ := path(p.wait(t, ticket).doc, "result", "url").(string)
		if n := csvRows(t, get(t, u)); n != 50 {
			t.Errorf("%d rows, want limit's 50", n)
		}
	})
	t.Run("download_filter", func(t *testing.T) {
		want := p.direct(t, "count()", "node_id = 'test_node' AND feature = 'temperature' AND value > 0.5")
		if n := csvRows(t, p.dump(t, "nodes=test_node&features=temperature&start_datetime=2016-10-01&data_type=csv&"+
			q("filter", `{"op":"gt","prop":"temperature","val":0.5}`)[1:], "")); n != want {
			t.Errorf("%d rows, want ClickHouse's %d", n, want)
		}
	})
	t.Run("download_validation", func(t *testing.T) {
		wantError(t, p.net+"/download?features=bogus", "features", "Invalid feature of interest name: bogus")
		wantError(t, p.net+"/download?nodes=bogus", "nodes", "Invalid node ID: bogus")
		wantError(t, p.net+"/download?start_datetime=soon", "start_datetime", "Not a valid datetime.")
		wantError(t, p.net+"/download?bogus=1", "bogus", "Not a valid filter")
		wantError(t, p.api+"/sensor-networks/bogus/download", "network", "Invalid network name: bogus")
	})
}

// TestPlenarioQueuedJob: a job no worker has taken yet, as jobs.py's
// submit_job left it and point.py's get_datadump answered for it.
func TestPlenarioQueuedJob(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	p := &plenario{svc: svc, api: svc.URL + "/v1/api", net: svc.URL + "/v1/api/sensor-networks/" + testNetwork}
	if err := svc.Store.SaveNetwork(t.Context(), fixtureNetworks()[0]); err != nil {
		t.Fatal(err)
	}
	ticket, _ := p.submit(t, "nodes=test_node&features=vector")

	t.Run("submit_job_queued", func(t *testing.T) {
		a := getJSON(t, p.api+"/jobs/"+ticket, 200)
		if a.doc["result"] != "" || path(a.doc, "status", "status") != "queued" {
			t.Errorf("got %.500s, want status queued and result \"\"", a.body)
		}
		if qt, _ := path(a.doc, "status", "meta", "queueTime").(string); !jobTimeRe.MatchString(qt) {
			t.Errorf("meta.queueTime %q", qt)
		}
	})
	t.Run("get_datadump_unfinished", func(t *testing.T) {
		a := get(t, p.api+"/datadump/"+ticket)
		if a.code != 200 || a.doc["ticket"] != ticket || path(a.doc, "status", "status") != "queued" {
			t.Errorf("got %d %.500s, want 200 with the queued job's document", a.code, a.body)
		}
	})
}
