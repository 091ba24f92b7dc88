package result

import "bytes"

// sameKey reports whether key holds the first four of f, 0-separated.
func sameKey(key []byte, f *[6][]byte) bool {
	if len(key) != len(f[0])+len(f[1])+len(f[2])+len(f[3])+3 {
		return false
	}
	for i := range 4 {
		n := len(f[i])
		if !bytes.Equal(key[:n], f[i]) || (i < 3 && key[n] != 0) {
			return false
		}
		if i < 3 {
			key = key[n+1:]
		}
	}
	return true
}

// splitFrom cuts the fields from on of a stored CSV line (line begins with
// field from) into f, unquoting where needed.
func splitFrom(line []byte, f *[6][]byte, from int) error {
	for i := from; i < 6; i++ {
		if i > from {
			if len(line) == 0 || line[0] != ',' {
				return ErrBadRow
			}
			line = line[1:]
		}
		if len(line) > 0 && line[0] == '"' {
			var unq []byte // rare: a name with a comma or a quote
			k := 1
			for {
				if k >= len(line) {
					return ErrBadRow
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
		k := bytes.IndexByte(line, ',')
		if k < 0 || i == 5 {
			k = len(line)
		}
		f[i] = line[:k]
		line = line[k:]
	}
	if len(line) != 0 {
		return ErrBadRow
	}
	return nil
}

// isJSONNumber reports whether b is a number as JSON spells it, so that a
// stored value can be copied into the output without breaking it.
func isJSONNumber(b []byte) bool {
	digits := func(i int) int {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i
	}
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		if j := digits(i + 1); j > i+1 {
			i = j
		} else {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if j := digits(i); j > i {
			i = j
		} else {
			return false
		}
	}
	return i == len(b)
}
