package gateway

import (
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// acceptsGzip reports whether an Accept-Encoding header lets the response
// be gzipped: gzip (or x-gzip, or *) with a non-zero quality.
func acceptsGzip(header string) bool { return gzipQ(header) > 0 }

// codingQ is the quality Accept-Encoding gives coding by name, and
// whether it names it.
func codingQ(header, coding string) (float64, bool) {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), coding) {
			continue
		}
		q := 1.0
		for _, prm := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(prm, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		return q, true
	}
	return 0, false
}

// gzipQ is the quality Accept-Encoding gives gzip: its own, x-gzip's or
// else *'s.
func gzipQ(header string) float64 {
	for _, name := range []string{"gzip", "x-gzip", "*"} {
		if q, ok := codingQ(header, name); ok {
			return q
		}
	}
	return 0
}

// Gzip writers are large; they are reused. BestSpeed keeps compression
// from being the slowest stage of a download.
var gzipPool sync.Pool

func getGzip(w io.Writer) *gzip.Writer {
	if zw, ok := gzipPool.Get().(*gzip.Writer); ok {
		zw.Reset(w)
		return zw
	}
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	return zw
}

func putGzip(zw *gzip.Writer) {
	zw.Reset(io.Discard)
	gzipPool.Put(zw)
}
