package chstore

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// InlineSQL replaces each ? of query with its argument written as a
// ClickHouse literal: the export reader sends its SELECT as text, and the
// benchmark gives the same text to clickhouse-client. It knows the types
// this package binds: strings, integers, float64 (as clickhouse-go binds
// it, cast(…, 'Float64')) and clickhouse.GroupSet of those. Anything else
// is an error, never a guess.
func InlineSQL(query string, args []any) (string, error) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c == '\'' { // copy string literals of the query untouched
			j := strings.IndexByte(query[i+1:], '\'')
			if j < 0 {
				return "", fmt.Errorf("unterminated literal in %q", query)
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
			continue
		}
		if c != '?' {
			b.WriteByte(c)
			continue
		}
		if n >= len(args) {
			return "", fmt.Errorf("more placeholders than the %d arguments", len(args))
		}
		lit, err := literal(args[n])
		if err != nil {
			return "", fmt.Errorf("argument %d: %w", n, err)
		}
		b.WriteString(lit)
		n++
	}
	if n != len(args) {
		return "", fmt.Errorf("%d placeholders for %d arguments", n, len(args))
	}
	return b.String(), nil
}

func literal(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return quote(x), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		switch {
		case math.IsNaN(x):
			return "cast('nan', 'Float64')", nil
		case math.IsInf(x, 1):
			return "cast('inf', 'Float64')", nil
		case math.IsInf(x, -1):
			return "cast('-inf', 'Float64')", nil
		}
		return "cast(" + strconv.FormatFloat(x, 'g', -1, 64) + ", 'Float64')", nil
	case clickhouse.GroupSet:
		parts := make([]string, len(x.Value))
		for i, e := range x.Value {
			s, err := literal(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "(" + strings.Join(parts, ", ") + ")", nil
	}
	return "", fmt.Errorf("no literal form for %T", v)
}

// quote writes s as a ClickHouse string literal: backslash and quote
// escaped, control bytes as \xHH.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
