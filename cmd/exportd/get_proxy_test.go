package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestGetBehindStrippingProxy: `exportd get` through a reverse proxy that
// strips the content coding, one way or the other: Accept-Encoding from
// the requests (the proxy's own client then asks for gzip and unzips, so
// the CSV comes as identity bytes of no known length), or Content-Encoding
// from the responses (the body comes as the server coded it, s2 or gzip,
// unnamed). Each download, followed while the job runs or not, is checked
// against the manifest and is the file a direct get writes.
func TestGetBehindStrippingProxy(t *testing.T) {
	svc := startGetService(t)
	dir := t.TempDir()
	target, _ := url.Parse(svc.URL)
	var mu sync.Mutex
	var seen []string // what the server sent each datadump as, before the proxy
	strip := map[string]func(*httputil.ReverseProxy){
		"Accept-Encoding": func(p *httputil.ReverseProxy) {
			director := p.Director
			p.Director = func(r *http.Request) { director(r); r.Header.Del("Accept-Encoding") }
		},
		"Content-Encoding": func(p *httputil.ReverseProxy) {
			p.ModifyResponse = func(r *http.Response) error {
				if strings.HasPrefix(r.Request.URL.Path, "/v1/api/datadump/") {
					mu.Lock()
					seen = append(seen, r.Header.Get("Content-Encoding"))
					mu.Unlock()
				}
				r.Header.Del("Content-Encoding")
				return nil
			}
		},
	}
	// Each run a window of its own, a second later each: a job submitted
	// through the proxy has its links there.
	shift := time.Second
	for _, header := range []string{"Accept-Encoding", "Content-Encoding"} {
		for _, flags := range [][]string{nil, {"--no-follow"}, {"--compressed"}, {"--compressed", "--no-follow"}} {
			name := header + strings.Join(append([]string{""}, flags...), " ")
			t.Run(name, func(t *testing.T) {
				proxy := httputil.NewSingleHostReverseProxy(target)
				strip[header](proxy)
				front := httptest.NewServer(proxy)
				defer front.Close()
				mu.Lock()
				seen = nil
				mu.Unlock()
				file := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".csv")
				args := append([]string{"--start", getSeedEnd.Add(-7*24*time.Hour + shift).Format(schema.DatetimeLayout),
					"--end", getSeedEnd.Format(schema.DatetimeLayout), "--output", file}, flags...)
				shift += time.Second
				err, lines := runGet(t, front.URL, args...)
				done := lastEvent(lines)
				if err != nil || done["verified"] != "sha256" {
					t.Fatalf("get %v behind a proxy that strips %s: %v (exit %d), last line %v", flags, header, err, exitCode(err), done)
				}
				mu.Lock()
				codings := append([]string(nil), seen...)
				mu.Unlock()
				if header == "Content-Encoding" && !containsCoded(codings) {
					t.Fatalf("the server sent the datadumps as %q: nothing coded for the proxy to hide", codings)
				}
				got, err := os.ReadFile(file)
				ticket, _ := done["ticket"].(string)
				resp, want := testenv.Do(t, http.MethodGet, svc.URL+"/v1/api/datadump/"+ticket+"?data_type=csv", "Accept-Encoding", "identity")
				if err != nil || resp.StatusCode != 200 || len(want) < 100_000 || !bytes.Equal(got, want) {
					t.Fatalf("the file (%d bytes, %v) is not the job's CSV (%d, %d bytes)", len(got), err, resp.StatusCode, len(want))
				}
			})
		}
	}
}

func containsCoded(codings []string) bool {
	for _, c := range codings {
		if c == codingS2 || c == "gzip" {
			return true
		}
	}
	return false
}
