package result

// Segment is a run of a result file's bytes: a stretch of one part's bytes
// in the file's format, or bytes the layout holds itself (a file's head or
// tail).
type Segment struct {
	Part int // index of the part; -1 for Literal
	// Offset is where the run starts in the part's bytes: its stored CSV
	// or Parquet file, or its JSON or NDJSON as a Renderer makes it.
	Offset int64
	// Len is the bytes in the run; -1 for a part's bytes whose length is
	// not known (a format whose size was not recorded), to its end.
	Len     int64
	ToEnd   bool   // the run ends where the part's bytes end
	Literal []byte // the run itself, when Part is -1
}

// Layout is a result file as a sequence of segments: it answers the file's
// size, which part, at which offset, holds byte N, and where each part
// begins, so a download, a range or a manifest is served straight from the
// stored parts.
type Layout struct {
	segs    []Segment
	size    int64   // -1 once a segment of unknown length is added
	offsets []int64 // where each part begins in the file (MarkPart)
}

// Add appends a segment; runs of no bytes are dropped.
func (l *Layout) Add(s Segment) {
	if s.Part < 0 {
		s.Len = int64(len(s.Literal))
	}
	if s.Len == 0 {
		return
	}
	l.segs = append(l.segs, s)
	if s.Len < 0 || l.size < 0 {
		l.size = -1
		return
	}
	l.size += s.Len
}

// markPart records that part i begins where the file now ends.
func (l *Layout) markPart(i int) {
	for len(l.offsets) <= i {
		l.offsets = append(l.offsets, -1)
	}
	l.offsets[i] = l.size
}

// Size is the file's length in bytes; -1 when it is not known, and the
// file can only be sent whole, without a length.
func (l *Layout) Size() int64 { return l.size }

// PartOffset is where part i's bytes begin in the file; -1 when unknown.
func (l *Layout) PartOffset(i int) int64 {
	if i < 0 || i >= len(l.offsets) {
		return -1
	}
	return l.offsets[i]
}

// Segments returns the whole file's segments.
func (l *Layout) Segments() []Segment { return l.segs }

// Slice returns the segments that make bytes [start, end) of the file, the
// first and last cut to the range. Out-of-file bounds are clipped. The
// file's size must be known.
func (l *Layout) Slice(start, end int64) []Segment {
	start, end = max(start, 0), min(end, l.size)
	var out []Segment
	var pos int64
	for _, s := range l.segs {
		next := pos + s.Len
		if next <= start {
			pos = next
			continue
		}
		if pos >= end {
			break
		}
		from, to := max(start, pos)-pos, min(end, next)-pos
		c := s
		c.Len = to - from
		c.ToEnd = s.ToEnd && to == s.Len
		if s.Part < 0 {
			c.Literal = s.Literal[from:to]
		} else {
			c.Offset = s.Offset + from
		}
		out = append(out, c)
		pos = next
	}
	return out
}
