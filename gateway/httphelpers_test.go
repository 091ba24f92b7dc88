package gateway

import (
	"testing"
	"time"
)

// The pure helpers of the download's HTTP side, each against the cases of
// RFC 9110 that reach it: Range (14.1.2, 14.2), Accept-Encoding (12.5.3)
// and If-Range (13.1.5).

// TestParseRange: one range of bytes is served, clipped to the file;
// a range wholly past the end is a 416; anything else (several ranges,
// another unit, a malformed spec) is ignored, which sends the whole file
// (RFC 9110 14.2 lets a server ignore Range).
func TestParseRange(t *testing.T) {
	const size = 1000
	tests := []struct {
		name                string
		header              string
		wantStart, wantEnd  int64
		wantOK, wantSatisfy bool
	}{
		// RFC 9110 14.1.2's examples, on a file of 1000 bytes rather than 10000.
		{"RFC first 500 bytes", "bytes=0-499", 0, 500, true, true},
		{"RFC second 500 bytes", "bytes=500-999", 500, 1000, true, true},
		{"RFC final 500 bytes", "bytes=-500", 500, 1000, true, true},
		{"RFC final bytes from a position", "bytes=900-", 900, 1000, true, true},
		{"RFC first and last byte", "bytes=0-0,-1", 0, 0, false, false},
		{"RFC several with spaces", "bytes= 0-99, 450-549, -100", 0, 0, false, false},
		{"one range and an empty element", "bytes=0-1,", 0, 0, false, false},
		{"first byte", "bytes=0-0", 0, 1, true, true},
		{"past the end by one", "bytes=1001-1002", 0, 0, true, false},
		{"space inside a position", "bytes=0 -9", 0, 0, false, false},
		{"unit only", "bytes=", 0, 0, false, false},
		{"unit none", "none", 0, 0, false, false},
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

// TestParseRangeEmptyFile: a file of no bytes has no byte to send, so every
// well-formed range is a 416 (with Content-Range "bytes */0") and a
// malformed one is still ignored. RFC 9110 14.1.1 would call a non-zero
// suffix satisfiable here, but no Content-Range of a 206 can name zero
// bytes; a 416 tells the client the length, which is what it asked for.
func TestParseRangeEmptyFile(t *testing.T) {
	tests := []struct {
		header string
		wantOK bool
	}{
		{"bytes=0-", true},
		{"bytes=0-0", true},
		{"bytes=-1", true},
		{"bytes=-0", true},
		{"bytes=0-1,2-3", false},
		{"bytes=x-", false},
	}
	for _, tt := range tests {
		_, _, ok, sat := parseRange(tt.header, 0)
		if ok != tt.wantOK || sat {
			t.Errorf("parseRange(%q, 0): ok, satisfiable = %v, %v, want %v, false", tt.header, ok, sat, tt.wantOK)
		}
	}
}

// TestAcceptsGzip: the response is gzipped when gzip (or x-gzip, or *
// without an explicit gzip) has a non-zero quality.
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
		// RFC 9110 12.5.3's examples.
		{"compress, gzip", true},
		{"compress;q=0.5, gzip;q=1.0", true},
		{"gzip;q=1.0, identity; q=0.5, *;q=0", true},
		// An explicit gzip decides over *, either way and in either order.
		{"*;q=0.5, gzip;q=0", false},
		{"gzip;q=0.5, *;q=0", true},
		{"*, gzip;q=0", false},
		{"x-gzip;q=0", false},
		{"identity;q=0", false},
		// Names and the q parameter are case-insensitive; spaces around them are optional.
		{"Gzip;Q=0", false},
		{"X-GZIP", true},
		{" gzip ; q=0.8 ", true},
		{"gzip;q=0.001", true},
		{"gzip;q=1.000", true},
		{"gzip;level=9", true}, // another parameter leaves the quality at 1
		{"br;q=1, *;q=0.1", true},
		{",,gzip", true},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// TestIfRangeHolds: a Range is served only when If-Range is absent or names
// the current file: its strong ETag, or exactly its Last-Modified date.
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
		// RFC 9110 13.1.5: an entity tag is compared strongly, a date exactly.
		{"its ETag unquoted is not an ETag", "t-csv-1a", etag, finished, false},
		{"a list of ETags is not one", etag + `, "t-csv-1b"`, etag, finished, false},
		{"its ETag in another case", `"T-CSV-1A"`, etag, finished, false},
		{"a date one second early", "Sat, 28 Nov 2026 15:05:47 GMT", etag, finished, false},
		{"its date, the job finished within that second", "Sat, 28 Nov 2026 15:05:48 GMT", etag, finished.Add(400 * time.Millisecond), true},
		{"its date, finished in another zone", "Sat, 28 Nov 2026 15:05:48 GMT", etag, finished.In(time.FixedZone("CET", 3600)), true},
		// The obsolete date forms (RFC 850, asctime) are not compared: the whole file is sent, which is always safe.
		{"its date in RFC 850 form", "Saturday, 28-Nov-26 15:05:48 GMT", etag, finished, false},
		{"its date in asctime form", "Sat Nov 28 15:05:48 2026", etag, finished, false},
		{"its date with a numeric zone", "Sat, 28 Nov 2026 15:05:48 +0000", etag, finished, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ifRangeHolds(tt.ifRange, tt.etag, tt.finished); got != tt.want {
				t.Fatalf("ifRangeHolds(%q, %q) = %v, want %v", tt.ifRange, tt.etag, got, tt.want)
			}
		})
	}
}
