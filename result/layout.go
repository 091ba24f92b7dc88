package result

// Segment is a run of a result file's bytes: a stretch of one stored part,
// or bytes the layout holds itself (a file's head or tail).
type Segment struct {
	Part    int    // index of the part; -1 for Literal
	Offset  int64  // where the run starts in the part's stored bytes
	Len     int64  // bytes in the run
	Literal []byte // the run itself, when Part is -1
}

// Layout is a result file as a sequence of segments: it answers the file's
// size and which part, at which offset, holds byte N, so a download or a
// range is served straight from the stored parts.
type Layout struct {
	segs []Segment
	size int64
}

// Add appends a segment; runs of no bytes are dropped.
func (l *Layout) Add(s Segment) {
	if s.Part < 0 {
		s.Len = int64(len(s.Literal))
	}
	if s.Len <= 0 {
		return
	}
	l.segs = append(l.segs, s)
	l.size += s.Len
}

// Size is the file's length in bytes.
func (l *Layout) Size() int64 { return l.size }

// Slice returns the segments that make bytes [start, end) of the file, the
// first and last cut to the range. Out-of-file bounds are clipped.
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
