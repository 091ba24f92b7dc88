package chstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// bucketSQL is the start of each time bucket as Unix seconds, in UTC
// whatever the server's time zone: minutes, hours and days by arithmetic,
// weeks (from Monday), months and years from the Date functions, whose
// day numbers count from the epoch. %[1]s is the time column: ts, or the
// rollup's hour.
var bucketSQL = map[string]string{
	"minute": "toUInt64(intDiv(toUInt32(%[1]s), 60) * 60)",
	"hour":   "toUInt64(intDiv(toUInt32(%[1]s), 3600) * 3600)",
	"day":    "toUInt64(intDiv(toUInt32(%[1]s), 86400) * 86400)",
	"week":   "toUInt64(toUInt32(toMonday(%[1]s, 'UTC')) * 86400)",
	"month":  "toUInt64(toUInt32(toStartOfMonth(%[1]s, 'UTC')) * 86400)",
	"year":   "toUInt64(toUInt32(toStartOfYear(%[1]s, 'UTC')) * 86400)",
}

// functionSQL is each of Plenario's functions in ClickHouse, all of them on
// 18.16: std and var are the sample statistics Postgres' stddev and
// variance were, by Welford's method (the plain varSamp sums squares and
// gave three equal readings a variance of -2e-13, a standard deviation of
// NaN); one value has none (Inf, answered as null). The median is exact
// and takes the mean of the two middle values, as Postgres' did
// (ClickHouse's median samples).
var functionSQL = map[string]string{
	"avg": "avg(value)",
	"std": "stddevSampStable(value)",
	"var": "varSampStable(value)",
	"min": "min(value)",
	"max": "max(value)",
	"med": "(arraySort(groupArray(value))[intDiv(count() + 1, 2)] + arraySort(groupArray(value))[intDiv(count(), 2) + 1]) / 2",
}

// Aggregate answers /aggregate: q's function of each property's values in
// each time bucket, ordered by bucket and property; buckets without values
// are left out (schema.FillBuckets adds them). Its query is bounded as
// /query's are (see bounded and WithTimeLimit).
func (s *Store) Aggregate(ctx context.Context, q *schema.AggregateQuery) ([]schema.AggregateValue, error) {
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	out, err := s.aggregate(ctx, q)
	return out, limited(ctx, err)
}

// hourlyFunctions are the functions the rollup answers (see rollup.go):
// the rollup's state column, the same state of raw values (for a window's
// partial hours), and the merge that gives functionSQL's value.
// stddevSampStable is sqrt(varSampStable) in ClickHouse.
var hourlyFunctions = map[string]struct{ col, state, merge string }{
	"avg": {"avg_state", "avgState(value)", "avgMerge(s)"},
	"std": {"var_state", "varSampStableState(value)", "sqrt(varSampStableMerge(s))"},
	"var": {"var_state", "varSampStableState(value)", "varSampStableMerge(s)"},
	"min": {"min_state", "minState(value)", "minMerge(s)"},
	"max": {"max_state", "maxState(value)", "maxMerge(s)"},
}

func (s *Store) aggregate(ctx context.Context, q *schema.AggregateQuery) ([]schema.AggregateValue, error) {
	bucket, ok1 := bucketSQL[q.Unit]
	fn, ok2 := functionSQL[q.Function]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("chstore: aggregate of %q by %q", q.Function, q.Unit)
	}
	filter := "node_id = ? AND feature = ? AND property IN ?"
	fargs := []any{q.Node, q.Feature.Feature, set(q.Properties)}
	if q.Sensors != nil {
		filter += " AND sensor IN ?"
		fargs = append(fargs, set(q.Sensors))
	}
	query := "SELECT " + fmt.Sprintf(bucket, "ts") + " AS b, property, " + fn + " AS v, count() AS n FROM observations" +
		" WHERE network = ? AND ts >= toDateTime(?) AND ts < toDateTime(?) AND " + filter + " GROUP BY b, property ORDER BY b, property"
	args := append([]any{q.Network, uint32(q.Start.Unix()), uint32(q.End.Unix())}, fargs...)
	if h, ok := hourlyFunctions[q.Function]; ok && s.hourly && q.Unit != "minute" {
		if from, to := q.Start.Add(time.Hour-time.Second).Truncate(time.Hour), q.End.Truncate(time.Hour); from.Before(to) {
			query, args = hourlyQuery(q, bucket, h.col, h.state, h.merge, filter, fargs, from, to)
		}
	}
	rows, err := s.conn.Query(freshID(ctx), query, args...)
	if err != nil {
		return nil, translate(fmt.Errorf("aggregate: %w", err))
	}
	defer rows.Close()
	out := []schema.AggregateValue{}
	for rows.Next() {
		var v schema.AggregateValue
		var b uint64
		if err := rows.Scan(&b, &v.Property, &v.Value, &v.Count); err != nil {
			return nil, translate(err)
		}
		v.Bucket = time.Unix(int64(b), 0).UTC()
		out = append(out, v)
	}
	return out, translate(rows.Err())
}

// hourlyQuery is q from the rollup's whole hours [from, to), with the
// partial hours before from and after to, if any, from observations: their
// states merged with the rollup's in each bucket.
func hourlyQuery(q *schema.AggregateQuery, bucket, col, state, merge, filter string, fargs []any, from, to time.Time) (string, []any) {
	parts := "SELECT " + fmt.Sprintf(bucket, "hour") + " AS b, property, " + col + " AS s, n_state AS c FROM observations_hourly" +
		" WHERE network = ? AND hour >= toDateTime(?) AND hour < toDateTime(?) AND " + filter
	args := append([]any{q.Network, uint32(from.Unix()), uint32(to.Unix())}, fargs...)
	var edges []string
	var eargs []any
	if q.Start.Before(from) {
		edges = append(edges, "(ts >= toDateTime(?) AND ts < toDateTime(?))")
		eargs = append(eargs, uint32(q.Start.Unix()), uint32(from.Unix()))
	}
	if to.Before(q.End) {
		edges = append(edges, "(ts >= toDateTime(?) AND ts < toDateTime(?))")
		eargs = append(eargs, uint32(to.Unix()), uint32(q.End.Unix()))
	}
	if edges != nil {
		parts += " UNION ALL SELECT " + fmt.Sprintf(bucket, "ts") + " AS b, property, " + state + " AS s, countState() AS c FROM observations" +
			" WHERE network = ? AND (" + strings.Join(edges, " OR ") + ") AND " + filter + " GROUP BY b, property"
		args = append(append(append(args, q.Network), eargs...), fargs...)
	}
	return "SELECT b, property, " + merge + " AS v, countMerge(c) AS n FROM (" + parts + ") GROUP BY b, property ORDER BY b, property", args
}
