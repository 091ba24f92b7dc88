package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// explorer is the origin of a browser client on another host, like
// plenario-explorer.
const explorer = "https://explorer.example.org"

// safelisted are the response headers a script may always read (Fetch
// standard, "CORS-safelisted response-header name").
var safelisted = []string{"Cache-Control", "Content-Language", "Content-Length", "Content-Type", "Expires", "Last-Modified", "Pragma"}

// browser checks answers the way a browser's CORS rules do, so that a test
// fails exactly where a cross-origin script would be blocked.
type browser struct {
	t   *testing.T
	key string // Authorization: Bearer key on real requests, never on preflights
}

// listHas reports whether the comma-separated list holds v; names compare
// case-insensitively when fold is set (header names), exactly otherwise
// (methods).
func listHas(list, v string, fold bool) bool {
	for _, x := range strings.Split(list, ",") {
		x = strings.TrimSpace(x)
		if x == v || fold && strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// preflight sends the OPTIONS a browser sends before a method with
// non-safelisted request headers, and fails unless the browser would then
// send the real request.
func (b browser) preflight(method, u string, headers ...string) {
	b.t.Helper()
	resp, _ := testenv.Do(b.t, http.MethodOptions, u, "Origin", explorer,
		"Access-Control-Request-Method", method, "Access-Control-Request-Headers", strings.Join(headers, ", "))
	h := resp.Header
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b.t.Fatalf("preflight %s %s: got %d, want a 2xx", method, u, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusNoContent {
		b.t.Errorf("preflight %s %s: got %d, want 204", method, u, resp.StatusCode)
	}
	if got := h.Get("Access-Control-Allow-Origin"); got != "*" {
		b.t.Fatalf("preflight %s: Access-Control-Allow-Origin %q, want *", u, got)
	}
	if method != http.MethodGet && method != http.MethodHead && !listHas(h.Get("Access-Control-Allow-Methods"), method, false) {
		b.t.Fatalf("preflight %s: Access-Control-Allow-Methods %q lacks %s", u, h.Get("Access-Control-Allow-Methods"), method)
	}
	for _, x := range headers {
		if !listHas(h.Get("Access-Control-Allow-Headers"), x, true) {
			b.t.Fatalf("preflight %s: Access-Control-Allow-Headers %q lacks %s", u, h.Get("Access-Control-Allow-Headers"), x)
		}
	}
	if got := h.Get("Access-Control-Max-Age"); got != "21600" {
		b.t.Errorf("preflight %s: Access-Control-Max-Age %q, want 21600", u, got)
	}
}

// fetch sends the real cross-origin request and returns the status, the
// headers a script may read (the rest are dropped, as a browser does) and
// the body; it fails if the browser would hide the answer from the script.
func (b browser) fetch(method, u string, hdr ...string) (int, http.Header, []byte) {
	b.t.Helper()
	hdr = append([]string{"Origin", explorer}, hdr...)
	if b.key != "" {
		hdr = append(hdr, "Authorization", "Bearer "+b.key)
	}
	resp, body := testenv.Do(b.t, method, u, hdr...)
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != explorer {
		b.t.Fatalf("%s %s (%d): Access-Control-Allow-Origin %q: the script cannot read the answer", method, u, resp.StatusCode, got)
	}
	readable := http.Header{}
	exposed := resp.Header.Get("Access-Control-Expose-Headers")
	for name, v := range resp.Header {
		ok := listHas(exposed, name, true)
		for _, s := range safelisted {
			ok = ok || strings.EqualFold(s, name)
		}
		if ok {
			readable[name] = v
		}
	}
	return resp.StatusCode, readable, body
}

// TestCORSBrowserExport is the explorer's download as a browser runs it from
// another origin: submit, poll the job, fetch the datadump, with API keys
// off and on. Every step passes the browser's CORS checks, and the script
// reads the body and the headers it needs.
func TestCORSBrowserExport(t *testing.T) {
	for _, keys := range []bool{false, true} {
		name := "without keys"
		opts := testenv.ServiceOptions{}
		key := ""
		if keys {
			name, key = "with keys", "alpha-key"
			opts.APIKeys = []string{key, "beta-key"}
		}
		t.Run(name, func(t *testing.T) {
			svc := testenv.StartService(t, opts)
			seedSmall(t, svc)
			b := browser{t: t, key: key}
			api := svc.URL + "/v1/api/"

			submit := api + "sensor-networks/array_of_things/download?features=temperature&data_type=csv" +
				"&start_datetime=2026-09-20T00:00:00&end_datetime=2026-10-02T00:00:00"
			b.preflight("GET", submit, "Authorization", "Idempotency-Key")
			code, _, body := b.fetch("GET", submit, "Idempotency-Key", "cors-"+name)
			var j schema.Job
			if err := json.Unmarshal(body, &j); code != 200 || err != nil || !schema.IsTicket(j.Ticket) {
				t.Fatalf("submit: got %d %s", code, body)
			}

			job := api + "jobs/" + j.Ticket
			b.preflight("GET", job, "Authorization")
			testenv.Eventually(t, time.Minute, "the job finished", func() bool {
				code, _, body := b.fetch("GET", job)
				if code != 200 || json.Unmarshal(body, &j) != nil {
					t.Fatalf("poll: got %d %s", code, body)
				}
				return schema.TerminalStatus(j.Status.Status)
			})
			if j.Status.Status != schema.StatusSuccess {
				t.Fatalf("job: got %q, want success", j.Status.Status)
			}

			dump := api + "datadump/" + j.Ticket + "?data_type=csv"
			b.preflight("GET", dump, "Authorization", "Range", "If-Range", "If-None-Match", "Accept-Encoding")
			code, h, body := b.fetch("GET", dump)
			want := testenv.DirectRows(t, svc.Store, `SELECT node_id, ts, sensor, feature, property, value FROM observations
				WHERE network = 'array_of_things' AND feature = 'temperature'
				AND ts >= toDateTime('2026-09-20 00:00:00', 'UTC') AND ts < toDateTime('2026-10-02 00:00:00', 'UTC')`)
			rows := testenv.ParseCSV(t, bytes.NewReader(body))
			if code != 200 || len(want) == 0 || len(rows) != len(want) {
				t.Fatalf("datadump: got %d with %d rows, want 200 with %d", code, len(rows), len(want))
			}
			if got := h.Get("X-Row-Count"); got != strconv.Itoa(len(want)) {
				t.Errorf("X-Row-Count readable as %q, want %d", got, len(want))
			}
			if got := h.Get("Content-Disposition"); got != "attachment; filename=array_of_things.datadump.csv" {
				t.Errorf("Content-Disposition readable as %q", got)
			}
			if h.Get("ETag") == "" || h.Get("Content-Length") != strconv.Itoa(len(body)) || h.Get("Accept-Ranges") != "bytes" {
				t.Errorf("ETag %q, Content-Length %q (body %d), Accept-Ranges %q: want all readable",
					h.Get("ETag"), h.Get("Content-Length"), len(body), h.Get("Accept-Ranges"))
			}

			// A resumed download: a range, then a revalidation.
			code, rh, part := b.fetch("GET", dump, "Range", "bytes=10-19", "If-Range", h.Get("ETag"))
			if code != http.StatusPartialContent || !bytes.Equal(part, body[10:20]) ||
				rh.Get("Content-Range") != "bytes 10-19/"+strconv.Itoa(len(body)) {
				t.Errorf("range: got %d %q Content-Range %q", code, part, rh.Get("Content-Range"))
			}
			if code, _, _ := b.fetch("GET", dump, "If-None-Match", h.Get("ETag")); code != http.StatusNotModified {
				t.Errorf("revalidation: got %d, want 304", code)
			}

			if keys {
				// The key, not the preflight, decides what is visible.
				other := browser{t: t, key: "beta-key"}
				for _, u := range []string{job, dump} {
					if code, _, body := other.fetch("GET", u); code != 404 {
						t.Errorf("another key reads %s: got %d %s, want 404", u, code, body)
					}
					code, h, body := browser{t: t}.fetch("GET", u)
					if code != 401 || h.Get("WWW-Authenticate") == "" || !bytes.Contains(body, []byte("API key")) {
						t.Errorf("no key on %s: got %d WWW-Authenticate %q %s, want a readable 401", u, code, h.Get("WWW-Authenticate"), body)
					}
				}
			}
		})
	}
}

// TestCORSOnErrors: a script reads every kind of answer, not only the
// successes: Plenario's field errors, a 404, a 405, a 429's Retry-After,
// the answer to a request too large to read; and any OPTIONS is a 204, on
// any path, never a 405.
func TestCORSOnErrors(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true, MaxActive: 1})
	seedSmall(t, svc)
	b := browser{t: t}
	api := svc.URL + "/v1/api/"
	download := api + "sensor-networks/array_of_things/download?features="

	if code, _, body := b.fetch("GET", download+"temperature"); code != 200 {
		t.Fatalf("first job: got %d %s", code, body)
	}
	code, h, _ := b.fetch("GET", download+"magnetic_field")
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Errorf("past the limit: got %d Retry-After %q, want a readable 429 with Retry-After", code, h.Get("Retry-After"))
	}
	code, _, body := b.fetch("GET", download+"humidity")
	if code != 400 || !bytes.Contains(body, []byte(`"features":["Invalid feature of interest name: humidity"]`)) {
		t.Errorf("bad feature: got %d %s", code, body)
	}
	code, _, body = b.fetch("GET", api+"jobs/"+strings.Repeat("0", 32))
	if code != 404 || !bytes.Contains(body, []byte(`"error":"Job not found."`)) {
		t.Errorf("unknown job: got %d %s", code, body)
	}
	if code, _, _ := b.fetch("GET", api+"no-such-thing"); code != 404 {
		t.Errorf("unknown path: got %d, want 404", code)
	}
	code, h, _ = b.fetch("POST", api+"jobs/"+strings.Repeat("0", 32))
	if code != 405 || h.Get("Allow") != "GET, HEAD, DELETE, OPTIONS" {
		t.Errorf("POST on a job: got %d Allow %q", code, h.Get("Allow"))
	}
	code, _, body = b.fetch("GET", api+"sensor-networks?x="+strings.Repeat("a", 40<<10))
	if code != http.StatusRequestHeaderFieldsTooLarge || !bytes.Contains(body, []byte("too large")) {
		t.Errorf("a request too large to read: got %d %s", code, firstBytes(body))
	}

	// Preflights: every path, known or not, and the methods each takes.
	b.preflight("DELETE", api+"jobs/"+strings.Repeat("0", 32), "Authorization")
	b.preflight("GET", api+"jobs/"+strings.Repeat("0", 32)+"/events", "Last-Event-ID")
	b.preflight("GET", api+"no-such-thing", "Authorization")
	resp, _ := testenv.Do(t, http.MethodOptions, api+"jobs/"+strings.Repeat("0", 32))
	if resp.StatusCode != 204 || resp.Header.Get("Allow") != "GET, HEAD, DELETE, OPTIONS" ||
		resp.Header.Get("Access-Control-Allow-Methods") != "GET, HEAD, DELETE" {
		t.Errorf("a plain OPTIONS: got %d Allow %q Access-Control-Allow-Methods %q", resp.StatusCode,
			resp.Header.Get("Allow"), resp.Header.Get("Access-Control-Allow-Methods"))
	}
	// What is not a list of header names is not echoed: the API's own list is granted.
	resp, _ = testenv.Do(t, http.MethodOptions, api+"sensor-networks", "Origin", explorer,
		"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-a, (b)")
	if got := resp.Header.Get("Access-Control-Allow-Headers"); strings.Contains(got, "(b)") || !listHas(got, "Authorization", true) {
		t.Errorf("a malformed request list: Access-Control-Allow-Headers %q", got)
	}
}
