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
func acceptsGzip(header string) bool {
	star := false
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		q := 1.0
		for _, prm := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(prm, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch name {
		case "gzip", "x-gzip":
			return q > 0
		case "*":
			star = q > 0
		}
	}
	return star
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
