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
