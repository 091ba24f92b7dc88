package gateway

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// parseRange reads a Range header for a file of size bytes: one range,
// "bytes=a-b", "bytes=a-" or "bytes=-n", as [start, end). ok is false when
// the header is not such a range (it is then ignored and the whole file
// sent, as RFC 9110 allows); satisfiable is false when it is one but no
// byte of it is in the file.
//
// Positions are any number of digits (RFC 9110 14.1.2 bounds them not):
// one past int64 is taken as the largest int64, which lies past any file,
// so a last-pos of bytes=0-9223372036854775807 is clipped to the file and a
// first-pos that large is a 416, never an overflow.
func parseRange(s string, size int64) (start, end int64, ok, satisfiable bool) {
	unit, spec, found := strings.Cut(s, "=")
	if !found || !strings.EqualFold(strings.TrimSpace(unit), "bytes") || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, false
	}
	if a == "" { // suffix: the last n bytes
		n, valid := rangePos(b)
		if !valid {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, true, false
		}
		return size - min(n, size), size, true, true
	}
	first, valid := rangePos(a)
	if !valid {
		return 0, 0, false, false
	}
	last := int64(math.MaxInt64)
	if b != "" {
		if last, valid = rangePos(b); !valid || last < first {
			return 0, 0, false, false
		}
	}
	if first >= size {
		return 0, 0, true, false
	}
	return first, min(last, size-1) + 1, true, true
}

// rangePos reads a byte position of a Range: digits only (no sign, no
// space), saturating at the largest int64.
func rangePos(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64 // keep checking the rest are digits
			continue
		}
		n = n*10 + d
	}
	return n, true
}

// answerRange applies a Range header to a file of size bytes: the bytes
// [start, end) to send, with the 206 status and Content-Range set; the
// whole file for a Range we do not serve (several ranges, another unit);
// or, answered true, a 416 already written.
func answerRange(ctx *fasthttp.RequestCtx, rangeHdr string, size int64) (start, end int64, answered bool) {
	h := &ctx.Response.Header
	start, end, ok, satisfiable := parseRange(rangeHdr, size)
	switch {
	case !ok:
		return 0, size, false
	case !satisfiable:
		h.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		ctx.SetStatusCode(fasthttp.StatusRequestedRangeNotSatisfiable)
		writeError(ctx, "Range not satisfiable: the file has "+strconv.FormatInt(size, 10)+" bytes.")
		return 0, 0, true
	}
	h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end-1, 10)+"/"+strconv.FormatInt(size, 10))
	ctx.SetStatusCode(fasthttp.StatusPartialContent)
	return start, end, false
}

// ifRangeHolds reports whether a Range may be served: there is no If-Range
// (ir, the header), or it names the current representation (its strong
// ETag, or exactly its Last-Modified date, finished).
func ifRangeHolds(ir, etag string, finished time.Time) bool {
	ir = strings.TrimSpace(ir)
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) || strings.HasPrefix(ir, "W/") {
		return ir == etag && !strings.HasPrefix(etag, "W/")
	}
	return !finished.IsZero() && ir == httpDate(finished)
}

// etagListMatches reports whether an If-None-Match (or If-Match) list
// names etag; weak comparison ignores W/ prefixes.
func etagListMatches(list, etag string, strong bool) bool {
	list = strings.TrimSpace(list)
	if list == "*" {
		return true
	}
	norm := func(s string) string {
		if !strong {
			s = strings.TrimPrefix(s, "W/")
		}
		return s
	}
	want := norm(etag)
	for _, t := range strings.Split(list, ",") {
		if norm(strings.TrimSpace(t)) == want {
			return true
		}
	}
	return false
}
