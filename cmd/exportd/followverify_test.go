package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// watchingProxy is a loopback proxy in front of the service that notes,
// in order, each manifest `exportd get` asks for (with the parts it
// listed) and the end of each download; corrupt, when set, wraps each
// download's body.
type watchingProxy struct {
	URL     string
	mu      sync.Mutex
	log     []string // "manifest <complete> <parts listed>", "dump end"
	corrupt func(io.ReadCloser) io.ReadCloser
	rp      *httputil.ReverseProxy
	codings []string // each download's Content-Encoding
}

func startWatchingProxy(t *testing.T, target string, corrupt func(io.ReadCloser) io.ReadCloser) *watchingProxy {
	t.Helper()
	u, _ := url.Parse(target)
	p := &watchingProxy{corrupt: corrupt}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.rp = rp
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = func(r *http.Response) error {
		switch path := r.Request.URL.Path; {
		case strings.HasSuffix(path, "/manifest"):
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return err
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			var m schema.Manifest
			_ = json.Unmarshal(body, &m)
			p.note("manifest", r.StatusCode, m.Complete, len(m.Parts))
		case strings.HasPrefix(path, "/v1/api/datadump/"):
			p.mu.Lock()
			p.codings = append(p.codings, r.Header.Get("Content-Encoding"))
			p.mu.Unlock()
			if p.corrupt != nil {
				r.Body = p.corrupt(r.Body)
			}
			r.Body = &endNoting{ReadCloser: r.Body, p: p}
		}
		return nil
	}
	front := httptest.NewServer(rp)
	t.Cleanup(front.Close)
	p.URL = front.URL
	return p
}

func (p *watchingProxy) note(what string, args ...any) {
	b, _ := json.Marshal(args)
	if len(args) > 0 {
		what += " " + string(b)
	}
	p.mu.Lock()
	p.log = append(p.log, what)
	p.mu.Unlock()
}

// events is the log so far.
func (p *watchingProxy) events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

// endNoting notes the clean end of a download's body.
type endNoting struct {
	io.ReadCloser
	p    *watchingProxy
	once sync.Once
}

func (e *endNoting) Read(b []byte) (int, error) {
	n, err := e.ReadCloser.Read(b)
	if err == io.EOF {
		e.once.Do(func() { e.p.note("dump end") })
	}
	return n, err
}

// TestGetFollowChecksLive: `exportd get` checks a followed download's
// parts as they come, from the job's partial manifest: while the job is
// held after its first part, it has asked for a manifest that lists part
// 1; once the job succeeds, the file is ClickHouse's rows in order, every
// part's SHA-256 checked without reading the file back, and at most a
// request or two after the last byte (the check of the last part, and
// the whole manifest if the partial one had not caught up yet).
func TestGetFollowChecksLive(t *testing.T) {
	h := testenv.StartHeld(t, 18_000, getSeedEnd)
	p := startWatchingProxy(t, h.URL, nil)
	file := filepath.Join(t.TempDir(), "live.csv")
	ticket, done, lines := startGet(t, p.URL, append(getWindow(), "--output", file)...)
	h.HoldAfterFirstPart(t, ticket)
	testenv.Eventually(t, time.Minute, "a partial manifest listing part 1 asked for while the job is held", func() bool {
		for _, e := range p.events() {
			if strings.HasPrefix(e, `manifest [200,false,`) && !strings.HasSuffix(e, ",0]") {
				return true
			}
		}
		return false
	})
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists (%v) before the job succeeded", file, err)
	}
	h.Run()
	if err := <-done; err != nil {
		t.Fatalf("get: %v (exit %d)", err, exitCode(err))
	}
	h.Hold()
	last := (*lines)[len(*lines)-1]
	if last["event"] != "done" || last["verified"] != "sha256" || last["read_back"] != 0.0 || last["parts"].(float64) < 3 {
		t.Fatalf("last line %v, want done, several parts verified by sha256, nothing read back", last)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := testenv.ParseCSV(t, f)
	want := testenv.DirectRows(t, h.Store, directSelect+" ORDER BY ts, node_id, sensor, feature, property",
		getSeedEnd.Add(-7*24*time.Hour), getSeedEnd)
	if len(want) != 18_000 || !reflect.DeepEqual(got, want) {
		t.Fatalf("file of %d rows, ClickHouse %d (or the rows differ)", len(got), len(want))
	}
	ev := p.events()
	after := -1
	for i, e := range ev {
		if e == "dump end" {
			after = i
		}
	}
	if after < 0 || len(ev)-after-1 > 2 {
		t.Fatalf("proxy saw %q: want the download's end, then at most 2 manifest requests", ev)
	}
	if p.mu.Lock(); !reflect.DeepEqual(p.codings, []string{"s2"}) {
		t.Fatalf("downloads coded %q, want one, s2: the parts as stored", p.codings)
	}
	p.mu.Unlock()
}

// TestGetFollowCorrupt flips a byte of part 1 on its way to `exportd get`:
// with the job held after that part, get fails at once, exit 4, and leaves
// no file, neither whole-looking nor .part; the job goes on running. With
// identity bytes, the error names the part and its digests; in the S2
// stream get asks for otherwise, the flipped byte either does not decode
// or decodes to other bytes, a mismatch both.
func TestGetFollowCorrupt(t *testing.T) {
	h := testenv.StartHeld(t, 18_000, getSeedEnd)
	for i, identity := range []bool{true, false} {
		t.Run(map[bool]string{true: "identity", false: "s2"}[identity], func(t *testing.T) {
			p := startWatchingProxy(t, h.URL, func(b io.ReadCloser) io.ReadCloser {
				return &flippingBody{ReadCloser: b, at: 1000}
			})
			if identity {
				forceIdentity(p.rp)
			}
			file := filepath.Join(t.TempDir(), "corrupt.csv")
			args := append(getWindow(), "--output", file)
			args[1] = getSeedEnd.Add(-7*24*time.Hour + time.Duration(i)*time.Second).Format(schema.DatetimeLayout) // a job each
			ticket, done, _ := startGet(t, p.URL, args...)
			h.HoldAfterFirstPart(t, ticket)
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("get still running a minute after part 1 came corrupted, the job held")
			}
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			named := !identity || strings.Contains(msg, "part 1 (bytes 47-") && strings.Contains(msg, "sha256")
			if exitCode(err) != exitDownload || !strings.Contains(msg, "does not match the manifest") || !named {
				t.Fatalf("got %v (exit %d), want exit 4, a mismatch (naming part 1 and its digests with identity)", err, exitCode(err))
			}
			for _, name := range []string{file, file + ".part"} {
				if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s left behind (%v)", name, err)
				}
			}
			if st := h.Job(t, ticket).Status.Status; st != schema.StatusProcessing {
				t.Fatalf("job %s, want it still processing: get failed before it ended", st)
			}
			h.Run() // this job's end, for the next one to be held after its first part
			h.Wait(t, ticket, time.Minute)
			h.Hold()
		})
	}
}
