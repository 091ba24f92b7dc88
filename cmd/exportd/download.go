package main

// The download half of `exportd get`: the manifest, the file fetched with
// resumption, and its verification.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// manifest fetches the job's manifest; a server without manifests gives
// nil, and the download is then checked by size and row count alone.
func (g *getter) manifest(ctx context.Context, job *jobDoc) (*schema.Manifest, error) {
	u := job.result.Manifest
	if u == "" {
		u = g.server + "/v1/api/jobs/" + job.Ticket + "/manifest"
	}
	m, status, err := g.fetchManifest(ctx, u)
	if status == http.StatusNotFound && job.result.Manifest == "" {
		return nil, nil
	}
	if err != nil {
		return nil, exitf(exitDownload, "manifest: %v", err)
	}
	return m, nil
}

// fetchManifest GETs the manifest at u: the whole one of a job that has
// succeeded, the partial one of a job still running.
func (g *getter) fetchManifest(ctx context.Context, u string) (*schema.Manifest, int, error) {
	status, body, err := g.apiGet(ctx, u)
	if err != nil {
		return nil, 0, err
	}
	if status != http.StatusOK {
		return nil, status, fmt.Errorf("status %d: %s", status, errorMessages(body))
	}
	var m schema.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, status, err
	}
	return &m, status, nil
}

type downloaded struct {
	rows, bytes int64
	parts       int
	verified    string
	readBack    int64 // bytes read back from the file to check them: none when checked as written
}

// download fetches the result into output+".part", resuming with Range
// when the connection breaks (CSV; the other formats start over), checks
// it, and renames it into place. prior, when not nil, is the file a
// followed download left (follow.go): the download goes on from its end,
// or only checks it when it is whole.
func (g *getter) download(ctx context.Context, job *jobDoc, m *schema.Manifest, prior *followedFile) (*downloaded, error) {
	u := withDataType(job.result.URL, g.format)
	ranges := g.format == schema.FormatCSV
	wantRows := job.result.Rows
	if m != nil {
		wantRows = m.Rows
		for _, o := range m.Output {
			if o.Format == g.format {
				u, ranges = o.URL, o.Ranges
			}
		}
	}
	if g.gzip {
		ranges = false // a range is of the identity bytes
	}
	tmp := g.output + ".part"
	f, wb, err := prior.file(tmp)
	if err != nil {
		return nil, exitf(exitDownload, "%v", err)
	}
	ok := false
	defer func() {
		wb.stop()
		f.Close()
		if !ok {
			os.Remove(tmp)
		}
	}()

	st := &dlState{f: f, m: m, wb: wb, total: -1, verify: g.format == schema.FormatCSV && (m != nil || prior.verified())}
	if err := prior.resume(st); err != nil {
		return nil, &exitError{code: exitDownload, err: err}
	}
	bar := &byteBar{g: g, start: time.Now()}
	for attempt := 0; !prior.whole(); attempt++ {
		err := g.fetch(ctx, u, ranges, st, bar)
		if err == nil {
			break
		}
		var fatal *exitError
		if errors.As(err, &fatal) || ctx.Err() != nil || attempt >= g.retries {
			g.endLine()
			return nil, exitf(exitDownload, "download %s: %v (after %d attempts, %s of %s)", u, err, attempt+1, sizeStr(st.written), sizeStr(st.total))
		}
		if !ranges { // no resuming: start again from the first byte
			if err := st.reset(); err != nil {
				return nil, exitf(exitDownload, "%v", err)
			}
		}
		g.emit(true, map[string]any{"event": "retry", "attempt": attempt + 1, "offset": st.written, "error": err.Error()})
		if g.tty {
			fmt.Fprintf(g.stderr, "\r\033[Kconnection broken at %s (%v); resuming\n", sizeStr(st.written), err)
		}
		t := time.NewTimer(retryDelay << min(attempt, 5))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	written, total := st.written, st.total
	bar.draw(written, total, true)
	g.endLine()
	if total >= 0 && written != total {
		return nil, exitf(exitDownload, "download %s: got %d bytes, want %d", u, written, total)
	}
	res, err := g.checked(st, tmp, m)
	if err != nil {
		return nil, err
	}
	if res.rows != wantRows {
		return nil, exitf(exitDownload, "downloaded %d rows, the job has %d", res.rows, wantRows)
	}
	wb.stop()
	if err := wb.trim(written); err != nil {
		return nil, exitf(exitDownload, "%v", err)
	}
	if err := f.Sync(); err != nil {
		return nil, exitf(exitDownload, "%v", err)
	}
	if err := f.Close(); err != nil {
		return nil, exitf(exitDownload, "%v", err)
	}
	if err := os.Rename(tmp, g.output); err != nil {
		return nil, exitf(exitDownload, "%v", err)
	}
	ok = true
	return res, nil
}

// checked is what the whole file at tmp holds, as its verifier found it
// (CSV, with a manifest) or else counted from the file.
func (g *getter) checked(st *dlState, tmp string, m *schema.Manifest) (*downloaded, error) {
	res := &downloaded{bytes: st.written, readBack: st.readBack}
	if st.ver != nil {
		if err := st.ver.finish(); err != nil {
			return nil, &exitError{code: exitDownload, err: err}
		}
		res.rows, res.parts, res.verified = st.ver.rows, st.ver.parts, "sha256"
		return res, nil
	}
	rows, err := countRows(tmp, g.format)
	if err != nil {
		return nil, exitf(exitDownload, "%s: %v", tmp, err)
	}
	res.rows, res.verified = rows, "rows"
	if m != nil {
		res.parts = len(m.Parts)
	}
	return res, nil
}

// dlState is a download in progress: the file, how much of it is written,
// and the verifier that has seen exactly those bytes (live, for a followed
// download, which learns the boundaries as it goes).
type dlState struct {
	f        *os.File
	wb       *writeBack
	m        *schema.Manifest
	verify   bool
	ver      *csvVerifier
	live     *liveVerifier
	written  int64
	total    int64 // the whole file's size, -1 until known
	etag     string
	readBack int64 // bytes checked from the file, not as they came
}

// reset empties the file to start from its first byte.
func (s *dlState) reset() error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	s.wb.truncated()
	s.written = 0
	if s.verify {
		s.ver = newSealedVerifier(s.m)
	}
	return nil
}

// fetch makes one download request from where st stopped and appends what
// comes. An *exitError is not worth retrying; other errors are.
func (g *getter) fetch(ctx context.Context, u string, ranges bool, st *dlState, bar *byteBar) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return exitf(exitDownload, "%v", err)
	}
	switch {
	case g.gzip:
		req.Header.Set("Accept-Encoding", "gzip")
	case g.format == schema.FormatCSV && askS2:
		// The parts as stored: a quarter of the bytes, not decoded by the
		// gateway (s2read.go). A range comes as identity bytes still.
		req.Header.Set("Accept-Encoding", codingS2)
	default:
		req.Header.Set("Accept-Encoding", "identity")
	}
	if st.written > 0 && ranges {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(st.written, 10)+"-")
		if st.etag != "" {
			req.Header.Set("If-Range", st.etag)
		}
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		// The whole file: the first answer, or a resume the server would
		// not honour (the file changed, or it has no ranges).
		if st.written > 0 {
			if err := st.reset(); err != nil {
				return exitf(exitDownload, "%v", err)
			}
		}
		st.total = resp.ContentLength
	case http.StatusPartialContent:
		var start, last, size int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &last, &size); err != nil || start != st.written {
			return exitf(exitDownload, "bad Content-Range %q for offset %d", resp.Header.Get("Content-Range"), st.written)
		}
		st.total = size
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		err := fmt.Errorf("status %d: %s", resp.StatusCode, errorMessages(body))
		if resp.StatusCode >= 500 {
			return err
		}
		return &exitError{code: exitDownload, err: err}
	}
	if tag := resp.Header.Get("ETag"); tag != "" {
		st.etag = tag
	}
	body, coding := io.Reader(resp.Body), resp.Header.Get("Content-Encoding")
	if resp.StatusCode == http.StatusOK && (coding == "" || strings.EqualFold(coding, "identity")) {
		body, coding = sniffCoding(resp.Body) // s2read.go
	}
	var src blockSource = readBlocks{body}
	switch {
	case strings.EqualFold(coding, "gzip"):
		zr, err := gzip.NewReader(body)
		if err != nil {
			return err
		}
		src = readBlocks{zr}
	case strings.EqualFold(coding, codingS2):
		src = &s2Blocks{r: body, noCRC: st.verify || st.live != nil}
	case coding != "" && !strings.EqualFold(coding, "identity"):
		return exitf(exitDownload, "the server sent Content-Encoding %q, not asked for", coding)
	default:
		return st.receive(src, bar)
	}
	st.total = -1 // the compressed length says nothing of the file's
	if st.m != nil && st.verify {
		st.total = st.m.Bytes
	}
	return st.receive(src, bar)
}

// receive appends the download's blocks to the file, each handed to a
// check as it is written, which hashes it on a goroutine of its own: the
// live check of a followed download, or a check over st.ver, the
// verifier of a download whose manifest is known.
func (st *dlState) receive(src blockSource, bar *byteBar) error {
	if st.live != nil || st.ver == nil {
		return st.copyBlocks(src, st.live, bar)
	}
	check := startSealedCheck(st.ver)
	defer check.close()
	err := st.copyBlocks(src, check, bar)
	if cerr := check.finish(false); err == nil && cerr != nil {
		err = &exitError{code: exitDownload, err: cerr}
	}
	return err
}

// copyBlocks writes src's blocks to the file and hands each to check, if
// not nil, as it is: the check keeps it, and the next block is read into
// another buffer: no copy.
func (st *dlState) copyBlocks(src blockSource, check *liveVerifier, bar *byteBar) error {
	buf := make([]byte, 0, liveBlock)
	for {
		if check != nil {
			buf = check.buffer(liveBlock)
		}
		p, rerr := src.next(buf)
		if len(p) > 0 {
			st.wb.grow(st.written + int64(len(p)))
			if _, err := st.f.Write(p); err != nil {
				return exitf(exitDownload, "%v", err)
			}
			st.wb.wrote(len(p))
			st.written += int64(len(p))
			if check != nil {
				if err := check.hand(p); err != nil {
					return &exitError{code: exitDownload, err: err}
				}
			}
			bar.draw(st.written, st.total, false)
		} else if check != nil {
			check.release(buf)
		}
		switch {
		case rerr == io.EOF:
			return nil
		case errors.Is(rerr, errNoMatch):
			return &exitError{code: exitDownload, err: rerr}
		case rerr != nil:
			return rerr
		}
	}
}

// countRows counts the observed values in a downloaded file: CSV lines
// after the header, the results of each JSON observation, or the rows a
// Parquet file's footer lists.
func countRows(path, format string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if format == schema.FormatParquet {
		return parquetRows(f)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	if format == schema.FormatCSV {
		var n int64
		buf := make([]byte, 1<<20)
		for {
			k, err := br.Read(buf)
			n += int64(countNewlines(buf[:k]))
			if err == io.EOF {
				return max(n-1, 0), nil
			}
			if err != nil {
				return 0, err
			}
		}
	}
	dec := json.NewDecoder(br)
	if format == schema.FormatJSON {
		if err := enterData(dec); err != nil {
			return 0, err
		}
	}
	var n int64
	for dec.More() {
		var o struct {
			Results map[string]json.RawMessage `json:"results"`
		}
		if err := dec.Decode(&o); err != nil {
			return 0, err
		}
		n += int64(len(o.Results))
	}
	return n, nil
}

func countNewlines(p []byte) int { return bytes.Count(p, newline) }

var newline = []byte{'\n'}

// parquetRows reads a Parquet file's footer and returns its rows.
func parquetRows(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	var trailer [8]byte
	if _, err := f.ReadAt(trailer[:], st.Size()-8); err != nil {
		return 0, fmt.Errorf("%w: %v", result.ErrNotParquet, err)
	}
	n := int64(binary.LittleEndian.Uint32(trailer[:4]))
	if n+8+int64(len(result.ParquetMagic)) > st.Size() {
		return 0, fmt.Errorf("%w: a footer of %d bytes in a file of %d", result.ErrNotParquet, n, st.Size())
	}
	tail := make([]byte, n+8)
	if _, err := f.ReadAt(tail, st.Size()-n-8); err != nil {
		return 0, err
	}
	footer, err := result.ParquetFooter(tail)
	if err != nil {
		return 0, err
	}
	return result.ParquetRows(footer)
}

// byteBar draws the download's progress on a terminal, and in --json mode
// reports it once a second.
type byteBar struct {
	g     *getter
	start time.Time
	last  time.Time
}

func (b *byteBar) draw(done, total int64, final bool) {
	now := time.Now()
	if !final && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	rate := float64(done) / max(now.Sub(b.start).Seconds(), 1e-3)
	b.g.emit(final, map[string]any{"event": "download", "bytes": done, "total": total, "bytes_per_s": int64(rate)})
	if !b.g.tty {
		return
	}
	const width = 30
	line := ""
	if total > 0 {
		fill := int(float64(width) * float64(done) / float64(total))
		fill = min(max(fill, 0), width)
		line = "[" + strings.Repeat("#", fill) + strings.Repeat(".", width-fill) + "] " + sizeStr(done) + " / " + sizeStr(total)
	} else {
		line = sizeStr(done)
	}
	line += "  " + sizeStr(int64(rate)) + "/s"
	if total > done && rate > 0 {
		line += "  ETA " + eta(float64(total-done)/rate)
	}
	fmt.Fprint(b.g.stderr, "\r\033[K"+line)
}
