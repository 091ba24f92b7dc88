package result

import (
	"time"

	"github.com/plenario-next/exportd/schema"
)

// CSVEncoder appends rows as CSV. It remembers the last timestamp it
// formatted, since consecutive rows mostly share one.
type CSVEncoder struct {
	lastTS   int64
	lastText []byte
}

// AppendRow appends r as one CSV line to b.
func (e *CSVEncoder) AppendRow(b []byte, r *schema.Row) []byte {
	b = appendCSVField(b, r.Node)
	b = append(b, ',')
	b = append(b, e.datetime(r.TS)...)
	b = append(b, ',')
	b = appendCSVField(b, r.Sensor)
	b = append(b, ',')
	b = appendCSVField(b, r.Feature)
	b = append(b, ',')
	b = appendCSVField(b, r.Property)
	b = append(b, ',')
	b = AppendValue(b, r.Value)
	return append(b, '\n')
}

func (e *CSVEncoder) datetime(t time.Time) []byte {
	if s := t.Unix(); s != e.lastTS || e.lastText == nil {
		e.lastTS = s
		e.lastText = t.UTC().AppendFormat(e.lastText[:0], schema.DatetimeLayout)
	}
	return e.lastText
}

func appendCSVField(b []byte, s string) []byte {
	if plainCSV(s) {
		return append(b, s...)
	}
	needs := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '"' || c == '\n' || c == '\r' {
			needs = true
			break
		}
	}
	if !needs {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// plainCSV reports whether s has no byte below '-', and so none of the
// bytes that make a CSV field quoted (',', '"', '\n', '\r' all are): node
// ids and the names of sensors, features and properties, eight bytes at a
// time, where the byte-by-byte test of the four was a sixth of a part's CSV.
// False is only a maybe: the exact test decides.
func plainCSV(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(s) >= 8 {
		v := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		if (v-ones*'-')&^v&highs != 0 { // a byte below '-' (exact for any byte, see "hasless")
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '-' {
			return false
		}
	}
	return true
}
