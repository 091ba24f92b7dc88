package compat_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
)

// browser is a script on another origin calling the API through a
// browser's fetch(), in credentials mode "same-origin" (the API key goes
// in Authorization, never in a cookie): it applies the CORS checks of the
// Fetch standard (https://fetch.spec.whatwg.org, "CORS-preflight fetch",
// "CORS check", "CORS-safelisted response-header name") and sees of an
// answer only what a browser hands the script.
type browser struct {
	t      *testing.T
	origin string
}

// seen is an answer as the script sees it: its status and body, and only
// the headers it may read.
type seen struct {
	answer
	readable map[string]bool // lower-case header names the script may read
}

// header returns what the script reads of header k, "" if it may not.
func (s seen) header(k string) string {
	if !s.readable[strings.ToLower(k)] {
		return ""
	}
	return s.hdr.Get(k)
}

// safelistedMethods and safelistedResponse are the Fetch standard's
// CORS-safelisted methods and response-header names.
var (
	safelistedMethods  = []string{"GET", "HEAD", "POST"}
	safelistedResponse = []string{"cache-control", "content-language", "content-length", "content-type", "expires", "last-modified", "pragma"}
	simpleRange        = regexp.MustCompile(`^bytes=\d+-\d*$`)
)

// needsPreflight returns the request headers a preflight must grant: all
// but the CORS-safelisted request headers (Accept, Accept-Language,
// Content-Language, a form or text Content-Type, a single simple Range).
func needsPreflight(hdr []string) []string {
	var out []string
	for i := 0; i+1 < len(hdr); i += 2 {
		k, v := strings.ToLower(hdr[i]), hdr[i+1]
		switch {
		case k == "accept" || k == "accept-language" || k == "content-language":
			continue
		case k == "content-type" && slices.Contains([]string{"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}, strings.ToLower(strings.TrimSpace(strings.Split(v, ";")[0]))):
			continue
		case k == "range" && simpleRange.MatchString(v):
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// list splits a header's comma-separated values, trimmed, lower-cased
// when fold.
func list(v string, fold bool) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			if fold {
				s = strings.ToLower(s)
			}
			out = append(out, s)
		}
	}
	return out
}

// corsOK is the Fetch standard's CORS check for a request without
// credentials: one Access-Control-Allow-Origin that is * or the origin.
func (b browser) corsOK(h http.Header) bool {
	v := h.Values("Access-Control-Allow-Origin")
	return len(v) == 1 && (v[0] == "*" || v[0] == b.origin)
}

// fetch sends method u with header pairs as the browser would: a
// preflight first when the method or a header is not safelisted, which
// must pass for the request to be sent at all; then the request, whose
// answer the script reads only if it passes the CORS check.
func (b browser) fetch(method, u string, hdr ...string) seen {
	return b.send(method, u, "", hdr...)
}

// post is fetch of a POST with body.
func (b browser) post(u, body string, hdr ...string) seen {
	return b.send(http.MethodPost, u, body, hdr...)
}

func (b browser) send(method, u, reqBody string, hdr ...string) seen {
	t := b.t
	t.Helper()
	custom := needsPreflight(hdr)
	if len(custom) > 0 || !slices.Contains(safelistedMethods, method) {
		resp, _ := testenv.Do(t, http.MethodOptions, u, "Origin", b.origin,
			"Access-Control-Request-Method", method, "Access-Control-Request-Headers", strings.Join(custom, ","))
		h := resp.Header
		if resp.StatusCode/100 != 2 || !b.corsOK(h) {
			t.Fatalf("preflight of %s %.200s: %d, Access-Control-Allow-Origin %q: the browser never sends the request", method, u, resp.StatusCode, h.Values("Access-Control-Allow-Origin"))
		}
		methods := list(h.Get("Access-Control-Allow-Methods"), false)
		if !slices.Contains(safelistedMethods, method) && !slices.Contains(methods, method) && !slices.Contains(methods, "*") {
			t.Fatalf("preflight of %s %.200s: Access-Control-Allow-Methods %q lacks %s", method, u, methods, method)
		}
		granted := list(h.Get("Access-Control-Allow-Headers"), true)
		for _, k := range custom {
			// * covers every name but Authorization (Fetch: "CORS non-wildcard request-header name").
			if !slices.Contains(granted, k) && (k == "authorization" || !slices.Contains(granted, "*")) {
				t.Fatalf("preflight of %s %.200s: Access-Control-Allow-Headers %q does not grant %s", method, u, granted, k)
			}
		}
	}
	resp, body := do(t, method, u, reqBody, append([]string{"Origin", b.origin}, hdr...)...)
	if !b.corsOK(resp.Header) {
		t.Fatalf("%s %.200s: %d with Access-Control-Allow-Origin %q: the script gets a network error, not the answer", method, u, resp.StatusCode, resp.Header.Values("Access-Control-Allow-Origin"))
	}
	s := seen{answer: answer{code: resp.StatusCode, hdr: resp.Header, body: body}, readable: map[string]bool{}}
	_ = json.Unmarshal(body, &s.doc)
	for _, k := range safelistedResponse {
		s.readable[k] = true
	}
	for _, k := range list(resp.Header.Get("Access-Control-Expose-Headers"), true) {
		if k == "*" {
			for name := range resp.Header {
				s.readable[strings.ToLower(name)] = true
			}
		}
		s.readable[k] = true
	}
	return s
}

// wantReadable fails unless the answer carries each header and the
// script may read it.
func wantReadable(t *testing.T, what string, s seen, names ...string) {
	t.Helper()
	for _, k := range names {
		if s.hdr.Get(k) == "" {
			t.Errorf("%s: no %s in the answer (%d %v)", what, k, s.code, s.hdr)
		} else if s.header(k) == "" {
			t.Errorf("%s: %s is sent but not in Access-Control-Expose-Headers %q: the script cannot read it", what, k, s.hdr.Get("Access-Control-Expose-Headers"))
		}
	}
}

// TestBrowserReaders: a browser app on another origin using what the API
// offers beyond Plenario (API keys, Idempotency-Key, ranges, validators,
// cancels, webhooks), as the browser's CORS rules let it; Plenario's own
// crossdomain (plenario/api/common.py:crossdomain) granted no request
// header and exposed none, and answered a preflight with 405
// (PLENARIO.md §1), which is what README's "Browsers on other origins"
// improves on.
func TestBrowserReaders(t *testing.T) {
	const key = "browser-key"
	p := startPlenarioWith(t, testenv.ServiceOptions{APIKeys: []string{key},
		WebhookAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	b := browser{t: t, origin: explorerOrigin}
	auth := []string{"Authorization", "Bearer " + key}

	t.Run("unauthorized", func(t *testing.T) {
		s := b.fetch("GET", p.net+"/nodes")
		wantPlenarioError(t, "no key", s.answer, http.StatusUnauthorized, "")
		wantReadable(t, "401", s, "WWW-Authenticate")
	})
	var ticket string
	t.Run("download_with_idempotency_key", func(t *testing.T) {
		u := p.net + "/download" + q("nodes", "test_node", "features", "vector", "start_datetime", "2016-10-01", "end_datetime", "2016-10-02")
		s := b.fetch("GET", u, append(auth, "Idempotency-Key", "explorer-1")...)
		ticket, _ = s.doc["ticket"].(string)
		if s.code != 200 || !ticketRe.MatchString(ticket) {
			t.Fatalf("got %d %.300s, want a ticket", s.code, s.body)
		}
		if again := b.fetch("GET", u, append(auth, "Idempotency-Key", "explorer-1")...); again.doc["ticket"] != ticket {
			t.Errorf("the same key again: ticket %v, want %s", again.doc["ticket"], ticket)
		}
	})
	if ticket == "" {
		t.FailNow()
	}
	t.Run("jobs_poll", func(t *testing.T) {
		var s seen
		testenv.Eventually(t, time.Minute, "job done", func() bool {
			s = b.fetch("GET", p.api+"/jobs/"+ticket, auth...)
			if st := path(s.doc, "status", "status"); st == "queued" || st == "processing" {
				wantReadable(t, "unfinished job", s, "Retry-After")
				return false
			}
			return true
		})
		if path(s.doc, "status", "status") != "success" {
			t.Fatalf("job: %.500s", s.body)
		}
	})
	dump := p.api + "/datadump/" + ticket + "?data_type=csv"
	var etag string
	t.Run("datadump", func(t *testing.T) {
		s := b.fetch("GET", dump, auth...)
		if s.code != 200 || s.header("X-Row-Count") != "200" {
			t.Fatalf("got %d, X-Row-Count %q: want the 200 values of 100 vector readings", s.code, s.header("X-Row-Count"))
		}
		wantReadable(t, "datadump", s, "Content-Disposition", "X-Row-Count", "ETag", "Accept-Ranges", "Content-Length")
		etag = s.header("ETag")
	})
	t.Run("datadump_ranges", func(t *testing.T) {
		s := b.fetch("GET", dump, append(auth, "Range", "bytes=0-99")...)
		if s.code != http.StatusPartialContent || len(s.body) != 100 {
			t.Errorf("bytes=0-99: got %d with %d bytes", s.code, len(s.body))
		}
		wantReadable(t, "206", s, "Content-Range", "ETag")
		s = b.fetch("GET", dump, append(auth, "Range", "bytes=-10")...) // a suffix range is not safelisted: preflighted
		if s.code != http.StatusPartialContent || len(s.body) != 10 || !strings.HasSuffix(string(s.body), "\n") {
			t.Errorf("bytes=-10: got %d %q", s.code, s.body)
		}
		s = b.fetch("GET", dump, append(auth, "Range", "bytes=99999999-")...)
		wantPlenarioError(t, "past the end", s.answer, http.StatusRequestedRangeNotSatisfiable, "data_type=csv")
		wantReadable(t, "416", s, "Content-Range")
		s = b.fetch("GET", dump, append(auth, "If-None-Match", etag)...)
		if s.code != http.StatusNotModified {
			t.Errorf("If-None-Match: got %d, want 304", s.code)
		}
		s = b.fetch("GET", dump, append(auth, "Range", "bytes=0-9", "If-Range", etag)...)
		if s.code != http.StatusPartialContent || len(s.body) != 10 {
			t.Errorf("If-Range: got %d with %d bytes", s.code, len(s.body))
		}
	})
	// Prefer: follow (README "Watching jobs") on a finished job is its
	// file; the header a script reads to tell that it followed must be
	// readable when it is sent.
	t.Run("datadump_follow", func(t *testing.T) {
		s := b.fetch("GET", dump, append(auth, "Prefer", "follow")...)
		if s.code != 200 {
			t.Errorf("got %d", s.code)
		}
		if !s.readable["preference-applied"] {
			t.Errorf("Preference-Applied is not in Access-Control-Expose-Headers %q", s.hdr.Get("Access-Control-Expose-Headers"))
		}
	})
	t.Run("manifest", func(t *testing.T) {
		if s := b.fetch("GET", p.api+"/jobs/"+ticket+"/manifest", auth...); s.code != 200 || s.doc == nil {
			t.Errorf("got %d %.300s", s.code, s.body)
		}
	})
	// A DELETE is preflighted; a finished export's result is removed
	// (README: DELETE /jobs/{ticket}), and a second DELETE has nothing to cancel.
	t.Run("cancel", func(t *testing.T) {
		if s := b.fetch("DELETE", p.api+"/jobs/"+ticket, auth...); s.code != 200 || path(s.doc, "status", "status") == nil {
			t.Errorf("got %d %.300s, want the job's document", s.code, s.body)
		}
		wantPlenarioError(t, "cancelled again", b.fetch("DELETE", p.api+"/jobs/"+ticket, auth...).answer, http.StatusConflict, "")
	})
	t.Run("webhook_registration", func(t *testing.T) {
		// A JSON body is not a safelisted Content-Type: preflighted.
		s := b.post(p.api+"/webhooks", `{"url":"http://127.0.0.1:9/hook","events":["succeeded"]}`, append(auth, "Content-Type", "application/json")...)
		if s.code != http.StatusCreated {
			t.Fatalf("got %d %.300s", s.code, s.body)
		}
		wantReadable(t, "201", s, "Location")
		if s.header("Location") != "/v1/api/webhooks/"+fmt.Sprint(s.doc["id"]) {
			t.Errorf("Location %q, id %v", s.header("Location"), s.doc["id"])
		}
		if d := b.fetch("DELETE", p.svc.URL+s.hdr.Get("Location"), auth...); d.code/100 != 2 {
			t.Errorf("DELETE %s: got %d %.300s", s.hdr.Get("Location"), d.code, d.body)
		}
	})
}

// TestBrowserTooMany: a browser app told to wait must be able to read
// how long (Retry-After) and why.
func TestBrowserTooMany(t *testing.T) {
	p := startPlenarioWith(t, testenv.ServiceOptions{NoExporter: true, MaxActive: 1})
	b := browser{t: t, origin: explorerOrigin}
	if s := b.fetch("GET", p.net+"/download?nodes=test_node"); s.code != 200 {
		t.Fatalf("first download: got %d %.300s", s.code, s.body)
	}
	s := b.fetch("GET", p.net+"/download?nodes=node_2")
	wantPlenarioError(t, "second download", s.answer, http.StatusTooManyRequests, "nodes=node_2")
	wantReadable(t, "429", s, "Retry-After")
}

// do is testenv.Do with a request body.
func do(t *testing.T, method, u, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	if body == "" {
		return testenv.Do(t, method, u, hdr...)
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := testenv.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, buf.Bytes()
}
