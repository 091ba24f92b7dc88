package gateway_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// getWithHost sends a GET of path with the Host header as given (net/http
// refuses to send one that is not a host) and returns the status and body.
func getWithHost(t *testing.T, base, path, host string) (int, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestResultLinksAndHost: without a URL root, a job's links take the
// request's Host, forged or not (what the README warns of); a Host that is
// no host[:port] is refused in the error shape (by fasthttp already when it
// cannot be a URI's authority); with a URL root the Host is not used.
func TestResultLinksAndHost(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	seedSmall(t, svc)
	path := "/v1/api/sensor-networks/array_of_things/download?features=temperature&nodes="
	node := []string{"001e0610b000", "001e0610b001", "001e0610b002", "001e0610b003", "001e0610b004", "001e0610b005", "001e0610b006", "001e0610b007", "001e0610b009", "001e0610b010"}
	for i, tc := range []struct {
		host    string
		status  int
		wantURL string // the job link's prefix
	}{
		{"evil.example", 200, "http://evil.example/v1/api/jobs/"},
		{"evil.example:8443", 200, "http://evil.example:8443/v1/api/jobs/"},
		{"[::1]:8080", 200, "http://[::1]:8080/v1/api/jobs/"},
		{"evil.example/phish?", 400, ""},
		{"evil.example:99999", 400, ""},
		{"evil_example", 400, ""},
		{"[not-v6]:80", 400, ""},
		{"evil.example:", 400, ""},
		{"-bad.example", 400, ""},
	} {
		t.Run(tc.host, func(t *testing.T) {
			status, body := getWithHost(t, svc.URL, path+node[i], tc.host)
			if status != tc.status {
				t.Fatalf("Host %q: got %d %s, want %d", tc.host, status, body, tc.status)
			}
			if tc.status == 400 {
				var e struct {
					Error map[string][]string `json:"error"`
				}
				if json.Unmarshal(body, &e) != nil || len(e.Error["host"])+len(e.Error["request"]) != 1 {
					t.Fatalf("Host %q: got %s, want one message, for host or the request", tc.host, body)
				}
				return
			}
			var j schema.Job
			if err := json.Unmarshal(body, &j); err != nil || !strings.HasPrefix(j.URL, tc.wantURL) {
				t.Fatalf("Host %q: job link %q, want it under %q", tc.host, j.URL, tc.wantURL)
			}
		})
	}

	rooted := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true, Store: svc.Store, URLRoot: "https://exports.example.org/"})
	status, body := getWithHost(t, rooted.URL, path+"001e0610b008", "evil.example")
	var j schema.Job
	if err := json.Unmarshal(body, &j); status != 200 || err != nil || !strings.HasPrefix(j.URL, "https://exports.example.org/v1/api/jobs/") {
		t.Fatalf("with a URL root: got %d, job link %q, want it under the root", status, j.URL)
	}
}
