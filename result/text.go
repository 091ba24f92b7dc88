package result

import (
	"encoding/json"

	"github.com/plenario-next/exportd/schema"
)

// The framing of the text formats, the one rule every download, followed
// download and manifest of them follows: a file is its head, the parts'
// bytes in part order, and its tail.
//
//   - CSV: schema.CSVHeader, then each part's stored CSV; no tail.
//   - JSON: EnvelopeHead, each part's JSON fragment (Renderer) with the
//     first byte of the first non-empty one left out (the comma before the
//     file's first observation), then EnvelopeTail.
//   - NDJSON: each part's NDJSON; no head, no tail.
//
// A part of no rows has no bytes in any of them.

// EnvelopeHead opens a JSON download's envelope, Plenario's datadump's,
//
//	{"data":[…observations…],"startTime":"…","endTime":"…","workers":["…"]}
//
// and its observations. They come first, so the head is the same for every
// job and a followed download sends them before the job's end is known.
// (Plenario's clients read the envelope by key: its Python 2 dicts had no
// order to rely on.)
const EnvelopeHead = `{"data":[`

// EnvelopeTail closes the observations and the envelope with the job's
// times and workers, as the job document writes them; settled once the
// job has succeeded, so a download's bytes never change.
func EnvelopeTail(m schema.JobMeta) string {
	workers := m.Workers
	if workers == nil {
		workers = []string{}
	}
	start, _ := json.Marshal(m.StartTime)
	end, _ := json.Marshal(m.EndTime)
	w, _ := json.Marshal(workers)
	return `],"startTime":` + string(start) + `,"endTime":` + string(end) + `,"workers":` + string(w) + "}\n"
}

// Head is what a text file of format begins with.
func Head(format string) string {
	switch format {
	case schema.FormatCSV:
		return schema.CSVHeader
	case schema.FormatJSON:
		return EnvelopeHead
	}
	return ""
}

// Tail is what a text file of format ends with, for a job of meta m.
func Tail(format string, m schema.JobMeta) string {
	if format == schema.FormatJSON {
		return EnvelopeTail(m)
	}
	return ""
}

// Rendered reports whether format's parts are rendered from their CSV as
// they are sent, rather than read as stored.
func Rendered(format string) bool {
	return format == schema.FormatJSON || format == schema.FormatNDJSON
}

// TextPart is what a text layout needs of a stored part: the sizes the
// exporter recorded for it.
type TextPart struct {
	CSV int64 // bytes of its CSV
	// JSON is the bytes of its JSON fragment; -1 if not recorded (a part
	// stored before the exporter counted it, without JSON).
	JSON int64
	// Observations is how many observations it renders to; -1 if not
	// recorded. A part's NDJSON is its fragment less one byte an
	// observation: "}}\n" closes each instead of ",\n" and "}}" framing it.
	Observations int64
}

// Size is the part's bytes in format; -1 if not known.
func (p TextPart) Size(format string) int64 {
	switch {
	case p.CSV == 0:
		return 0
	case format == schema.FormatCSV:
		return p.CSV
	case format == schema.FormatJSON:
		return p.JSON
	case format == schema.FormatNDJSON && p.JSON >= 0 && p.Observations >= 0:
		return p.JSON - p.Observations
	}
	return -1
}

// TextFile lays out a text file part by part, as the framing rule says:
// a download lays out a finished job's parts at once (TextLayout), a
// followed download each part as it comes.
type TextFile struct {
	format string
	l      Layout
	skip   int64 // JSON: the first non-empty fragment's comma, until it comes
}

// NewTextFile begins a text file of format (CSV, JSON or NDJSON) with its
// head.
func NewTextFile(format string) *TextFile {
	t := &TextFile{format: format}
	t.l.Add(Segment{Part: -1, Literal: []byte(Head(format))})
	if format == schema.FormatJSON {
		t.skip = 1
	}
	return t
}

// AddPart appends part i, the next in part order, and returns its segment;
// ok is false for a part of no bytes.
func (t *TextFile) AddPart(i int, p TextPart) (s Segment, ok bool) {
	t.l.markPart(i)
	if p.CSV == 0 {
		return Segment{}, false
	}
	s = Segment{Part: i, Offset: t.skip, Len: -1, ToEnd: true}
	if n := p.Size(t.format); n >= 0 {
		s.Len = n - t.skip
	}
	t.l.Add(s)
	t.skip = 0
	return s, true
}

// End appends the file's tail (Tail) and returns its layout.
func (t *TextFile) End(tail string) *Layout {
	t.l.Add(Segment{Part: -1, Literal: []byte(tail)})
	return &t.l
}

// TextLayout lays out a text file of format made of parts, with tail. Its
// size is known when every part's size in the format is.
func TextLayout(format string, parts []TextPart, tail string) *Layout {
	t := NewTextFile(format)
	for i, p := range parts {
		t.AddPart(i, p)
	}
	return t.End(tail)
}
