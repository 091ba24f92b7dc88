package gateway

import (
	"encoding/json"
	"io"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// dumpShape is what a job's JSON and NDJSON downloads are made with: the
// envelope a JSON download has, Plenario's datadump's,
//
//	{"data":[…observations…],"startTime":"…","endTime":"…","workers":["…"]}
//
// (times as the job document writes them), and the meta_ids the job fixed
// for its nodes when it was planned. Both are settled once the job has
// succeeded, so a download's bytes, length and ETag never change. The
// observations come first: the head is the same for every job, so stored
// JSON fragments follow it as they follow result.JSONHead, and a followed
// download sends them before the job's end is known. (Plenario's clients
// read the envelope by key: its Python 2 dicts had no order to rely on.)
type dumpShape struct {
	head, tail string
	ids        schema.MetaIDs
}

// envelopeHead opens the envelope and its observations.
const envelopeHead = `{"data":[`

func newDumpShape(rec *schema.JobRecord) *dumpShape {
	return &dumpShape{head: envelopeHead, tail: envelopeTail(rec), ids: rec.MetaIDs}
}

// envelopeTail closes the observations and the envelope with the job's
// times and workers.
func envelopeTail(rec *schema.JobRecord) string {
	m := rec.Job.Status.Meta
	workers := m.Workers
	if workers == nil {
		workers = []string{}
	}
	start, _ := json.Marshal(m.StartTime)
	end, _ := json.Marshal(m.EndTime)
	w, _ := json.Marshal(workers)
	return `],"startTime":` + string(start) + `,"endTime":` + string(end) + `,"workers":` + string(w) + "}\n"
}

// fragmentWriter returns a JSONWriter of observations only (no envelope),
// with the job's meta_ids.
func (s *dumpShape) fragmentWriter(w io.Writer, ndjson bool) *result.JSONWriter {
	jw := result.NewJSONFragmentWriter(w, ndjson)
	jw.MetaIDs = s.ids
	return jw
}

// transcode writes the parts read by body to w as format (see transcoder).
func (s *dumpShape) transcode(w io.Writer, body io.Reader, format string, fromJSON bool) error {
	t := s.transcoder(w, format, fromJSON)
	if _, err := io.Copy(t, body); err != nil {
		return err
	}
	return t.Close()
}

// transcoder returns the writer that makes format of parts written to it:
// NDJSON of their stored JSON fragments with fromJSON, else JSON (in the
// envelope) or NDJSON of their CSV rows.
func (s *dumpShape) transcoder(w io.Writer, format string, fromJSON bool) io.WriteCloser {
	switch {
	case fromJSON:
		return result.NewNDJSONOfJSON(w)
	case format == schema.FormatNDJSON:
		jw := result.NewJSONWriter(w, true)
		jw.MetaIDs = s.ids
		return jw
	}
	return &envelopeWriter{w: w, shape: s, jw: s.fragmentWriter(w, false)}
}

// envelopeWriter is a JSON download made of CSV rows: the envelope's head,
// the observations as one fragment, the tail. Byte for byte what the
// stored fragments make (a fragment writer's output is theirs, stitched).
type envelopeWriter struct {
	w       io.Writer
	shape   *dumpShape
	jw      *result.JSONWriter
	started bool
}

func (e *envelopeWriter) start() error {
	if e.started {
		return nil
	}
	e.started = true
	_, err := io.WriteString(e.w, e.shape.head)
	return err
}

func (e *envelopeWriter) Write(p []byte) (int, error) {
	if err := e.start(); err != nil {
		return 0, err
	}
	return e.jw.Write(p)
}

func (e *envelopeWriter) Close() error {
	if err := e.start(); err != nil {
		return err
	}
	if err := e.jw.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(e.w, e.shape.tail)
	return err
}

// notReady answers the datadump of a job without a result as Plenario's
// did: 200 with the job document, which says why (Retry-After while the
// job may still get one). A client polling the download link alone learns
// the job's progress from it.
func (g *Gateway) notReady(ctx *fasthttp.RequestCtx, rec *schema.JobRecord) error {
	if !rec.Terminal() {
		ctx.Response.Header.Set("Retry-After", "1")
	}
	writeJSON(ctx, g.document(ctx, rec))
	return nil
}
