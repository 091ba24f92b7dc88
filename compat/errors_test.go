package compat_test

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/testenv"
)

// wantPlenarioError checks an error answer against Plenario's shape
// (plenario/sensor_network/api/sensor_response.py:make_error):
// {"meta":{"query":<request.args>},"error":<a message, or messages keyed
// by field>}, request.args being the query string's first values.
func wantPlenarioError(t *testing.T, what string, a answer, status int, rawQuery string) {
	t.Helper()
	if a.code != status || a.doc == nil {
		t.Errorf("%s: got %d %.300s, want %d with a JSON object", what, a.code, a.body, status)
		return
	}
	switch e := a.doc["error"].(type) {
	case string:
		if e == "" {
			t.Errorf("%s: an empty error: %s", what, a.body)
		}
	case map[string]any:
		for k, v := range e {
			if s, ok := v.(string); ok && s != "" {
				continue
			}
			if l, ok := v.([]any); !ok || len(l) == 0 {
				t.Errorf("%s: error.%s is %v, want a message or a list of them", what, k, v)
			}
		}
	default:
		t.Errorf("%s: error is %v, want a message or messages keyed by field (%.300s)", what, a.doc["error"], a.body)
	}
	args, _ := url.ParseQuery(rawQuery)
	want := map[string]any{}
	for k, v := range args {
		want[k] = v[0]
	}
	if got := path(a.doc, "meta", "query"); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: meta.query %v, want the request's arguments %v (%.300s)", what, got, want, a.body)
	}
}

// wantJobNotFound checks get_job's own 404 (plenario/api/jobs.py:get_job),
// which every ticket route of ours answers for a ticket it does not know.
func wantJobNotFound(t *testing.T, what string, a answer, ticket string) {
	t.Helper()
	if a.code != http.StatusNotFound || a.doc["ticket"] != ticket || a.doc["error"] != "Job not found." {
		t.Errorf("%s: got %d %.300s, want 404 {\"ticket\":%q,\"error\":\"Job not found.\"}", what, a.code, a.body, ticket)
	}
}

// TestPlenarioErrorShape: every client error of every route parses as
// Plenario's, so that a client's one error handler (the explorer reads
// payload.error; Plenario's tests assertIn("error", …)) reads all of
// them: the 400s Plenario had, and the 401, 404, 405, 409 and 429 it had
// not (a Flask 404 or 405 was an HTML page, which no client parsed).
func TestPlenarioErrorShape(t *testing.T) {
	const key = "shape-key"
	p := startPlenarioWith(t, testenv.ServiceOptions{APIKeys: []string{key}})
	auth := []string{"Authorization", "Bearer " + key}
	unknown := strings.Repeat("0", 32)
	sn := "/v1/api/sensor-networks/"

	// One client error for each route, with the key.
	cases := map[string]struct {
		path, query string
		status      int
		ticket      bool // get_job's 404 rather than make_error's shape
	}{
		"GET /v1/api/sensor-networks/{network}":                    {sn + "bogus", "", 400, false},
		"GET /v1/api/sensor-networks/{network}/nodes":              {sn + "test_network/nodes", "geom=nope", 400, false},
		"GET /v1/api/sensor-networks/{network}/nodes/{node}":       {sn + "test_network/nodes/bogus", "", 400, false},
		"GET /v1/api/sensor-networks/{network}/sensors":            {sn + "bogus/sensors", "", 400, false},
		"GET /v1/api/sensor-networks/{network}/sensors/{sensor}":   {sn + "test_network/sensors/bogus", "", 400, false},
		"GET /v1/api/sensor-networks/{network}/features":           {sn + "test_network/features", "bogus=1&bogus=2", 400, false},
		"GET /v1/api/sensor-networks/{network}/features/{feature}": {sn + "test_network/features/bogus", "", 400, false},
		"GET /v1/api/sensor-networks/{network}/query":              {sn + "test_network/query", "feature=bogus&limit=x", 400, false},
		"GET /v1/api/sensor-networks/{network}/download":           {sn + "test_network/download", "features=bogus", 400, false},
		"GET /v1/api/sensor-networks/{network}/aggregate":          {sn + "test_network/aggregate", "feature=vector", 400, false},
		"GET /v1/api/sensor-networks/{network}/nearest":            {sn + "test_network/nearest", "lat=north&lng=0&feature=vector", 400, false},
		"GET /v1/api/sensor-networks/{network}/check":              {sn + "bogus/check", "nodes=a", 400, false},
		"GET /v1/api/sensor-networks/{network}/map":                {sn + "bogus/map", "", 400, false},
		"GET /v1/api/jobs/{ticket}":                                {"/v1/api/jobs/" + unknown, "", 404, true},
		"DELETE /v1/api/jobs/{ticket}":                             {"/v1/api/jobs/" + unknown, "", 404, true},
		"GET /v1/api/jobs/{ticket}/events":                         {"/v1/api/jobs/" + unknown + "/events", "", 404, true},
		"GET /v1/api/jobs/{ticket}/manifest":                       {"/v1/api/jobs/" + unknown + "/manifest", "", 404, true},
		"GET /v1/api/datadump/{ticket}":                            {"/v1/api/datadump/" + unknown, "data_type=xml", 400, false},
		"POST /v1/api/webhooks":                                    {"/v1/api/webhooks", "url=ftp://x", 400, false},
		"GET /v1/api/webhooks/{id}":                                {"/v1/api/webhooks/0123456789abcdef", "", 404, false},
		"DELETE /v1/api/webhooks/{id}":                             {"/v1/api/webhooks/0123456789abcdef", "x=1", 404, false},
	}
	// Routes with no client error but a missing key.
	keyOnly := map[string]bool{"GET /v1/api/sensor-networks": true, "GET /v1/api/webhooks": true}

	for _, r := range gateway.Routes() {
		if !strings.HasPrefix(r.Path, "/v1/api/") {
			continue // /healthz, /readyz, /metrics, /openapi.json: public, for operators
		}
		c, ok := cases[r.Method+" "+r.Path]
		if !ok && !keyOnly[r.Method+" "+r.Path] {
			t.Errorf("%s %s: no client error checked for this route", r.Method, r.Path)
			continue
		}
		if !ok {
			c.path = r.Path
		}
		u := p.svc.URL + c.path
		if c.query != "" {
			u += "?" + c.query
		}
		resp, body := do(t, r.Method, u, "")
		wantPlenarioError(t, r.Method+" "+c.path+" without a key", answerOf(resp, body), http.StatusUnauthorized, c.query)
		if !ok {
			continue
		}
		resp, body = do(t, r.Method, u, "", auth...)
		a := answerOf(resp, body)
		if c.ticket {
			wantJobNotFound(t, r.Method+" "+c.path, a, unknown)
		} else {
			wantPlenarioError(t, r.Method+" "+c.path+"?"+c.query, a, c.status, c.query)
		}
	}

	// The router's own: a path no route serves, a method a path does not take.
	resp, body := do(t, "GET", p.api+"/nothing/here?x=1", "", auth...)
	wantPlenarioError(t, "GET /nothing/here", answerOf(resp, body), http.StatusNotFound, "x=1")
	resp, body = do(t, "PUT", p.net+"/nodes", "", auth...)
	wantPlenarioError(t, "PUT /nodes", answerOf(resp, body), http.StatusMethodNotAllowed, "")
}
