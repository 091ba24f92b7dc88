package result

import "bytes"

// sameKey reports whether key holds the first four of f, each followed by
// sep but the last; with a raw key (sep ',', a plain line's prefix), the
// last too.
func sameKey(key []byte, f *[6][]byte, sep byte, raw bool) bool {
	n := len(f[0]) + len(f[1]) + len(f[2]) + len(f[3]) + 3
	if raw {
		n++
	}
	if len(key) != n {
		return false
	}
	for i := range 4 {
		n := len(f[i])
		if !bytes.Equal(key[:n], f[i]) || (i < 3 || raw) && key[n] != sep {
			return false
		}
		if i < 3 {
			key = key[n+1:]
		}
	}
	return true
}

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
// stored value can be copied into the output without breaking it. Written
// out, without a closure: it runs on every value.
func isJSONNumber(b []byte) bool {
	i, n := 0, len(b)
	if i < n && b[i] == '-' {
		i++
	}
	switch {
	case i < n && b[i] == '0':
		i++
	case i < n && b[i] >= '1' && b[i] <= '9':
		for i++; i < n && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		return false
	}
	if i < n && b[i] == '.' {
		i++
		start := i
		for ; i < n && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == start {
			return false
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for ; i < n && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == start {
			return false
		}
	}
	return i == n
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
