package gateway

import (
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	const size = 1000
	tests := []struct {
		name                string
		header              string
		wantStart, wantEnd  int64
		wantOK, wantSatisfy bool
	}{
		{"first bytes", "bytes=0-9", 0, 10, true, true},
		{"open end", "bytes=990-", 990, 1000, true, true},
		{"suffix", "bytes=-10", 990, 1000, true, true},
		{"suffix longer than the file", "bytes=-5000", 0, 1000, true, true},
		{"last past the end clipped", "bytes=500-5000", 500, 1000, true, true},
		{"last is max int64", "bytes=0-9223372036854775807", 0, 1000, true, true},
		{"last beyond int64", "bytes=0-99999999999999999999999", 0, 1000, true, true},
		{"first is max int64", "bytes=9223372036854775807-", 0, 0, true, false},
		{"first beyond int64", "bytes=99999999999999999999999-", 0, 0, true, false},
		{"both beyond int64", "bytes=99999999999999999999999-99999999999999999999999", 0, 0, true, false},
		{"suffix beyond int64", "bytes=-99999999999999999999999", 0, 1000, true, true},
		{"suffix is max int64", "bytes=-9223372036854775807", 0, 1000, true, true},
		{"first at the end", "bytes=1000-", 0, 0, true, false},
		{"zero suffix", "bytes=-0", 0, 0, true, false},
		{"last byte", "bytes=999-999", 999, 1000, true, true},
		{"unit case and spaces", " Bytes = 1-2", 1, 3, true, true},
		{"last before first", "bytes=9-0", 0, 0, false, false},
		{"several ranges", "bytes=0-1,5-6", 0, 0, false, false},
		{"other unit", "items=0-1", 0, 0, false, false},
		{"no dash", "bytes=5", 0, 0, false, false},
		{"no equals", "bytes 0-1", 0, 0, false, false},
		{"signed first", "bytes=+5-9", 0, 0, false, false},
		{"signed last", "bytes=0-+9", 0, 0, false, false},
		{"negative suffix", "bytes=--5", 0, 0, false, false},
		{"letters", "bytes=a-b", 0, 0, false, false},
		{"empty", "", 0, 0, false, false},
		{"only dash", "bytes=-", 0, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end, ok, sat := parseRange(tt.header, size)
			if ok != tt.wantOK || sat != tt.wantSatisfy {
				t.Fatalf("parseRange(%q): ok, satisfiable = %v, %v, want %v, %v", tt.header, ok, sat, tt.wantOK, tt.wantSatisfy)
			}
			if sat && (start != tt.wantStart || end != tt.wantEnd) {
				t.Fatalf("parseRange(%q) = [%d, %d), want [%d, %d)", tt.header, start, end, tt.wantStart, tt.wantEnd)
			}
			if sat && (start < 0 || end > size || start >= end) {
				t.Fatalf("parseRange(%q) = [%d, %d): outside a file of %d bytes", tt.header, start, end, size)
			}
		})
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"x-gzip", true},
		{"deflate, gzip;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;q=0, *", false},
		{"*", true},
		{"*;q=0", false},
		{"identity", false},
		{"br, deflate", false},
		{"gzip;q=bogus", true}, // an unreadable quality is the default, 1
		{"gzipx", false},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestIfRangeHolds(t *testing.T) {
	finished := time.Date(2026, 11, 28, 15, 5, 48, 0, time.UTC)
	const etag = `"t-csv-1a"`
	tests := []struct {
		name     string
		ifRange  string
		etag     string
		finished time.Time
		want     bool
	}{
		{"no If-Range", "", etag, finished, true},
		{"its ETag", etag, etag, finished, true},
		{"its ETag with spaces", "  " + etag + " ", etag, finished, true},
		{"another ETag", `"t-csv-1b"`, etag, finished, false},
		{"a weak ETag never", `W/"t-csv-1a"`, etag, finished, false},
		{"against a weak ETag never", `W/"t-csv-1a-gzip"`, `W/"t-csv-1a-gzip"`, finished, false},
		{"its date", "Sat, 28 Nov 2026 15:05:48 GMT", etag, finished, true},
		{"another date", "Sat, 28 Nov 2026 15:05:49 GMT", etag, finished, false},
		{"a date, not finished", "Sat, 28 Nov 2026 15:05:48 GMT", etag, time.Time{}, false},
		{"garbage", "yesterday", etag, finished, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ifRangeHolds(tt.ifRange, tt.etag, tt.finished); got != tt.want {
				t.Fatalf("ifRangeHolds(%q, %q) = %v, want %v", tt.ifRange, tt.etag, got, tt.want)
			}
		})
	}
}
