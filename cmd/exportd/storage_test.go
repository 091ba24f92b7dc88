package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestStartsWithFullResultStorage: exportd serve stores a job, then starts
// again with a result limit below what is stored (as on a disk that filled
// meanwhile). It starts; the stored result is kept and still downloads;
// /readyz says the result storage is full; submits get 507 with
// Retry-After; withdrawing the result works and makes room.
func TestStartsWithFullResultStorage(t *testing.T) {
	env := map[string]string{"EXPORTD_DATA_DIR": t.TempDir(), "EXPORTD_CLICKHOUSE_DB": testenv.RandomName("exportd_test_")}
	t.Cleanup(func() { testenv.DropDatabase(t, env["EXPORTD_CLICKHOUSE_DB"]) })
	url, stop := startServe(t, env)
	code, body := testenv.Get(t, url+"/v1/api/sensor-networks/array_of_things/download?features=temperature")
	var j schema.Job
	if code != http.StatusOK || json.Unmarshal(body, &j) != nil {
		t.Fatalf("download: got %d %s", code, body)
	}
	testenv.Eventually(t, 30*time.Second, "job success", func() bool {
		_, body := testenv.Get(t, url+"/v1/api/jobs/"+j.Ticket)
		_ = json.Unmarshal(body, &j)
		return j.Status.Status == schema.StatusSuccess
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	env["EXPORTD_RESULT_MAX_BYTES"] = "1KB"
	url, _ = startServe(t, env)
	if code, body := testenv.Get(t, url+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: got %d %s", code, body)
	}
	if code, body := testenv.Get(t, url+"/readyz"); code != http.StatusOK || !strings.Contains(string(body), `"status":"degraded"`) ||
		!strings.Contains(string(body), "result storage is full") {
		t.Fatalf("/readyz: got %d %s, want 200, degraded, saying the result storage is full", code, body)
	}
	if code, body := testenv.Get(t, url+"/metrics"); code != http.StatusOK || !strings.Contains(string(body), "\nexportd_result_storage_bytes ") ||
		strings.Contains(string(body), "\nexportd_result_storage_limit_bytes 0\n") {
		t.Fatalf("/metrics: got %d without the result storage's size and limit", code)
	}
	if code, body := testenv.Get(t, url+"/v1/api/datadump/"+j.Ticket); code != http.StatusOK || len(body) == 0 {
		t.Fatalf("download of the stored result: got %d (%d bytes), want 200", code, len(body))
	}
	resp, body := testenv.Do(t, http.MethodGet, url+"/v1/api/sensor-networks/array_of_things/download?features=magnetic_field")
	if resp.StatusCode != http.StatusInsufficientStorage || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"error":"result storage is full`) {
		t.Fatalf("submit: got %d, Retry-After %q, %s; want 507 with Retry-After and the reason", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, body := testenv.Do(t, http.MethodDelete, url+"/v1/api/jobs/"+j.Ticket); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: got %d %s, want 200", resp.StatusCode, body)
	}
	testenv.Eventually(t, 30*time.Second, "/readyz ready once the result is withdrawn", func() bool {
		code, body := testenv.Get(t, url+"/readyz")
		return code == http.StatusOK && strings.Contains(string(body), `"status":"ready"`)
	})
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		input   string
		want    int64
		wantErr bool
	}{
		{input: "1024", want: 1024},
		{input: "50GB", want: 50e9},
		{input: "1.5 MiB", want: 3 << 19},
		{input: "2TiB", want: 2 << 40},
		{input: "10B", want: 10},
		{input: "lots", wantErr: true},
		{input: "-1MB", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.input)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseBytes(%q): got %d, %v; want %d (error %v)", tt.input, got, err, tt.want, tt.wantErr)
		}
	}
}
