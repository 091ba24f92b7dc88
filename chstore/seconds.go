package chstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// Span is the time [From, To), to the second as every query's window.
type Span struct{ From, To time.Time }

// SecondsKey is what the queries whose rows Seconds counts together must
// share: network, nodes, sensors, features and filter, as their WHERE
// clause says them. ok is false for a filter evaluated on observation
// groups, whose clause holds its window in a subquery.
func SecondsKey(q *schema.Query) (key string, ok bool) {
	if grouped(q) {
		return "", false
	}
	w, args := spanWhere(q, nil)
	return w + "\x00" + fmt.Sprintf("%#v", args), true
}

// Seconds counts the rows of q's selection and filter (not its window) in
// each second of spans, empty seconds left out, in order: the histograms of
// step one second (Histogram's) of every query of q's SecondsKey, in one
// query for all their windows, each read out with BucketsIn. Why: a
// ClickHouse query has a cost of its own whatever it reads: the server's
// CPU for an empty window's histogram was 1.3-1.8 ms on 18.16, for one
// query of 8 empty windows apart 3.8-4.1 ms, of 32 14-17 ms (64: 45 ms,
// so keep them fewer); a window asked for again costs nothing more, as
// spans are merged.
func (s *Store) Seconds(ctx context.Context, q *schema.Query, spans []Span) ([]Bucket, error) {
	if grouped(q) {
		return nil, errors.New("chstore: Seconds of a filter on observation groups")
	}
	w, args := spanWhere(q, mergeSpans(spans))
	rows, err := s.conn.Query(ctx, "SELECT toUInt32(ts) AS b, count() FROM observations WHERE "+w+" GROUP BY b ORDER BY b", args...)
	if err != nil {
		return nil, translate(fmt.Errorf("seconds: %w", err))
	}
	defer rows.Close()
	var out []Bucket
	for rows.Next() {
		var b uint32
		var n uint64
		if err := rows.Scan(&b, &n); err != nil {
			return nil, translate(err)
		}
		out = append(out, Bucket{From: time.Unix(int64(b), 0).UTC(), Rows: int64(n)})
	}
	return out, translate(rows.Err())
}

// BucketsIn is the buckets of Seconds' hist in [from, to): the histogram of
// step one second of the query of that window.
func BucketsIn(hist []Bucket, from, to time.Time) []Bucket {
	lo, hi := from.Unix(), to.Unix() // the query's bounds, to the second
	i := sort.Search(len(hist), func(i int) bool { return hist[i].From.Unix() >= lo })
	j := sort.Search(len(hist), func(i int) bool { return hist[i].From.Unix() >= hi })
	if i >= j {
		return nil
	}
	return slices.Clone(hist[i:j])
}

// spanWhere is where's clause for the rows of q in any of spans, for a q
// not grouped (whose filter, if any, is a condition on each row).
func spanWhere(q *schema.Query, spans []Span) (string, []any) {
	var cond strings.Builder
	targs := make([]any, 0, 2*len(spans))
	cond.WriteString("(")
	for i, s := range spans {
		if i > 0 {
			cond.WriteString(" OR ")
		}
		cond.WriteString("ts >= toDateTime(?) AND ts < toDateTime(?)")
		targs = append(targs, uint32(s.From.Unix()), uint32(s.To.Unix()))
	}
	if len(spans) == 0 {
		cond.WriteString("0")
	}
	cond.WriteString(")")
	w, args := selection(q, cond.String(), targs...)
	if q.Filter != nil {
		return filterWhere(q, time.Time{}, time.Time{}, w, args) // a row condition: no window in it
	}
	return w, args
}

// mergeSpans sorts spans and joins those that overlap or touch, to the
// second.
func mergeSpans(spans []Span) []Span {
	s := slices.Clone(spans)
	slices.SortFunc(s, func(a, b Span) int { return a.From.Compare(b.From) })
	var out []Span
	for _, x := range s {
		if x.From.Unix() >= x.To.Unix() {
			continue // no second in it
		}
		if n := len(out); n > 0 && x.From.Unix() <= out[n-1].To.Unix() {
			if x.To.After(out[n-1].To) {
				out[n-1].To = x.To
			}
			continue
		}
		out = append(out, x)
	}
	return out
}
