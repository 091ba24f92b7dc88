package result

import "strconv"

// appendJSONString appends s as a JSON string: runs of bytes that need no
// escape in one copy each (names and times are all such bytes).
func appendJSONString[T ~[]byte | ~string](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '"' && c != '\\' && c >= 0x20 {
			continue
		}
		b = append(b, s[start:i]...)
		start = i + 1
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n': // a name's line break, as encoding/json and Python write it
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendNodeHead appends the start of an observation up to its datetime's
// string to b: {"node":…,"meta_id":…,"datetime":, Plenario's order.
func appendNodeHead(b, node []byte, metaID uint32) []byte {
	b = append(b, `{"node":`...)
	b = appendJSONString(b, node)
	b = append(b, `,"meta_id":`...)
	b = strconv.AppendUint(b, uint64(metaID), 10)
	return append(b, `,"datetime":`...)
}

// renderSF appends ,"sensor":…,"feature":…,"results":{ to b.
func renderSF[T ~[]byte | ~string](b []byte, sensor, feature T) []byte {
	b = append(b, `,"sensor":`...)
	b = appendJSONString(b, sensor)
	b = append(b, `,"feature":`...)
	b = appendJSONString(b, feature)
	return append(b, `,"results":{`...)
}
