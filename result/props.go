package result

// propSet is the properties of the open observation, for the rule of
// schema/readings.go (a property already in the open observation starts
// another): its fields are slices of its input, so they are copied. It
// reuses its memory: after the first few observations, adding and asking
// allocate nothing.
type propSet struct {
	names []byte // the properties one after another
	ends  []int  // where each ends in names
}

func (s *propSet) reset() {
	s.names, s.ends = s.names[:0], s.ends[:0]
}

// hasBytes reports whether p is in the set. The last property added is
// asked first: sorted rows repeat the one before them.
func (s *propSet) hasBytes(p []byte) bool {
	for i := len(s.ends) - 1; i >= 0; i-- {
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
	s.names = append(s.names, p...)
	s.ends = append(s.ends, len(s.names))
}
