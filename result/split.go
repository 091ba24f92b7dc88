package result

// splitFrom cuts the fields from on of a stored CSV line (line begins with
// field from) into f, unquoting where needed, and returns f. The fields are
// stored in a value, not through a pointer: a slice stored through a
// pointer pays a GC write barrier, six per row (a fifth of the rendering
// while the collector runs).
func splitFrom(line []byte, f [6][]byte, from int) ([6][]byte, error) {
	for i := from; i < 6; i++ {
		if i > from {
			if len(line) == 0 || line[0] != ',' {
				return f, ErrBadRow
			}
			line = line[1:]
		}
		if len(line) > 0 && line[0] == '"' {
			var unq []byte // rare: a name with a comma or a quote
			k := 1
			for {
				if k >= len(line) {
					return f, errOpenQuote
				}
				if line[k] == '"' {
					if k+1 < len(line) && line[k+1] == '"' {
						unq = append(unq, '"')
						k += 2
						continue
					}
					k++
					break
				}
				unq = append(unq, line[k])
				k++
			}
			f[i] = unq
			line = line[k:]
			continue
		}
		k := len(line) // the value: the rest
		if i < 5 {
			k = comma(line)
		}
		f[i] = line[:k]
		line = line[k:]
	}
	if len(line) != 0 {
		return f, ErrBadRow
	}
	return f, nil
}

// isJSONNumber reports whether b is a number as JSON spells it, so that a
// stored value can be copied into the output without breaking it.
func isJSONNumber(b []byte) bool { return len(b) > 0 && numberLen(b) == len(b) }

// numberLen is the length of the JSON number b begins with; 0 if b is
// empty or begins with a line break (a missing value); -1 if it begins
// with anything else. Written out, without a closure, each digit tested
// by one unsigned compare: it runs on every value (a sixth of the
// Renderer's instructions as a grammar of cases, a tenth so).
func numberLen(b []byte) int {
	i := 0
	if len(b) > 0 && b[0] == '-' {
		i = 1
	}
	start := i
	for i < len(b) && b[i]-'0' < 10 {
		i++
	}
	switch {
	case i == start && i == 0 && (len(b) == 0 || b[0] == '\n'):
		return 0
	case i == start, b[start] == '0' && i > start+1: // no digit; a leading zero
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		frac := i
		for i < len(b) && b[i]-'0' < 10 {
			i++
		}
		if i == frac {
			return -1
		}
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		exp := i
		for i < len(b) && b[i]-'0' < 10 {
			i++
		}
		if i == exp {
			return -1
		}
	}
	return i
}

// comma is the index of the first ',' in b, or len(b): a loop, since the
// fields it cuts are a few bytes long, shorter than bytes.IndexByte's call
// pays for.
func comma(b []byte) int {
	for i, c := range b {
		if c == ',' {
			return i
		}
	}
	return len(b)
}
