package result

// propSet is the properties of the open observation, for the rule of
// schema/readings.go (a property already in the open observation starts
// another): its fields are slices of its input, so they are copied. It
// reuses its memory: after the first few observations, adding and asking
// allocate nothing.
//
// Its buffers are filled up to lengths kept apart, not resliced: a slice
// stored into the set on every row would pay a GC write barrier each; they
// are stored only when they grow.
type propSet struct {
	names []byte // the properties one after another, up to used
	used  int
	ends  []int // where each ends in names, up to count
	count int
}

func (s *propSet) reset() { s.used, s.count = 0, 0 }

// hasBytes reports whether p is in the set. The last property added is
// asked first: sorted rows repeat the one before them.
func (s *propSet) hasBytes(p []byte) bool {
	for i := s.count - 1; i >= 0; i-- {
		start := 0
		if i > 0 {
			start = s.ends[i-1]
		}
		if string(s.names[start:s.ends[i]]) == string(p) {
			return true
		}
	}
	return false
}

func (s *propSet) addBytes(p []byte) {
	if s.used+len(p) > len(s.names) {
		s.names = append(s.names[:s.used], p...)
		s.names = s.names[:cap(s.names)]
	} else {
		copy(s.names[s.used:], p)
	}
	s.used += len(p)
	if s.count == len(s.ends) {
		s.ends = append(s.ends, 0)
		s.ends = s.ends[:cap(s.ends)]
	}
	s.ends[s.count] = s.used
	s.count++
}
