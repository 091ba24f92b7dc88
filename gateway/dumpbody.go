package gateway

import (
	"io"
	"log/slog"

	"github.com/valyala/fasthttp"
)

// A download is sent after its handler has returned, when its status and
// length are on their way: a part that cannot be read then can only cut
// the response short. So its first part is opened, and its first bytes
// awaited, before: a download that cannot start is a 503 with Retry-After
// in the error shape. One that breaks later ends the connection without
// the end a complete response has (its length not reached, or no last
// chunk), so that no client takes it for a whole file.

// starter is a download body that can be started before it is sent.
type starter interface{ start() error }

// downloadHeaders are what a download sets before its body starts, and an
// error answer must not carry (a 503 saved as the file, say).
var downloadHeaders = []string{"Content-Disposition", "Content-Range", "Content-Encoding", "ETag",
	"Accept-Ranges", "Last-Modified", "Expires", "Cache-Control", "X-Row-Count"}

// startDownload starts body; when it cannot start, body is closed and the
// download's headers removed, for the error to be answered instead.
func startDownload(ctx *fasthttp.RequestCtx, body io.ReadCloser) error {
	s, ok := body.(starter)
	if !ok {
		return nil
	}
	if err := s.start(); err != nil {
		body.Close()
		for _, k := range downloadHeaders {
			ctx.Response.Header.Del(k)
		}
		return err
	}
	return nil
}

// gzipBody is a download compressed as it is sent. fasthttp frames what
// WriteTo writes into
// chunks, and when WriteTo fails it closes the connection without the last
// chunk: a client sees the download broken, never a short file that
// decompresses cleanly.
type gzipBody struct {
	body   io.ReadCloser
	logger *slog.Logger
	ticket string

	piped pipedRead // for readers that Read instead
}

func (b *gzipBody) SupportsBodyWriteTo() bool { return true }

func (b *gzipBody) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	zw := getGzip(cw)
	defer putGzip(zw)
	_, err := io.Copy(zw, b.body) // the body's WriteTo
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		b.logger.Warn("datadump aborted", "ticket", b.ticket, "err", err)
	}
	return cw.n, err
}

func (b *gzipBody) Read(p []byte) (int, error) {
	return b.piped.read(p, b.WriteTo, nil)
}

func (b *gzipBody) Close() error {
	b.piped.stop()
	return b.body.Close()
}
