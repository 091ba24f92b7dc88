package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// TestFollowStoredParquet follows a job submitted as Parquet, whose parts
// are stored as Parquet files: the row groups of part 1 come while the
// job is held, the footer made from every part's last, and the file is
// the download after success, byte for byte.
func TestFollowStoredParquet(t *testing.T) {
	h := testenv.StartHeld(t, ddRows, ddSeedEnd)
	ticket := h.Submit(t, "array_of_things", "data_type=parquet&start_datetime="+
		ddSeedEnd.Add(-7*24*time.Hour).Format(schema.DatetimeLayout)+"&end_datetime="+ddSeedEnd.Format(schema.DatetimeLayout))
	dump := h.URL + "/v1/api/datadump/" + ticket
	req, _ := http.NewRequest(http.MethodGet, dump+"?follow=true", nil)
	resp, err := testenv.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != schema.MediaType(schema.FormatParquet) {
		t.Fatalf("got %d %q, want 200 Parquet", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	h.HoldAfterFirstPart(t, ticket)
	first := make([]byte, len(result.ParquetMagic)+1) // the magic and a byte of part 1
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	if st := h.Job(t, ticket).Status.Status; st != schema.StatusProcessing {
		t.Fatalf("job %s while held", st)
	}
	h.Run()
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%v after %d bytes, want a clean end", err, len(first)+len(rest))
	}
	got := append(first, rest...)
	if st := h.Wait(t, ticket, time.Minute).Status.Status; st != schema.StatusSuccess {
		t.Fatalf("a followed download ended cleanly with the job %s", st)
	}
	after, want := testenv.Do(t, "GET", dump)
	if after.Header.Get("Accept-Ranges") != "bytes" || !bytes.Equal(got, want) {
		t.Fatalf("followed %d bytes (sha256 %s), the stored download (ranges %q) %d (%s)", len(got), ddHex(got),
			after.Header.Get("Accept-Ranges"), len(want), ddHex(want))
	}
}
