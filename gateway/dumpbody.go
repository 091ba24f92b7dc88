package gateway

import (
	"context"
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

// start opens the first part to be read, passes over the bytes before the
// range's offset, and waits for its first bytes.
func (r *partsReader) start() error {
	if r.cur != nil {
		return nil
	}
	if r.next = r.nonEmpty(r.next); r.next >= r.parts {
		return nil
	}
	if err := r.openAt(); err != nil {
		return err
	}
	return r.cur.Start()
}

// openAt makes cur the next part, skip bytes into it.
func (r *partsReader) openAt() error {
	if err := r.open(); err != nil {
		return err
	}
	if r.skip > 0 {
		// Chunks arrive in order; the bytes before the offset are
		// received and passed over.
		if err := r.cur.Skip(r.skip); err != nil && err != io.EOF {
			return err
		}
		r.skip = 0
	}
	return nil
}

func (c *wholeFile) start() error { return c.parts.start() }

func (c readCloser) start() error {
	if s, ok := c.Closer.(starter); ok {
		return s.start()
	}
	return nil
}

// start starts a download made from the stored JSON; one made from the
// CSV reads its parts on workers of its own (WriteTo), which report a
// failure by breaking the response off.
func (b *jsonBody) start() error {
	if b.fromJSON {
		return b.parts.start()
	}
	return nil
}

// gzipBody is a download compressed as it is sent: the stored bytes, or a
// transcoding of the parts. fasthttp frames what WriteTo writes into
// chunks, and when WriteTo fails it closes the connection without the last
// chunk: a client sees the download broken, never a short file that
// decompresses cleanly.
type gzipBody struct {
	body      io.ReadCloser
	transcode func(w io.Writer, body io.Reader) error // nil: the body as it is
	logger    *slog.Logger
	ticket    string

	pr *io.PipeReader // for readers that Read instead
}

func (b *gzipBody) SupportsBodyWriteTo() bool { return true }

func (b *gzipBody) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	zw := getGzip(cw)
	defer putGzip(zw)
	var err error
	if b.transcode != nil {
		err = b.transcode(zw, b.body)
	} else {
		_, err = io.Copy(zw, b.body)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		b.logger.Warn("datadump aborted", "ticket", b.ticket, "err", err)
	}
	return cw.n, err
}

func (b *gzipBody) Read(p []byte) (int, error) {
	if b.pr == nil {
		var pw *io.PipeWriter
		b.pr, pw = io.Pipe()
		go func() {
			_, err := b.WriteTo(pw)
			pw.CloseWithError(err) // nil: EOF
		}()
	}
	return b.pr.Read(p)
}

func (b *gzipBody) Close() error {
	if b.pr != nil {
		b.pr.CloseWithError(context.Canceled)
	}
	return b.body.Close()
}
